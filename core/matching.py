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


def crowd_flags(list_path: str) -> fo.ViewExpression:
    """The expression of each label's crowd value in the list ``list_path`` (e.g. ``ground_truth.detections``), as
    ``evaluate_detections`` reads it: its ``iscrowd`` attribute when it has one, else ``attributes["iscrowd"]``."""
    own, legacy = fo.ViewField(CROWD), fo.ViewField(f"attributes.{CROWD}.value")
    return fo.ViewField(list_path).map((own.type() == "missing").if_else(legacy, own))


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


def ious(preds: Objects, gts: Objects) -> np.ndarray:
    """The ``len(preds) x len(gts)`` IoU matrix (crowd columns divide by the prediction's area)."""
    if not len(preds.labels) or not len(gts.labels):
        return np.zeros((len(preds.labels), len(gts.labels)))
    px, py, pw, ph = (preds.boxes[:, i : i + 1] for i in range(4))
    gx, gy, gw, gh = (gts.boxes[:, i] for i in range(4))
    w = np.minimum(px + pw, gx + gw) - np.maximum(px, gx)
    h = np.minimum(py + ph, gy + gh) - np.maximum(py, gy)
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    pred_area = pw * ph
    union = np.where(np.asarray(gts.crowd, dtype=bool), pred_area, pred_area + gw * gh - inter)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(np.where(union > 0, inter / union, 0.0), 1.0)


def match(preds: Objects, gts: Objects, iou_thresh: float = 0.5, classwise: bool = True) -> Matches:
    """Matches ``preds`` to ``gts`` (both ``Objects``) as ``evaluate_detections`` does."""
    iou_thresh = min(iou_thresh, 1 - 1e-10)
    table = ious(preds, gts)
    pred_status, gt_status = ["fp"] * len(preds.labels), ["fn"] * len(gts.labels)
    pred_match, gt_match = np.full(len(preds.labels), -1), np.full(len(gts.labels), -1)
    pred_iou, gt_iou = np.full(len(preds.labels), np.nan), np.full(len(gts.labels), np.nan)
    for category in _categories(preds, gts, classwise):
        order = sorted(category["preds"], key=lambda i: -(preds.confidences[i] or -1))
        candidates = sorted(category["gts"], key=lambda j: gts.crowd[j])
        for i in order:
            best, best_iou = -1, iou_thresh
            for j in candidates:
                crowd = gts.crowd[j]
                if (gt_match[j] != -1 and not crowd) or (crowd and gts.labels[j] != preds.labels[i]):
                    continue
                if best != -1 and not gts.crowd[best] and crowd:
                    break
                if table[i, j] <= 0 or table[i, j] < best_iou:
                    continue
                best, best_iou = j, table[i, j]
            if best == -1:
                continue
            same = gts.labels[best] == preds.labels[i]
            if gt_match[best] == -1:
                gt_status[best], gt_match[best], gt_iou[best] = ("tp" if same else "fn"), i, best_iou
            pred_status[i], pred_match[i], pred_iou[i] = ("tp" if same else "fp"), best, best_iou
    return Matches(pred_status, pred_match, pred_iou, gt_status, gt_match, gt_iou)


def _categories(preds, gts, classwise):
    categories = {}
    for kind, objects in (("preds", preds), ("gts", gts)):
        for index, label in enumerate(objects.labels):
            key = label if classwise else "all"
            categories.setdefault(key, {"preds": [], "gts": []})[kind].append(index)
    return categories.values()
