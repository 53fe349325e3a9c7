"""The interface every predictor of the suite offers (transformers and zoo models alike), so pre-labelling,
embeddings and a team's own model wrapper run through one loop."""

from typing import Any, Protocol, runtime_checkable

import numpy as np
from PIL import Image

import fiftyone as fo

Prediction = fo.Label | np.ndarray | None
"""What a predictor returns per image: a label, an embedding vector, or None (nothing above the threshold)."""


@runtime_checkable
class Predictor(Protocol):
    """A loaded model for one task. ``predict(prepare(images))`` gives one ``Prediction`` per image, in order.

    ``prepare`` runs on decoding threads while the previous batch is in ``predict``, so it must be thread-safe.
    """

    task: str
    """One of ``tasks.TASKS``."""
    labels: list[str]
    """The class names the model can output (its ``id2label``, zoo classes, or the prompts); empty if unknown."""

    @property
    def label_type(self) -> type[fo.Label] | None:
        """The FiftyOne label class written (None for embeddings)."""

    def prepare(self, images: list[Image.Image]) -> Any:
        """The model inputs for a batch of RGB images."""

    def predict(self, prepared: Any) -> list[Prediction]:
        """One prediction per image of a batch made by ``prepare``. A prompted task (``tasks.PROMPTED_TASKS``)
        takes each image's prompt labels too: ``predict(prepared, prompts)``."""
