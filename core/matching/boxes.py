"""IoUs of boxes, as ``evaluate_detections`` computes them (crowd columns divide by the prediction's area)."""

from collections.abc import Sequence

import numpy as np


def ious(preds, gts, crowd: bool = True) -> np.ndarray:
    """The ``len(preds) x len(gts)`` IoU matrix of two ``Objects`` (crowd columns divide by the prediction's area,
    unless ``crowd`` is False: then every object counts as a box)."""
    return ious_of_pairs([preds], [gts], crowd)[0]


def ious_of_pairs(preds: Sequence, gts: Sequence, crowd: bool = True) -> list[np.ndarray]:
    """``ious`` of each pair of ``preds`` and ``gts`` (``Objects``), computed at once on padded arrays (the same
    values, far fewer numpy calls than one ``ious`` per pair)."""
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


def touching(boxes_p: np.ndarray, boxes_g: np.ndarray) -> np.ndarray:
    """Which pairs of ``[x, y, w, h]`` boxes intersect or touch (the pairs FiftyOne's R-tree offers for an IoU)."""
    px, py, pw, ph = (boxes_p[:, None, i] for i in range(4))
    gx, gy, gw, gh = (boxes_g[None, :, i] for i in range(4))
    return (px <= gx + gw) & (gx <= px + pw) & (py <= gy + gh) & (gy <= py + ph)


def _padded(boxes: list[np.ndarray]) -> np.ndarray:
    """The ``(n, max length, 4)`` array of ``boxes`` (each ``(length, 4)``), zero-padded."""
    padded = np.zeros((len(boxes), max(len(b) for b in boxes), 4))
    for row, b in zip(padded, boxes, strict=True):
        row[: len(b)] = b
    return padded
