"""The review field sent to CVAT: the ground truth, pre-populated with confident model predictions.

Ground-truth labels are copied with their ids (so corrections merge back onto them); predictions at or above the
threshold fill the gaps — a classification where the sample has none, a box where no ground-truth box overlaps it
(IoU >= ``iou``) — as new labels marked ``from_model`` with the prediction's provenance. Ground truth wins where both
exist. The field is declared, computed on raw documents and written in bulk.
"""

from bson import ObjectId

import fiftyone as fo

from .. import matching
from ..store import schema
from ..store.declared import FieldGuard
from ..store.fields import PRELABEL_RUN, PROVENANCE_ATTRIBUTE, label_type
from ..store.writes import bulk_set

SUPPORTED = (fo.Classification, fo.Detections)
FROM_MODEL, MODEL_LABEL_ID = "from_model", "model_label_id"
MODEL_MARKS = (FROM_MODEL, MODEL_LABEL_ID, PROVENANCE_ATTRIBUTE, PRELABEL_RUN)  # removed once a person reviewed it
CHUNK = 1000


def review_field_name(gt_field: str, key: str) -> str:
    """The working field of review ``key`` on ``gt_field``."""
    return f"{gt_field}_{key}"


def build(
    samples: fo.core.collections.SampleCollection,
    gt_field: str,
    review_field: str,
    *,
    pred_field: str | None = None,
    threshold: float = 0.5,
    iou: float = 0.5,
) -> dict[str, int]:
    """Writes the review field on ``samples``; returns counts of ground-truth and pre-filled labels."""
    dataset = samples._root_dataset
    label_cls = label_type(dataset, gt_field)
    with schema.changing(dataset):
        dataset.add_sample_field(review_field, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)
    counts = {"gt_labels": 0, "prefilled": 0}
    ids, guard = samples.values("_id"), FieldGuard(dataset, review_field)
    for start in range(0, len(ids), CHUNK):
        chunk_ids = ids[start : start + CHUNK]
        chunk = samples.select(chunk_ids, ordered=True)
        gts = chunk.values(gt_field, _raw=True)
        preds = chunk.values(pred_field, _raw=True) if pred_field else [None] * len(gts)
        values = [_review(label_cls, gt, pred, threshold, iou, counts) for gt, pred in zip(gts, preds, strict=True)]
        bulk_set(dataset, chunk_ids, [{review_field: value} for value in values])
        guard.check(chunk_ids)
    return counts


def _review(label_cls, gt, pred, threshold, iou, counts):
    """One sample's review value, as a raw label document."""
    if label_cls is fo.Classification:
        return _review_classification(gt, pred, threshold, counts)
    return _review_detections(gt, pred, threshold, iou, counts)


def _review_classification(gt, pred, threshold, counts):
    if gt is not None:
        counts["gt_labels"] += 1
        return gt
    if pred is None or (pred.get("confidence") or 0) < threshold:
        return None
    counts["prefilled"] += 1
    return _from_model(pred)


def _review_detections(gt, pred, threshold, iou, counts):
    kept = list(gt["detections"]) if gt else []
    counts["gt_labels"] += len(kept)
    candidates = [d for d in (pred["detections"] if pred else []) if (d.get("confidence") or 0) >= threshold]
    if kept and candidates:
        overlaps = matching.ious(_objects(candidates), _objects(kept))
        candidates = [d for d, row in zip(candidates, overlaps, strict=True) if row.max() < iou]
    counts["prefilled"] += len(candidates)
    return {"_cls": "Detections", "detections": kept + [_from_model(d) for d in candidates]}


def _from_model(label):
    return {**label, "_id": ObjectId(), FROM_MODEL: True, MODEL_LABEL_ID: str(label["_id"])}


def _objects(detections):
    return matching.Objects.of([d.get("label") for d in detections], [d["bounding_box"] for d in detections])


def is_from_model(label: fo.Label) -> bool:
    """True for a label that entered the review as a model prediction."""
    return bool(label.get_field(FROM_MODEL)) if label.has_field(FROM_MODEL) else False


def reviewed_copy(label: fo.Label) -> fo.Label:
    """``label`` as ground truth after human review: the model markers and provenance removed."""
    for name in MODEL_MARKS:
        if label.has_field(name):
            del label[name]
    return label
