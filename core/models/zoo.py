"""Batched inference with a FiftyOne Model Zoo model (built-in or from a registered remote source)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..exceptions import ModelError
from . import source as M
from . import tasks
from .fiftyone_model import FiftyOneModelPredictor
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


class ZooPredictor(FiftyOneModelPredictor):
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
        kwargs = dict(source.zoo_kwargs)
        if prompts:
            kwargs["classes"] = list(prompts)
        try:
            model = foz.load_zoo_model(source.name, **kwargs)
        except Exception as error:
            raise ModelError(
                f"Could not load zoo model '{source.name}': {error}. Zoo weights download on first use; offline, "
                "download them where the network is reachable, or give a local transformers directory instead."
            ) from error
        super().__init__(model, task or zoo_task(entry), threshold, store_logits, prompts or ())
