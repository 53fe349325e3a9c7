"""Prediction-to-ground-truth matching with the rules of FiftyOne's ``evaluate_detections`` (COCO style), on arrays.

Per category (the label when ``classwise``, else one), predictions are taken by decreasing confidence (ties keep
their order, a missing confidence counts as -1; keypoints rank by their mean confidence, ``Objects.order``); each
takes the available ground truth with the highest IoU at or above the threshold (a later one wins a tie); non-crowd
objects match once, crowds match many and come last. Unmatched predictions are false positives, unmatched ground
truth false negatives.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np
from numpy.typing import ArrayLike

from .boxes import ious


@dataclass
class Objects:
    """The objects of one field on one sample: labels, ``[x, y, w, h]`` boxes, confidences, crowd flags; for masks,
    polylines and keypoints also each object's geometry (``shapes``) and, for keypoints, the predictions' ranking
    keys (``order``, highest first; default: the confidence, missing -1)."""

    labels: list
    boxes: np.ndarray
    confidences: list
    crowd: list
    shapes: list | None = None
    order: list | None = None

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

    def subset(self, keep: Sequence[int]) -> Self:
        """The objects at indices ``keep``, as predictions (no crowds)."""
        pick = lambda values: None if values is None else [values[i] for i in keep]  # noqa: E731
        crowd = [False] * len(keep)
        shapes, order = pick(self.shapes), pick(self.order)
        return type(self)(pick(self.labels), self.boxes[keep], pick(self.confidences), crowd, shapes, order)


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


def match(
    preds: Objects, gts: Objects, iou_thresh: float = 0.5, classwise: bool = True, table: np.ndarray | None = None
) -> Matches:
    """Matches ``preds`` to ``gts`` (both ``Objects``) as ``evaluate_detections`` does; ``table``: their IoUs
    (``len(preds) x len(gts)``; NaN similarities match as FiftyOne's do), by default their boxes' ``ious``."""
    iou_thresh = min(iou_thresh, 1 - 1e-10)
    rows = (ious(preds, gts) if table is None else table).tolist()
    pred_status, gt_status = ["fp"] * len(preds.labels), ["fn"] * len(gts.labels)
    pred_match, gt_match = [-1] * len(preds.labels), [-1] * len(gts.labels)
    pred_iou, gt_iou = [np.nan] * len(preds.labels), [np.nan] * len(gts.labels)
    crowds = gts.crowd
    keys = preds.order if preds.order is not None else [c or -1 for c in preds.confidences]
    for category in _categories(preds, gts, classwise):
        order = sorted(category["preds"], key=lambda i: keys[i], reverse=True)
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


def categories(labels: Sequence, classwise: bool) -> list:
    """The matching category of each label: itself when ``classwise``, else one for all."""
    return list(labels) if classwise else ["all"] * len(labels)


def _categories(preds, gts, classwise):
    grouped = {}
    for kind, objects in (("preds", preds), ("gts", gts)):
        for index, key in enumerate(categories(objects.labels, classwise)):
            grouped.setdefault(key, {"preds": [], "gts": []})[kind].append(index)
    return grouped.values()
