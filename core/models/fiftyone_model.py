"""Any FiftyOne model (``fiftyone.core.models.Model``): an object passed to the SDK call (e.g. a ``TorchImageModel``
wrapping a team's torch module, or what FiftyOne's integrations build), or a model config a worker can rebuild
(``{"type": "fiftyone.utils.torch.TorchImageModel", "config": {...}}``, loaded with ``fom.load_model``).

An object cannot travel to a delegated worker, so the SDK registers it here for the call and passes its handle;
``delegation_refusal`` says what to pass instead.
"""

import hashlib
import json
import threading
import uuid
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

import fiftyone as fo
import fiftyone.core.models as fom

from ..exceptions import ModelError
from . import tasks
from .predictor import Prediction
from .torch_compat import ensure_torchvision

HANDLE_PREFIX = "object:"
_objects: dict[str, fom.Model] = {}
_lock = threading.Lock()
_LABEL_TASKS = (
    (fo.Classification, tasks.CLASSIFICATION),
    (fo.Classifications, tasks.CLASSIFICATION),
    (fo.Detections, tasks.DETECTION),
    (fo.Segmentation, tasks.SEMANTIC_SEGMENTATION),
)
_CONFIG_EXAMPLE = (
    '{"type": "fiftyone.utils.torch.TorchImageModel", "config": {"entrypoint_fcn": "yourpackage.build_model", '
    '"entrypoint_args": {"checkpoint": "/models/model.pt"}, "classes": [...], "output_processor_cls": '
    '"fiftyone.utils.torch.ClassifierOutputProcessor", "image_size": [224, 224]}}'
)


def register(model: fom.Model) -> str:
    """A handle for ``model`` that the SDK call passes as the model name (release it when the call returns)."""
    check_model(model)
    handle = f"{HANDLE_PREFIX}{type(model).__module__}.{type(model).__qualname__}#{uuid.uuid4().hex[:12]}"
    with _lock:
        _objects[handle] = model
    return handle


def release(handle: str) -> None:
    """Forgets the model registered as ``handle``."""
    with _lock:
        _objects.pop(handle, None)


def is_handle(name: str) -> bool:
    """Whether ``name`` is a registered model object's handle."""
    return name.startswith(HANDLE_PREFIX)


def not_a_model(model) -> str:
    """What to do with an object that is not a FiftyOne model."""
    return (
        f"A {type(model).__name__} is not a FiftyOne model: wrap it (a torch module in "
        "fiftyone.utils.torch.TorchImageModel), export it to ONNX, or give a hub id, zoo name or endpoint instead."
    )


def check_model(model) -> None:
    """Raises a ModelError when ``model`` is not a FiftyOne image model."""
    if not isinstance(model, fom.Model):
        raise ModelError(not_a_model(model))
    if model.media_type != "image":
        raise ModelError(f"The model works on {model.media_type}s: LabelLoop pre-labels images.")


def delegation_refusal(model: fom.Model) -> str:
    """Why ``model`` cannot be delegated, and the picklable route: its config when it has one that rebuilds it."""
    config = _config_dict(model)
    route = (
        f"pass its config instead (model_source='fiftyone', model={json.dumps(config)})"
        if config and _rebuildable(config)
        else f"pass a model config a worker can rebuild instead (model_source='fiftyone', model={_CONFIG_EXAMPLE})"
    )
    return (
        f"A {type(model).__name__} object cannot be delegated: a delegated worker runs in another process and must "
        f"build the model itself. Run it here (delegate=False, no num_shards), {route}, or export it to ONNX "
        "(model_source='onnx')."
    )


def model_for(name: str) -> fom.Model:
    """The model a handle or a config (a JSON string) names, loaded when it is a config."""
    if is_handle(name):
        with _lock:
            model = _objects.get(name)
        if model is None:
            raise ModelError(
                "The model object is no longer registered (it exists only during the SDK call that passed it): "
                "pass the object to the call again, or a model config."
            )
        return model
    config = parse_config(name)
    ensure_torchvision()  # FiftyOne's torch models import torchvision
    try:
        model = fom.load_model(config)
    except Exception as error:
        raise ModelError(f"FiftyOne cannot build the model from its config ({error}): fix the config.") from error
    check_model(model)
    return model


def parse_config(name: str | Mapping) -> dict:
    """A FiftyOne model config dict from a dict or its JSON, or a ModelError."""
    try:
        config = json.loads(name) if isinstance(name, str) else dict(name)
    except ValueError as error:
        raise ModelError(f"The FiftyOne model config is not valid JSON ({error}): give {_CONFIG_EXAMPLE}.") from error
    if not isinstance(config, dict) or not isinstance(config.get("type"), str) or "config" not in config:
        raise ModelError(f"A FiftyOne model config has a 'type' (the model class) and a 'config': {_CONFIG_EXAMPLE}.")
    return config


def identity(name: str) -> str:
    """The model's identity: its class and a hash of its config (an object's own config when it has one)."""
    if is_handle(name):
        model = model_for(name)
        config = _config_dict(model) or {"type": name.split("#")[0][len(HANDLE_PREFIX) :]}
    else:
        config = parse_config(name)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"fiftyone:{config['type']}@{digest}"


def task_of(model: fom.Model, task: str | None) -> str:
    """The task ``model`` runs: what its prediction on a blank image is, checked against ``task`` when given."""
    try:
        label = model.predict(np.zeros((64, 64, 3), dtype=np.uint8))
    except Exception as error:  # whatever the model's own code raises: say where it failed
        raise ModelError(
            f"The {type(model).__name__} fails on a blank 64x64 image ({type(error).__name__}: {error}): check that "
            "its classes list every class it outputs and that its output processor fits its outputs."
        ) from error
    found = next((t for cls, t in _LABEL_TASKS if isinstance(label, cls)), None)
    if found is None:
        raise ModelError(
            f"The model returns {type(label).__name__} labels: LabelLoop pre-labels with classifications, "
            "detections or segmentations."
        )
    if task is not None and task != found:
        raise ModelError(
            f"The model is a {found.replace('_', ' ')} model, not {task.replace('_', ' ')}: choose '{found}'."
        )
    return found


def _config_dict(model):
    config = getattr(model, "config", None)
    try:
        return {"type": f"{type(model).__module__}.{type(model).__qualname__}", "config": config.serialize()}
    except Exception:  # no config, or one holding objects (a function, a module) that do not serialize
        return None


def _rebuildable(config):
    return all(not callable(v) and "<" not in str(v) for v in config["config"].values())


class FiftyOneModelPredictor:
    """Runs a FiftyOne model on batches of PIL images; ``predict`` returns one label (or embedding) per image."""

    def __init__(
        self, model: fom.Model, task: str, threshold: float = 0.0, store_logits: bool = False, labels: Sequence = ()
    ) -> None:
        self.model, self.task, self.top_k, self.threshold = model, task, 1, threshold
        if store_logits and getattr(self.model, "has_logits", False):
            self.model.store_logits = True
        self.labels = list(getattr(self.model, "classes", None) or labels or [])

    @property
    def label_type(self) -> type[fo.Label] | None:
        """The FiftyOne label class this predictor writes (None for embeddings)."""
        return tasks.label_class(self.task)

    def prepare(self, images: list[Image.Image]) -> list[np.ndarray]:
        """The images as uint8 HWC arrays, as FiftyOne models take them."""
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
