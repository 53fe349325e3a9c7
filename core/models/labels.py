"""FiftyOne labels from raw model outputs, shared by every predictor (transformers, ONNX, endpoints)."""

from collections.abc import Sequence

import numpy as np

import fiftyone as fo

PIXEL_PROBABILITIES = "probabilities"
"""A semantic mask's transient attribute: the (K, H, W) float16 per-pixel class probabilities the predictor computed
(with ``store_logits``), saved to a file before the label is written (``core.prelabel.probabilities``)."""


def softmax(logits: np.ndarray, axis: int = 1) -> np.ndarray:
    """Softmax along ``axis`` (rows of a 2-d array by default)."""
    exp = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return exp / exp.sum(axis=axis, keepdims=True)


def classification_label(
    logits: np.ndarray,
    probs: np.ndarray,
    labels: Sequence[str],
    *,
    top_k: int,
    threshold: float,
    store_logits: bool,
) -> fo.Classification | fo.Classifications | None:
    """A Classification (top_k == 1) or Classifications from one row of logits; None when below threshold."""
    order = [int(probs.argmax())] if top_k == 1 else np.argsort(-probs)[:top_k]
    top = [i for i in order if probs[i] >= threshold]
    found = [fo.Classification(label=labels[i], confidence=float(probs[i])) for i in top]
    if top_k == 1:
        if not found:
            return None
        if store_logits:
            found[0].logits = logits
        return found[0]
    return fo.Classifications(classifications=found, logits=logits if store_logits else None)


def instance_detection(mask: np.ndarray, label: str, confidence: float) -> fo.Detection | None:
    """A Detection with its box around the non-zero pixels of the full-image ``mask`` and the mask cropped to that
    box (as FiftyOne stores ``Detection.mask``); None when the mask is empty."""
    binary = np.asarray(mask) > 0
    if not binary.any():
        return None
    return fo.Detection.from_mask(binary, label=label, confidence=confidence)


def box_mask(mask: np.ndarray, box: Sequence[float]) -> np.ndarray:
    """The part of the full-image boolean ``mask`` inside the relative box ``[x, y, width, height]`` (at least one
    pixel each way), as FiftyOne's SAM integration crops it."""
    height, width = mask.shape
    x, y, w, h = box
    x1, y1 = min(int(round(x * width)), width - 1), min(int(round(y * height)), height - 1)
    x2, y2 = max(int(round((x + w) * width)), x1 + 1), max(int(round((y + h) * height)), y1 + 1)
    return np.asarray(mask[y1:y2, x1:x2], dtype=bool)
