"""Runs one job of ``benchmarks/scale.py`` in this process: ``_child.py JOB OUT_JSON [--quick]`` writes the
figures of ``scale_jobs.<JOB>.run(quick)`` (``build``: ``scale_jobs._detections.run``, the shared dataset) to
``OUT_JSON``, with the process's peak memory as ``peak_mb`` unless the job reports its own.

``benchmarks/_setup.py`` is imported as in every benchmark, but pointed at the driver's private mongod (its URI in
``LABELLOOP_SCALE_MONGO_URI``) instead of starting one of its own, so every job sees the data the others built.
"""

import importlib
import json
import os
import sys

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [BENCHMARKS, os.path.join(os.path.dirname(BENCHMARKS), "tests")]

from harness import mongo  # noqa: E402


def _driver_mongo():
    """Stands in for ``mongo.start_for_session``: FiftyOne is pointed at the driver's mongod."""
    os.environ["FIFTYONE_DATABASE_URI"] = os.environ["LABELLOOP_SCALE_MONGO_URI"]
    os.environ["FIFTYONE_DATABASE_VALIDATION"] = "false"


mongo.start_for_session = _driver_mongo
import _setup  # noqa: E402


def main():
    job, out = sys.argv[1:3]
    module = importlib.import_module("scale_jobs._detections" if job == "build" else f"scale_jobs.{job}")
    figures = module.run("--quick" in sys.argv[3:])
    figures.setdefault("peak_mb", round(_setup.peak_rss_mb()))
    with open(out, "w") as result:
        json.dump(figures, result)


if __name__ == "__main__":
    main()
