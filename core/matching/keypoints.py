"""Object keypoint similarity (OKS), as ``evaluate_detections`` computes it for keypoints (and for polylines whose
category has no filled ground truth, on their vertices).

For a ground-truth object with points ``g`` and a prediction with points ``p`` (paired in order, up to the shorter):
a ground-truth point that is not finite (NaN: invisible) is skipped; a prediction point that is not finite is at
distance 1; ``scale`` is the square root of the area of the ground truth's points' extent, clipped to [0, 1];
``OKS = mean over the kept points of exp(-d^2 / (2 (scale sigma_k)^2))`` with ``sigma_k`` the per-point sigmas
(default 1), 0 when no point is kept; a similarity that is not positive is 0.
"""

import warnings

import numpy as np


def points(values) -> np.ndarray:
    """A ``(k, 2)`` float array of stored points (None values are NaN)."""
    array = np.array([[np.nan if v is None else v for v in point] for point in values or []], dtype=float)
    return array.reshape(-1, 2)


def tables(preds: list, gts: list, sigmas=None) -> list[np.ndarray]:
    """The OKS table of each pair of ``preds`` and ``gts`` (``Objects`` whose ``shapes`` are ``points`` arrays)."""
    return [similarities(p.shapes, g.shapes, sigmas) for p, g in zip(preds, gts, strict=True)]


def similarities(preds: list[np.ndarray], gts: list[np.ndarray], sigmas=None) -> np.ndarray:
    """The ``len(preds) x len(gts)`` OKS of point arrays (see the module)."""
    if not preds or not gts:
        return np.zeros((len(preds), len(gts)))
    size = max(len(a) for a in [*preds, *gts])
    pred, gt = _padded(preds, size), _padded(gts, size)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.sqrt(np.prod(np.nanmax(gt, axis=1) - np.nanmin(gt, axis=1), axis=1))
        scale = np.maximum(0.0, np.minimum(scale, 1.0))
        lengths = np.array([len(a) for a in preds])
        kept = np.isfinite(gt).all(axis=2)[None, :, :] & (np.arange(size)[None, :] < lengths[:, None])[:, None, :]
        finite = np.isfinite(pred).all(axis=2)[:, None, :]
        dists = np.where(finite, np.sqrt(((gt[None] - pred[:, None]) ** 2).sum(axis=3)), 1.0)
        sigma = 1.0 if sigmas is None else np.pad(np.asarray(sigmas, dtype=float), (0, size - len(sigmas)))
        terms = np.exp(-(dists**2) / (2 * ((scale[None, :, None] * sigma) ** 2)))
        counts = kept.sum(axis=2)
        table = np.where(kept, terms, 0.0).sum(axis=2) / np.maximum(counts, 1)
    table[counts == 0] = 0.0
    table[table <= 0] = 0.0
    return table


def _padded(arrays, size):
    padded = np.full((len(arrays), size, 2), np.nan)
    for row, array in zip(padded, arrays, strict=True):
        row[: len(array)] = array
    return padded
