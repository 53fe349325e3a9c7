"""Instance-mask diff: our ``compare_models`` by mask IoU vs one ``evaluate_detections(use_masks=True)``.

Builds synthetic instance masks (``testing.synthetic_masks``: about 10 ground-truth instances per sample in a
640x480 frame, a baseline and a candidate, some masks at half resolution, non-binary or behind ``mask_path``) at
N samples (5,000; --quick: 500) and at N/5, times ``core.regression.compare.compare`` (masks are the default: the
ground truth has them) at both sizes and one ``evaluate_detections`` of the baseline with ``use_masks=True`` at N,
checks that both give every sample the same baseline tp/fp/fn, and reads the peak RSS that our run adds at each
size (the peak is reset after each build; flat in N when both are alike). Ends with
``RESULT masks ratio=<ours/eval> samples=.. ours_s=.. eval_s=.. peak_mb=.. peak_small_mb=.. agree=..``.
"""

import tempfile

import _setup
from _memory import reset_peak, status_mb
from diff import same_counts

from core.regression.compare import CompareRequest, compare
from testing import synthetic_masks

FIELDS = ("ground_truth", "baseline", "candidate")


def main():
    parser = _setup.parser(__doc__, "500 samples instead of 5,000")
    parser.add_argument("--samples", type=int, help="number of samples (overrides --quick)")
    args = parser.parse_args()
    count = args.samples or (500 if args.quick else 5000)
    with tempfile.TemporaryDirectory() as mask_dir:
        small_s, small_peak, _ = ours(count // 5, mask_dir)
        ours_s, peak_mb, dataset = ours(count, mask_dir)
        eval_s, _ = _setup.timed(
            lambda: dataset.evaluate_detections(
                "baseline", gt_field="ground_truth", eval_key="eval_b", use_masks=True, progress=False
            )
        )
        same = same_counts(dataset, "compare_baseline", "eval_b")
        masks = {f: dataset.count(f"{f}.detections") / count for f in FIELDS}
    ratio = ours_s / eval_s
    objects = ", ".join(f"{f} {n:.1f}" for f, n in masks.items())
    print(f"samples:                    {count} (and {count // 5})")
    print(f"masks per sample:           {objects}")
    print(f"ours (compare, masks):      {ours_s:8.2f} s  {1000 * ours_s / count:6.2f} ms/sample")
    print(f"  on {count // 5:<6} samples:         {small_s:8.2f} s")
    print(f"one evaluate_detections:    {eval_s:8.2f} s  {1000 * eval_s / count:6.2f} ms/sample (use_masks=True)")
    print(f"ratio ours / eval:          {ratio:8.3f}  (goal <= 0.1)")
    print(f"peak RSS added by ours:     {peak_mb:8.0f} MiB at {count}, {small_peak:.0f} MiB at {count // 5}")
    print(f"agree: {'yes' if same == count else 'no'} (baseline tp/fp/fn equal on {same}/{count} samples)")
    print(
        f"RESULT masks ratio={ratio:.3f} samples={count} ours_s={ours_s:.2f} eval_s={eval_s:.2f} "
        f"peak_mb={peak_mb:.0f} peak_small_mb={small_peak:.0f} agree={same == count}"
    )


def ours(count, mask_dir):
    """``(seconds, peak RSS added in MiB, dataset)`` of our comparison on ``count`` new synthetic samples."""
    build_s, dataset = _setup.timed(
        lambda: synthetic_masks.build(f"bench-masks-{count}", "masks", count, objects=10, mask_dir=mask_dir)
    )
    print(f"built {count} samples in {build_s:.1f} s")
    rss_before = status_mb("VmRSS")
    reset_peak()
    seconds, _ = _setup.timed(lambda: compare(dataset, CompareRequest(*FIELDS, key="compare"), progress=False))
    return seconds, _setup.peak_rss_mb() - rss_before, dataset


if __name__ == "__main__":
    main()
