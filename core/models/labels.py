"""FiftyOne labels from raw model outputs, shared by every predictor (transformers, ONNX, endpoints)."""

from collections.abc import Sequence

import numpy as np

import fiftyone as fo


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of a 2-d array."""
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


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
