"""CI gate: compare a candidate with a baseline on a dataset and fail the pipeline when too much broke.

    python -m core.gate --dataset NAME --baseline baseline --candidate candidate \\
        --max-broken 20 --max-ratio 0.25 --json report.json --markdown report.md

Run from the plugin directory (or with it on PYTHONPATH). Exit codes: 0 passed, 1 failed the gate, 2 bad input.
"""

import argparse
import json
import sys

from . import compare as regression
from . import report as regression_report


def main(argv: list[str] | None = None) -> int:
    """Runs the gate with the command-line arguments ``argv`` (None: the process's own); returns the exit code."""
    args = _parser().parse_args(argv)
    import fiftyone as fo

    if not fo.dataset_exists(args.dataset):
        return _bad_input(f"No dataset '{args.dataset}' in this FiftyOne database.")
    samples = fo.load_dataset(args.dataset)
    if args.tag:
        samples = samples.match_tags(args.tag)
    request = regression.CompareRequest(
        args.gt, args.baseline, args.candidate, key=args.key, iou=args.iou, classwise=not args.classless
    )
    problems = regression.check(samples, request)
    if problems:
        return _bad_input(" ".join(problems))
    regression.compare(samples, request, progress=False)
    params = regression_report.comparisons(samples)[0]
    summary = regression_report.summarize(samples, params)
    failures = regression_report.gate_failures(summary, args.max_broken, args.max_ratio, not args.overall_only)
    data = regression_report.report(summary, params, failures, regression_report.top_regressions(samples, args.key))
    _write(args, data)
    broken, fixed = regression_report.broken_fixed(summary["overall"])
    verdict = "FAILED" if failures else "PASSED"
    print(f"{verdict}: {broken} broken, {fixed} fixed on {summary['samples']} samples")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


def _write(args, data):
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2, default=str)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(regression_report.markdown(data))


def _bad_input(message):
    print(f"error: {message}", file=sys.stderr)
    return 2


def _parser():
    parser = argparse.ArgumentParser(prog="python -m core.gate", description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--gt", default="ground_truth", help="ground-truth field (default: ground_truth)")
    parser.add_argument("--baseline", required=True, help="baseline predictions field")
    parser.add_argument("--candidate", required=True, help="candidate predictions field")
    parser.add_argument("--key", default="gate", help="comparison key: field prefix of the results (default: gate)")
    parser.add_argument("--tag", help="compare only samples with this tag")
    parser.add_argument("--iou", type=float, default=regression.CompareRequest.iou)
    parser.add_argument("--classless", action="store_true", help="match objects across classes")
    parser.add_argument("--max-broken", type=int, help="fail when more objects/samples broke than this")
    parser.add_argument("--max-ratio", type=float, help="fail when broken / fixed exceeds this")
    parser.add_argument("--overall-only", action="store_true", help="apply the limits overall, not per class")
    parser.add_argument("--json", help="write the JSON report here")
    parser.add_argument("--markdown", help="write the Markdown report here")
    return parser
