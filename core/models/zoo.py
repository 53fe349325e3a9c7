"""Batched inference with a FiftyOne Model Zoo model, with the same interface as ``HFPredictor``."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

import fiftyone as fo

from ..exceptions import ModelError
from . import source as M
from . import tasks
from .predictor import Prediction
from .torch_compat import ensure_torchvision

if TYPE_CHECKING:
    from fiftyone.zoo.models import ZooModel

_TAG_TASKS = (
    ("zero-shot", tasks.ZERO_SHOT_CLASSIFICATION),
    ("detection", tasks.DETECTION),
    ("segmentation", tasks.SEMANTIC_SEGMENTATION),
    ("classification", tasks.CLASSIFICATION),
    ("embeddings", tasks.EMBEDDING),
)


def zoo_task(entry: "ZooModel") -> str:
    """The task of a zoo entry, from its tags."""
    tags = set(entry.tags or ())
    for tag, task in _TAG_TASKS:
        if tag in tags:
            return task
    raise ModelError(f"Zoo model '{entry.name}' has no task LabelLoop can run (tags: {', '.join(sorted(tags))}).")


class ZooPredictor:
    """Runs a zoo model on batches of PIL images; ``predict`` returns one label (or embedding) per image."""

    def __init__(
        self,
        source: M.ModelSource,
        task: str | None = None,
        threshold: float = 0.0,
        store_logits: bool = False,
        prompts: Sequence[str] | None = None,
    ) -> None:
        ensure_torchvision()
        import fiftyone.zoo as foz

        entry = M.zoo_entry(source.name)
        self.task = task or zoo_task(entry)
        self.top_k, self.threshold = 1, threshold
        kwargs = dict(source.zoo_kwargs)
        if prompts:
            kwargs["classes"] = list(prompts)
        try:
            self.model = foz.load_zoo_model(source.name, **kwargs)
        except Exception as error:
            raise ModelError(
                f"Could not load zoo model '{source.name}': {error}. Zoo weights download on first use; offline, "
                "download them where the network is reachable, or give a local transformers directory instead."
            ) from error
        if store_logits and getattr(self.model, "has_logits", False):
            self.model.store_logits = True
        self.labels = list(getattr(self.model, "classes", None) or prompts or [])

    @property
    def label_type(self) -> type[fo.Label] | None:
        """The FiftyOne label class this predictor writes (None for embeddings)."""
        return tasks.label_class(self.task)

    def prepare(self, images: list[Image.Image]) -> list[np.ndarray]:
        """The images as uint8 HWC arrays, as zoo models take them."""
        return [np.asarray(image) for image in images]

    def predict(self, arrays: list[np.ndarray]) -> list[Prediction]:
        """One label (or embedding) per array of a batch made by ``prepare``."""
        if self.task == tasks.EMBEDDING:
            return list(self.model.embed_all(arrays))
        if self.model.ragged_batches and len({a.shape for a in arrays}) > 1:
            labels = [self.model.predict(a) for a in arrays]
        else:
            labels = self.model.predict_all(arrays)
        return [self._threshold(label) for label in labels]

    def _threshold(self, label):
        if isinstance(label, fo.Classification):
            return label if (label.confidence or 0) >= self.threshold else None
        if isinstance(label, fo.Detections):
            label.detections = [d for d in label.detections if (d.confidence or 0) >= self.threshold]
        return label
