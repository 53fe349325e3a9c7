"""Prediction-to-ground-truth matching with the rules of FiftyOne's ``evaluate_detections`` (COCO style), on arrays.

Per category (the label when ``classwise``, else one), predictions are taken by decreasing confidence (ties keep
their order, a missing confidence counts as -1); each takes the available ground truth with the highest IoU at or
above the threshold (a later one wins a tie); non-crowd objects match once, crowds (IoU = intersection / prediction
area) match many and come last. Unmatched predictions are false positives, unmatched ground truth false negatives.
A ground-truth object is a crowd when its ``iscrowd`` attribute is true, or, when it has none, its legacy
``attributes["iscrowd"]`` (``crowd_flags``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

import fiftyone as fo

CROWD = "iscrowd"


@dataclass
class Objects:
    """The objects of one field on one sample: labels, ``[x, y, w, h]`` boxes, confidences, crowd flags."""

    labels: list
    boxes: np.ndarray
    confidences: list
    crowd: list

    @classmethod
    def of(
        cls,
        labels: Sequence[str] | None,
        boxes: ArrayLike,
        confidences: Sequence[float | None] | None = None,
        crowd: Sequence[bool] | None = None,
    ) -> Self:
        """The objects from plain lists (missing confidences None; crowd flags as truth values, missing False)."""
        labels = list(labels or [])
        box_array = np.asarray(boxes, dtype=float).reshape(-1, 4) if labels else np.zeros((0, 4))
        flags = [bool(flag) for flag in crowd] if crowd else [False] * len(labels)
        return cls(labels, box_array, list(confidences or [None] * len(labels)), flags)

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence] | None, crowd: Sequence[bool] | None = None) -> tuple[list, Self]:
        """``(label ids, objects)`` of the ``[_id, label, bounding_box, confidence]`` rows that ``rows_of`` reads."""
        if not rows:
            return [], cls.of(None, None)
        ids, labels, boxes, confidences = zip(*rows, strict=True)
        flags = [bool(flag) for flag in crowd] if crowd else [False] * len(labels)
        return list(ids), cls(list(labels), np.array(boxes, dtype=float), list(confidences), flags)


def crowd_flags(list_path: str) -> fo.ViewExpression:
    """The expression of each label's crowd value in the list ``list_path`` (e.g. ``ground_truth.detections``), as
    ``evaluate_detections`` reads it: its ``iscrowd`` attribute when it has one, else ``attributes["iscrowd"]``."""
    own, legacy = fo.ViewField(CROWD), fo.ViewField(f"attributes.{CROWD}.value")
    return fo.ViewField(list_path).map((own.type() == "missing").if_else(legacy, own))


def rows_of(list_path: str) -> dict:
    """The aggregation expression of the ``[_id, label, bounding_box, confidence]`` row of each label in the list
    ``list_path`` (missing values null, no list: no rows), which ``Objects.of_rows`` reads."""
    fields = ("_id", "label", "bounding_box", "confidence")
    return {"$map": {"input": {"$ifNull": [f"${list_path}", []]}, "as": "d", "in": [f"$$d.{f}" for f in fields]}}


@dataclass
class Matches:
    """For each prediction: tp/fp, matched gt index (-1: none), IoU; for each ground truth: tp/fn, pred, IoU."""

    pred_status: list
    pred_match: np.ndarray
    pred_iou: np.ndarray
    gt_status: list
    gt_match: np.ndarray
    gt_iou: np.ndarray

    def counts(self) -> tuple[int, int, int]:
        """Per-sample (tp, fp, fn) as ``evaluate_detections`` writes them."""
        tp = sum(1 for s in self.pred_status if s == "tp")
        return tp, len(self.pred_status) - tp, sum(1 for s in self.gt_status if s == "fn")


def ious(preds: Objects, gts: Objects, crowd: bool = True) -> np.ndarray:
    """The ``len(preds) x len(gts)`` IoU matrix (crowd columns divide by the prediction's area, unless ``crowd`` is
    False: then every object counts as a box)."""
    return ious_of_pairs([preds], [gts], crowd)[0]


def ious_of_pairs(preds: Sequence[Objects], gts: Sequence[Objects], crowd: bool = True) -> list[np.ndarray]:
    """``ious`` of each pair of ``preds`` and ``gts``, computed at once on padded arrays (the same values, far fewer
    numpy calls than one ``ious`` per pair)."""
    if not preds:
        return []
    boxes_p, boxes_g = _padded([p.boxes for p in preds]), _padded([g.boxes for g in gts])
    flags = np.zeros(boxes_g.shape[:2], dtype=bool)
    for row, g in zip(flags, gts, strict=True):
        row[: len(g.crowd)] = g.crowd if crowd else False
    px, py, pw, ph = (boxes_p[:, :, i : i + 1] for i in range(4))
    gx, gy, gw, gh = (boxes_g[:, None, :, i] for i in range(4))
    w = np.minimum(px + pw, gx + gw) - np.maximum(px, gx)
    h = np.minimum(py + ph, gy + gh) - np.maximum(py, gy)
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    pred_area = pw * ph
    union = np.where(flags[:, None, :], pred_area, pred_area + gw * gh - inter)
    table = np.minimum(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), 1.0)
    return [table[k, : len(p.labels), : len(g.labels)] for k, (p, g) in enumerate(zip(preds, gts, strict=True))]


def _padded(boxes: list[np.ndarray]) -> np.ndarray:
    """The ``(n, max length, 4)`` array of ``boxes`` (each ``(length, 4)``), zero-padded."""
    padded = np.zeros((len(boxes), max(len(b) for b in boxes), 4))
    for row, b in zip(padded, boxes, strict=True):
        row[: len(b)] = b
    return padded


def match(
    preds: Objects, gts: Objects, iou_thresh: float = 0.5, classwise: bool = True, table: np.ndarray | None = None
) -> Matches:
    """Matches ``preds`` to ``gts`` (both ``Objects``) as ``evaluate_detections`` does; ``table``: their ``ious``
    when already computed."""
    iou_thresh = min(iou_thresh, 1 - 1e-10)
    rows = (ious(preds, gts) if table is None else table).tolist()
    pred_status, gt_status = ["fp"] * len(preds.labels), ["fn"] * len(gts.labels)
    pred_match, gt_match = [-1] * len(preds.labels), [-1] * len(gts.labels)
    pred_iou, gt_iou = [np.nan] * len(preds.labels), [np.nan] * len(gts.labels)
    crowds, confidences = gts.crowd, preds.confidences
    for category in _categories(preds, gts, classwise):
        order = sorted(category["preds"], key=lambda i: -(confidences[i] or -1))
        candidates = sorted(category["gts"], key=lambda j: crowds[j])
        for i in order:
            best, best_iou, row, label = -1, iou_thresh, rows[i], preds.labels[i]
            for j in candidates:
                crowd = crowds[j]
                if (gt_match[j] != -1 and not crowd) or (crowd and gts.labels[j] != label):
                    continue
                if best != -1 and not crowds[best] and crowd:
                    break
                if row[j] <= 0 or row[j] < best_iou:
                    continue
                best, best_iou = j, row[j]
            if best == -1:
                continue
            same = gts.labels[best] == label
            if gt_match[best] == -1:
                gt_status[best], gt_match[best], gt_iou[best] = ("tp" if same else "fn"), i, best_iou
            pred_status[i], pred_match[i], pred_iou[i] = ("tp" if same else "fp"), best, best_iou
    arrays = (np.array(v, dtype=t) for v, t in ((pred_match, int), (pred_iou, float), (gt_match, int), (gt_iou, float)))
    pred_match, pred_iou, gt_match, gt_iou = arrays
    return Matches(pred_status, pred_match, pred_iou, gt_status, gt_match, gt_iou)


def _categories(preds, gts, classwise):
    categories = {}
    for kind, objects in (("preds", preds), ("gts", gts)):
        for index, label in enumerate(objects.labels):
            key = label if classwise else "all"
            categories.setdefault(key, {"preds": [], "gts": []})[kind].append(index)
    return categories.values()
