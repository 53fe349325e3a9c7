"""Model comparison: our ``compare`` (the diff of ground truth, baseline and candidate) vs one ``evaluate_detections``.

Builds synthetic Detections (50,000 samples; --quick: 10,000) with ``synthetic.build_bulk``, times
``core.regression.compare.compare`` on the whole dataset and the regression panel's first paint, then one
``evaluate_detections`` of the baseline, checks that both
give every sample the same baseline tp/fp/fn, and ends with
``RESULT diff ratio=<ours/eval> samples=.. ours_s=.. eval_s=.. peak_mb=.. paint_s=.. repaint_s=.. view_paint_s=..``
(the panel's first paint, again, and on a view of half the samples). The peak RSS is reset after the build,
so ``peak_mb`` (read right after our run) is the peak of the process during our run, not the build's.
"""

import _setup
from _memory import reset_peak, status_mb

from core.regression.compare import CompareRequest, compare
from harness.operators import run_panel
from testing import synthetic

FIELDS = ("ground_truth", "baseline", "candidate")
COUNTS = ("tp", "fp", "fn")


def main():
    parser = _setup.parser(__doc__, "10,000 samples instead of 50,000")
    parser.add_argument("--samples", type=int, help="number of samples (overrides --quick)")
    args = parser.parse_args()
    count = args.samples or (10_000 if args.quick else 50_000)

    build_s, dataset = _setup.timed(lambda: synthetic.build_bulk("bench-diff", count))
    per_field = {f: dataset.count(f"{f}.detections") / count for f in FIELDS}
    build_peak, rss_before = _setup.peak_rss_mb(), status_mb("VmRSS")
    print(f"built {count} samples in {build_s:.1f} s, peak RSS {build_peak:.0f} MiB")

    reset_peak()
    request = CompareRequest(*FIELDS, key="compare")
    ours_s, _ = _setup.timed(lambda: compare(dataset, request, progress=False))
    peak_mb = _setup.peak_rss_mb()
    paint_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", dataset, "on_load"))
    repaint_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", dataset, "on_load"))
    half = dataset.skip(count // 2)  # a view: counts and metrics aggregated, not read from the run
    view_paint_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", half, "on_change_view"))
    eval_s, _ = _setup.timed(
        lambda: dataset.evaluate_detections("baseline", gt_field="ground_truth", eval_key="eval_b", progress=False)
    )
    same = same_counts(dataset, "compare_baseline", "eval_b")

    ratio = ours_s / eval_s
    objects = ", ".join(f"{f} {n:.1f}" for f, n in per_field.items())
    print(f"samples:                    {count}")
    print(f"objects per sample:         {objects}")
    print(f"ours (compare):             {ours_s:8.2f} s  {1000 * ours_s / count:6.2f} ms/sample")
    print(f"one evaluate_detections:    {eval_s:8.2f} s  {1000 * eval_s / count:6.2f} ms/sample")
    print(f"ratio ours / eval:          {ratio:8.3f}")
    print(f"regression panel on_load:   {paint_s:8.2f} s  (first paint: counts, metrics, bars, worst 15 samples)")
    print(f"  again:                    {repaint_s:8.2f} s  (the plugin loaded)")
    print(f"  on a view of half:        {view_paint_s:8.2f} s  (counts and metrics aggregated for the view)")
    print(f"RSS before ours:            {rss_before:8.0f} MiB")
    print(f"peak RSS during ours:       {peak_mb:8.0f} MiB (+{peak_mb - rss_before:.0f} MiB)")
    print(f"agree: {'yes' if same == count else 'no'} (baseline tp/fp/fn equal on {same}/{count} samples)")
    print(
        f"RESULT diff ratio={ratio:.3f} samples={count} ours_s={ours_s:.2f} eval_s={eval_s:.2f} peak_mb={peak_mb:.0f} "
        f"paint_s={paint_s:.2f} repaint_s={repaint_s:.2f} view_paint_s={view_paint_s:.2f}"
    )


def same_counts(dataset, ours, theirs):
    """On how many samples ``<ours>_tp/fp/fn`` equal ``<theirs>_tp/fp/fn``."""
    a = zip(*dataset.values([f"{ours}_{c}" for c in COUNTS]), strict=True)
    b = zip(*dataset.values([f"{theirs}_{c}" for c in COUNTS]), strict=True)
    return sum(x == y for x, y in zip(a, b, strict=True))


if __name__ == "__main__":
    main()
