"""The review field sent to CVAT: the ground truth, pre-populated with confident model predictions.

Ground-truth labels are copied with their ids (so corrections merge back onto them); predictions at or above the
threshold fill the gaps — a classification where the sample has none, a box (with its instance mask, if any), a
polyline or a keypoint where no ground-truth label overlaps it (box IoU >= ``iou``; a polyline's or keypoint's box
surrounds its finite points; a keypoint's confidence is the mean of its points') — as new labels marked
``from_model`` with the prediction's provenance. Ground truth wins where both exist. A semantic mask goes as one
instance mask per class (``segmentation``), its unlabelled pixels filled from the predicted mask.
The field is declared, computed on raw documents and written in bulk.
"""

import math
from collections.abc import Callable

from bson import ObjectId

import fiftyone as fo

from .. import matching
from ..store import schema
from ..store.declared import FieldGuard
from ..store.fields import PRELABEL_RUN, PROVENANCE_ATTRIBUTE, label_type
from ..store.writes import bulk_set
from . import segmentation

SUPPORTED = (fo.Classification, fo.Detections, fo.Polylines, fo.Keypoints, fo.Segmentation)
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
    sent: Callable[[dict], bool] | None = None,
) -> dict[str, int]:
    """Writes the review field on ``samples``; returns counts of ground-truth and pre-filled labels. ``sent``: which
    raw labels of a Detections or Polylines field CVAT gets (the others stay out of the review, as they are)."""
    dataset = samples._root_dataset
    label_cls = label_type(dataset, gt_field)
    with schema.changing(dataset):
        dataset.add_sample_field(review_field, fo.EmbeddedDocumentField, embedded_doc_type=review_type(label_cls))
    counts = {"gt_labels": 0, "prefilled": 0}
    ids, guard = samples.values("_id"), FieldGuard(dataset, review_field)
    for start in range(0, len(ids), CHUNK):
        chunk_ids = ids[start : start + CHUNK]
        chunk = samples.select(chunk_ids, ordered=True)
        gts = chunk.values(gt_field, _raw=True)
        preds = chunk.values(pred_field, _raw=True) if pred_field else [None] * len(gts)
        if label_cls is fo.Segmentation:
            targets = segmentation.mask_targets(dataset, gt_field)
            values = [_review_segmentation(gt, pred, targets, counts) for gt, pred in zip(gts, preds, strict=True)]
        else:
            values = [
                _review(label_cls, gt, pred, threshold, iou, counts, sent) for gt, pred in zip(gts, preds, strict=True)
            ]
        bulk_set(dataset, chunk_ids, [{review_field: value} for value in values])
        guard.check(chunk_ids)
    return counts


def review_type(label_cls: type[fo.Label]) -> type[fo.Label]:
    """The label class of the review field of a ``label_cls`` field (a semantic mask is reviewed as Detections)."""
    return fo.Detections if label_cls is fo.Segmentation else label_cls


def confidence(label: dict | fo.Label) -> float:
    """A raw or loaded label's confidence (0 when it has none); a keypoint's: the mean over its finite points'."""
    value = label.get("confidence") if isinstance(label, dict) else label.confidence
    if isinstance(value, list):
        finite = [v for v in value if v is not None and math.isfinite(v)]
        return sum(finite) / len(finite) if finite else 0.0
    return value or 0.0


def _review(label_cls, gt, pred, threshold, iou, counts, sent):
    """One sample's review value, as a raw label document."""
    if label_cls is fo.Classification:
        return _review_classification(gt, pred, threshold, counts)
    return _review_objects(label_cls, gt, pred, threshold, iou, counts, sent or bool)


def _review_classification(gt, pred, threshold, counts):
    if gt is not None:
        counts["gt_labels"] += 1
        return gt
    if pred is None or confidence(pred) < threshold:
        return None
    counts["prefilled"] += 1
    return _from_model(pred)


def _review_segmentation(gt, pred, targets, counts):
    """A semantic mask's review value: its class regions, and the predicted ones on its unlabelled pixels."""
    gt_label, pred_label = (fo.Segmentation.from_dict(v) if v is not None else None for v in (gt, pred))
    kept, filled = segmentation.regions(gt_label, pred_label, targets)
    if gt_label is None and pred_label is None:
        return None
    counts["gt_labels"] += len(kept)
    counts["prefilled"] += len(filled)
    predicted = [_from_model({**d.to_dict(), "_id": pred["_id"]}) for d in filled]
    return {"_cls": "Detections", "detections": [d.to_dict() for d in kept] + predicted}


def _review_objects(label_cls, gt, pred, threshold, iou, counts, sent):
    """Detections or Polylines: the ground truth, plus the confident predictions whose box (a polyline's: around
    its points) overlaps no ground-truth label at ``iou``."""
    name = label_cls._LABEL_LIST_FIELD
    kept = [d for d in (gt[name] if gt else []) if sent(d)]
    counts["gt_labels"] += len(kept)
    candidates = [d for d in (pred[name] if pred else []) if confidence(d) >= threshold and sent(d)]
    if kept and candidates:
        overlaps = matching.ious(_objects(candidates), _objects(kept))
        candidates = [d for d, row in zip(candidates, overlaps, strict=True) if row.max() < iou]
    counts["prefilled"] += len(candidates)
    return {"_cls": label_cls.__name__, name: kept + [_from_model(d) for d in candidates]}


def _from_model(label):
    return {**label, "_id": ObjectId(), FROM_MODEL: True, MODEL_LABEL_ID: str(label["_id"])}


def _objects(labels):
    return matching.Objects.of([d.get("label") for d in labels], [_box(d) for d in labels])


def _box(label):
    """A raw label's ``[x, y, w, h]``: a detection's box, or the box around a polyline's or keypoint's finite points."""
    if "bounding_box" in label:
        return label["bounding_box"]
    shapes = [label["points"]] if label.get("_cls") == "Keypoint" else label["points"]
    finite = [p for shape in shapes for p in shape if all(v is not None and math.isfinite(v) for v in p)]
    points = finite or [[0.0, 0.0]]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def is_from_model(label: fo.Label) -> bool:
    """True for a label that entered the review as a model prediction."""
    return bool(label.get_field(FROM_MODEL)) if label.has_field(FROM_MODEL) else False


def reviewed_copy(label: fo.Label) -> fo.Label:
    """``label`` as ground truth after human review: the model markers and provenance removed."""
    for name in MODEL_MARKS:
        if label.has_field(name):
            del label[name]
    return label
