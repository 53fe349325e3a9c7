"""Shared setup of the benchmarks: a private mongod (never the user's database) and offline settings.

Import this module before fiftyone.
"""

import os
import sys

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
