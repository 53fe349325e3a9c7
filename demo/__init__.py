"""The embedded demo: real data built offline, two trained local models, and the loop run through the SDK."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.join(REPO, ".demo")


def setup_environment():
    """Loads this checkout as a plugin and keeps the run offline; call before importing fiftyone."""
    os.environ.setdefault("FIFTYONE_PLUGINS_DIR", REPO)
    os.environ.setdefault("FIFTYONE_DATABASE_VALIDATION", "false")
    os.environ.setdefault("FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
