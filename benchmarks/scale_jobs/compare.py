"""compare_models (detections) on the shared dataset: time and peak memory of ``core.regression.compare``, against
one ``evaluate_detections`` of the baseline on the first ``ANCHOR`` samples (10,000; --quick: 2,000), extrapolated
linearly to the whole dataset (``eval_extrapolated_s``); ``agree``: whether both give those samples the same
baseline tp/fp/fn."""

import _setup
from _memory import reset_peak, status_mb
from diff import FIELDS, same_counts

from core.regression.compare import CompareRequest, compare
from scale_jobs import _detections

ANCHOR = {False: 10_000, True: 2_000}  # samples evaluated by evaluate_detections, by --quick
GOAL_S, GOAL_MB = 180, 1536
EVAL_KEY = "scale_eval"


def run(quick: bool) -> dict:
    dataset = _detections.dataset(quick)
    count = len(dataset)
    rss_before = status_mb("VmRSS")
    reset_peak()
    ours_s, _ = _setup.timed(lambda: compare(dataset, CompareRequest(*FIELDS, key="compare"), progress=False))
    peak_mb = _setup.peak_rss_mb()
    subset = dataset.limit(min(ANCHOR[quick], count))
    eval_s, _ = _setup.timed(
        lambda: subset.evaluate_detections("baseline", gt_field="ground_truth", eval_key=EVAL_KEY, progress=False)
    )
    agree = same_counts(subset, "compare_baseline", EVAL_KEY) == len(subset)
    dataset.delete_evaluation(EVAL_KEY)
    extrapolated = eval_s * count / len(subset)
    return {
        "size": _detections.size(quick),
        "goal": f"<= {GOAL_S} s, peak <= {GOAL_MB} MiB flat",
        "met": ours_s <= GOAL_S and peak_mb <= GOAL_MB,
        "s": round(ours_s, 1),
        "ms_per_sample": round(1000 * ours_s / count, 3),
        "peak_mb": round(peak_mb),
        "rss_before_mb": round(rss_before),
        f"eval_{len(subset)}_s": round(eval_s, 1),
        "eval_extrapolated_s": round(extrapolated),
        "ratio_vs_eval_extrapolated": round(ours_s / extrapolated, 3),
        "agree": agree,
    }
