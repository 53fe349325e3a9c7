"""compute_mistakenness (detections) on the shared dataset: time and peak memory of ``core.quality.mistakenness``
scoring the ground truth with the candidate's predictions."""

import _setup
from _memory import reset_peak, status_mb

from core.quality.mistakenness import MistakennessRequest, compute
from scale_jobs import _detections

GOAL_S = 300


def run(quick: bool) -> dict:
    dataset = _detections.dataset(quick)
    count = len(dataset)
    rss_before = status_mb("VmRSS")
    reset_peak()
    ours_s, counts = _setup.timed(lambda: compute(dataset, MistakennessRequest("candidate"), progress=False))
    peak_mb = _setup.peak_rss_mb()
    return {
        "size": _detections.size(quick),
        "goal": f"<= {GOAL_S} s, flat memory",
        "met": ours_s <= GOAL_S,
        "s": round(ours_s, 1),
        "ms_per_sample": round(1000 * ours_s / count, 3),
        "peak_mb": round(peak_mb),
        "rss_before_mb": round(rss_before),
        "possible_missing": counts["possible_missing"],
        "possible_spurious": counts["possible_spurious"],
    }
