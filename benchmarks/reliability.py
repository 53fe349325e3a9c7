"""Reliability: every bad-input and fault case of ``tests/reliability`` (wrong values and types, empty views,
missing fields, unknown models, interrupted runs, corrupt images, a killed delegated worker, people editing while
operators run), on a private mongod, measured by the same runner as the tests.

Prints one row per case (outcome, labels lost, the message the user reads), then the counts per operator, and
ends with ``RESULT reliability cases=<n> clear_errors=<n> crashes=<n> lost=<n>``.
"""

import argparse
import contextlib
import os
import re
import sys
import tempfile
import time

import _setup  # noqa: F401  (starts the private mongod before fiftyone is imported)

os.environ.setdefault("FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS", "true")  # delegated operations run by workers

from reliability import cases, runner  # noqa: E402
from reliability.resources import Resources  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the same as the full run (it takes about a minute)")
    parser.add_argument("--case", default="", help="only the cases whose name matches this regex")
    args = parser.parse_args()
    selected = [case for case in cases.all_cases() if re.search(args.case, case.name)]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="labelloop-reliability-") as root:
        with _stdout_to_stderr():  # the logs and progress bars of operators and workers; stdout: the tables
            res = Resources(root)
            try:
                outcomes = runner.run_all(selected, res, report=_progress)
            finally:
                res.close()
    print(runner.table(outcomes))
    print()
    print(runner.summary(outcomes))
    graceful = sum(o.outcome == runner.GRACEFUL for o in outcomes)
    print(f"\n{graceful} graceful outcomes; {time.perf_counter() - started:.0f} s in all")
    print(runner.result_line(outcomes))


@contextlib.contextmanager
def _stdout_to_stderr():
    """Sends this process's and its children's standard output to standard error meanwhile."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _progress(outcome):
    print(f"  {outcome.outcome:12} {outcome.seconds:5.1f} s  {outcome.name}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
