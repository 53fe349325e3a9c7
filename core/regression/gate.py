"""CI gate: compare a candidate with a baseline on a dataset and fail the pipeline when too much broke.

    python -m core.gate --dataset NAME --baseline baseline --candidate candidate \\
        --max-broken 20 --max-ratio 0.25 --json report.json --markdown report.md

Run from the plugin directory (or with it on PYTHONPATH). Exit codes: 0 passed, 1 failed the gate, 2 bad input.
Classification samples without ground truth are never counted; those wrong before and after with another label
only with ``--count-wrong-to-wrong``.
"""

import argparse
import json
import math
import os
import sys

import fiftyone as fo

from . import compare as regression
from . import report as regression_report


def main(argv: list[str] | None = None) -> int:
    """Runs the gate with the command-line arguments ``argv`` (None: the process's own); returns the exit code."""
    args = _parser().parse_args(argv)
    request = regression.CompareRequest(
        args.gt, args.baseline, args.candidate, key=args.key, iou=args.iou, classwise=not args.classless
    )
    samples = _samples(args)
    problems = _argument_problems(args) + _dataset_problems(samples, args.dataset, request)
    if problems:
        return _bad_input(problems)
    params = _comparison(samples, regression.compare(samples, request, progress=False)["run_key"])
    summary = regression_report.summarize(samples, params)
    failures = regression_report.gate_failures(
        summary, args.max_broken, args.max_ratio, not args.overall_only, args.count_wrong_to_wrong
    )
    data = regression_report.report(summary, params, failures, regression_report.top_regressions(samples, args.key))
    _write(args, data)
    broken, fixed = regression_report.broken_fixed(summary["overall"], args.count_wrong_to_wrong)
    verdict = "FAILED" if failures else "PASSED"
    print(f"{verdict}: {broken} broken, {fixed} fixed on {summary['samples']} samples{_apart(summary['overall'])}")
    for failure in failures:
        print(f"  {failure}")
    return 1 if failures else 0


def _samples(args: argparse.Namespace) -> fo.core.collections.SampleCollection | None:
    """The samples to compare (only those tagged ``--tag`` when given); None when there is no such dataset."""
    if not fo.dataset_exists(args.dataset):
        return None
    samples = fo.load_dataset(args.dataset)
    return samples.match_tags(args.tag) if args.tag else samples


def _argument_problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the limits and the report paths (the fields and IoU are ``compare.check``'s)."""
    problems = []
    if args.max_broken is not None and args.max_broken < 0:
        problems.append(f"--max-broken must be 0 or more, not {args.max_broken}.")
    if args.max_ratio is not None and not 0 <= args.max_ratio < math.inf:
        problems.append(f"--max-ratio must be a finite number of 0 or more, not {args.max_ratio}.")
    for option, path in (("--json", args.json), ("--markdown", args.markdown)):
        why = _unwritable(path) if path else None
        if why:
            problems.append(f"{option}: cannot write '{path}': {why}.")
    return problems


def _unwritable(path: str) -> str | None:
    """Why a report cannot be written to ``path``; None when it can."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        return "it is a directory"
    if not os.path.isdir(directory):
        return f"no directory '{directory}'"
    if not os.access(path if os.path.exists(path) else directory, os.W_OK):
        return "permission denied"
    return None


def _dataset_problems(
    samples: fo.core.collections.SampleCollection | None, name: str, request: regression.CompareRequest
) -> list[str]:
    """What is wrong with the dataset, its fields and the comparison options (``compare.check``)."""
    if samples is None:
        return [f"No dataset '{name}' in this FiftyOne database."]
    return regression.check(samples, request)


def _comparison(samples: fo.core.collections.SampleCollection, run_key: str) -> dict:
    """The saved comparison of run ``run_key``: the gate's own, whichever comparisons finished meanwhile."""
    return next(c for c in regression_report.comparisons(samples) if c["run_key"] == run_key)


def _apart(overall: dict) -> str:
    """The counts reported apart (wrong to another wrong, no ground truth), as a suffix of the verdict."""
    apart = [f"{overall[name]} {name}" for name in regression_report.APART if overall.get(name)]
    return f" ({', '.join(apart)})" if apart else ""


def _write(args, data):
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=2, default=str)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(regression_report.markdown(data))


def _bad_input(problems: list[str]) -> int:
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
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
    parser.add_argument(
        "--count-wrong-to-wrong",
        action="store_true",
        help="count classification samples wrong before and after (with another label) as broken",
    )
    parser.add_argument("--json", help="write the JSON report here")
    parser.add_argument("--markdown", help="write the Markdown report here")
    return parser
