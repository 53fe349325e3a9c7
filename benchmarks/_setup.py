"""Shared setup of the benchmarks: a private mongod (never the user's database) and offline settings.

Import this module before fiftyone.
"""

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]

from harness import mongo  # noqa: E402

os.environ.setdefault("FIFTYONE_PLUGINS_DIR", REPO)
os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
MONGO = mongo.start_for_session()


def peak_rss_mb():
    """Peak resident memory of this process so far, in MiB."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parser(description, quick_help):
    """The command line of a benchmark: ``--quick`` (``quick_help`` says what it does) plus what the caller adds."""
    arguments = argparse.ArgumentParser(description=description)
    arguments.add_argument("--quick", action="store_true", help=quick_help)
    return arguments


def timed(fn):
    """How many seconds ``fn()`` takes, and what it returns."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result
