"""What a new comparison starts from: the label fields to pick from, the two latest pre-labelled models, and the
options of ``CompareRequest``."""

import fiftyone as fo

from ..store import fields, runs
from .compare import KIND, CompareRequest

COMPARED_FIELDS = ("gt_field", "baseline_field", "candidate_field")
TUNABLE = ("iou", "iou_tolerance", "confidence_tolerance", "key")
SETTINGS = COMPARED_FIELDS + TUNABLE


def label_fields(samples: fo.core.collections.SampleCollection) -> list[str]:
    """The fields of ``samples`` a comparison takes: Detections, Polylines, Keypoints, Classification and
    Segmentation."""
    return fields.field_names(samples, (fo.Detections, fo.Polylines, fo.Keypoints, fo.Classification, fo.Segmentation))


def default_models(samples: fo.core.collections.SampleCollection) -> tuple[str | None, str | None]:
    """(baseline, candidate) defaults: the field of the latest pre-labelling run, and that of the latest one before
    it with another field and another model (never the same model twice; runs that name no model differ)."""
    prelabels = [r for r in runs.list_suite_runs(samples) if r["kind"] == "prelabel" and r["fields"]]
    written = [(r["fields"][0], r.get("model")) for r in prelabels]
    if not written:
        return None, None
    candidate = written[0]
    baseline = next((w for w in written if w[0] != candidate[0] and (w[1] != candidate[1] or not w[1])), None)
    return (baseline[0], candidate[0]) if baseline else (None, None)


def free_key(samples: fo.core.collections.SampleCollection) -> str:
    """The default comparison key, or ``<key>_2``, ``<key>_3``...: the first that no saved comparison uses (a
    comparison writes its fields under its key, replacing those of an earlier one with the same key)."""
    used = {r["params"].get("key") for r in runs.list_suite_runs(samples) if r["kind"] == KIND}
    keys = (CompareRequest.key if n == 1 else f"{CompareRequest.key}_{n}" for n in range(1, len(used) + 2))
    return next(key for key in keys if key not in used)


def default_settings(samples: fo.core.collections.SampleCollection, comparison: dict | None = None) -> dict:
    """The settings a new comparison starts from: those of ``comparison``, else the ground truth, the two latest
    pre-labelling runs' fields and the defaults of ``CompareRequest``; always under a key no comparison uses."""
    if comparison:
        return {**{name: comparison[name] for name in SETTINGS}, "key": free_key(samples)}
    baseline, candidate = default_models(samples)
    return {
        "gt_field": fields.GROUND_TRUTH if fields.GROUND_TRUTH in label_fields(samples) else None,
        "baseline_field": baseline,
        "candidate_field": candidate,
        **{name: getattr(CompareRequest, name) for name in TUNABLE},
        "key": free_key(samples),
    }


def replaced(samples: fo.core.collections.SampleCollection, key: str) -> str | None:
    """What comparing under ``key`` would replace, said for a person (None: nothing)."""
    saved = [r for r in runs.list_suite_runs(samples) if r["kind"] == KIND and r["params"].get("key") == key]
    if not saved:
        return None
    params = saved[0]["params"]
    return (
        f"Key '{key}' holds the comparison {params.get('candidate_field')} vs {params.get('baseline_field')} "
        f"({saved[0]['key']}): comparing under it replaces that comparison's fields ({key}, {key}_score, ...). "
        "Pick another key to keep it."
    )
