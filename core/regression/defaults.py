"""What a new comparison starts from: the label fields to pick from, the two latest pre-labelled models, and the
options of ``CompareRequest``."""

import fiftyone as fo

from ..store import fields, runs
from .compare import CompareRequest

COMPARED_FIELDS = ("gt_field", "baseline_field", "candidate_field")
TUNABLE = ("iou", "iou_tolerance", "confidence_tolerance", "key")
SETTINGS = COMPARED_FIELDS + TUNABLE


def label_fields(samples: fo.core.collections.SampleCollection) -> list[str]:
    """The Detections and Classification fields of ``samples``."""
    return fields.field_names(samples, (fo.Detections, fo.Classification))


def default_models(samples: fo.core.collections.SampleCollection) -> tuple[str | None, str | None]:
    """(baseline, candidate) defaults: the fields of the two latest pre-labelling runs, older one first."""
    written = [r["fields"][0] for r in runs.list_suite_runs(samples) if r["kind"] == "prelabel" and r["fields"]]
    latest = list(dict.fromkeys(written))[:2]
    return (latest[1], latest[0]) if len(latest) == 2 else (None, None)


def default_settings(samples: fo.core.collections.SampleCollection, comparison: dict | None = None) -> dict:
    """The settings a new comparison starts from: those of ``comparison``, else the ground truth, the two latest
    pre-labelling runs' fields and the defaults of ``CompareRequest``."""
    if comparison:
        return {name: comparison[name] for name in SETTINGS}
    baseline, candidate = default_models(samples)
    return {
        "gt_field": fields.GROUND_TRUTH if fields.GROUND_TRUTH in label_fields(samples) else None,
        "baseline_field": baseline,
        "candidate_field": candidate,
        **{name: getattr(CompareRequest, name) for name in TUNABLE},
    }
