"""Models that take and give plain tensors (an ONNX file, a deployed model behind an inference endpoint): the
declared pre/post-processing spec, and the predictor that turns images into input tensors and outputs into labels.

A spec is a small JSON object::

    {"task": "classification", "input_size": [32, 32], "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5],
     "class_names": ["0", "1", ...], "outputs": {"logits": "logits"}, "scores": "logits"}

- ``task``: ``classification`` (output ``logits``: [N, classes]), ``detection`` (outputs ``boxes``: [N, K, 4]
  x1, y1, x2, y2 relative to the image (0..1), ``scores``: [N, K], ``labels``: [N, K] class indices) or
  ``semantic_segmentation`` (output ``logits``: [N, classes, h, w]).
- ``input_size``: [height, width] the images are resized to; the input is float32 [N, 3, height, width], RGB
  scaled to 0..1, then ``(x - mean) / std`` per channel (defaults 0 and 1). ``input_name``: the input tensor's name
  (default: the model's only input).
- ``class_names``: the name of each class index (required).
- ``outputs``: the output tensor name of each role above (default: the role's name, or the only output when the
  task has one role).
- ``scores``: ``logits`` (softmax applied here, the default) or ``probabilities`` for classification outputs.
"""

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

import fiftyone as fo

from ..exceptions import ModelError
from . import tasks
from .labels import PIXEL_PROBABILITIES, classification_label, softmax
from .predictor import Prediction

TENSOR_TASKS = (tasks.CLASSIFICATION, tasks.DETECTION, tasks.SEMANTIC_SEGMENTATION)
ROLES = {
    tasks.CLASSIFICATION: ("logits",),
    tasks.DETECTION: ("boxes", "scores", "labels"),
    tasks.SEMANTIC_SEGMENTATION: ("logits",),
}
SCORES = ("logits", "probabilities")
_KEYS = {"task", "input_size", "mean", "std", "input_name", "class_names", "outputs", "scores"}

Outputs = Mapping[str, np.ndarray]
"""A model's outputs for one batch, by output tensor name."""


@dataclass(frozen=True)
class TensorSpec:
    """What a tensor model takes and gives; see the module docstring for the JSON form."""

    task: str
    class_names: list[str]
    input_size: tuple[int, int]
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    input_name: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    scores: str = "logits"

    def output(self, role: str) -> str:
        """The output tensor name of ``role``."""
        return self.outputs.get(role, role)

    def as_dict(self) -> dict:
        """The spec as JSON-friendly values (what the run records)."""
        return {**self.__dict__, "input_size": list(self.input_size), "mean": list(self.mean), "std": list(self.std)}


def load_spec(value: "str | Mapping | None", model_path: str | None = None) -> TensorSpec:
    """The spec from a dict, a JSON string or a path to a JSON file; with none given, ``<model>.json`` beside the
    model file ``model_path``. Raises a ModelError saying what is wrong."""
    if value is None or value == "":
        if model_path is None:
            raise ModelError(f"No pre/post-processing spec given: give one ({_SPEC_HINT}).")
        sidecar = os.path.splitext(model_path)[0] + ".json"
        if not os.path.isfile(sidecar):
            raise ModelError(f"No spec for '{model_path}': write {sidecar} ({_SPEC_HINT}), or give `spec=`.")
        value = sidecar
    if isinstance(value, str):
        value = _read_json(value)
    if not isinstance(value, Mapping):
        raise ModelError(f"The spec must be a JSON object ({_SPEC_HINT}), not {type(value).__name__}.")
    return parse_spec(value)


_SPEC_HINT = "a JSON object with task, input_size [height, width], class_names, and optionally mean, std, outputs"


def _read_json(text_or_path: str):
    text = text_or_path.strip()
    if not text.startswith("{"):
        try:
            with open(os.path.expanduser(text), encoding="utf-8") as f:
                text = f.read()
        except OSError as error:
            raise ModelError(f"Cannot read the spec file '{text_or_path}': {error.strerror}.") from error
    try:
        return json.loads(text)
    except ValueError as error:
        raise ModelError(f"The spec is not valid JSON ({error}): give {_SPEC_HINT}.") from error


def parse_spec(values: Mapping) -> TensorSpec:
    """A ``TensorSpec`` from its JSON form, or a ModelError naming every problem."""
    problems = [f"unknown key '{key}'" for key in sorted(set(values) - _KEYS)]
    task = values.get("task")
    if task not in TENSOR_TASKS:
        problems.append(f"task {task!r} is not one of {', '.join(TENSOR_TASKS)}")
    names = values.get("class_names")
    if not names or not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        problems.append('class_names is missing: list the name of each class index, e.g. ["cat", "dog"]')
    size = values.get("input_size")
    if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        problems.append("input_size must be [height, width] in pixels")
    for key in ("mean", "std"):
        if key in values and not _three_numbers(values[key], positive=key == "std"):
            problems.append(f"{key} must be three numbers (R, G, B){', all above 0' if key == 'std' else ''}")
    if values.get("scores", "logits") not in SCORES:
        problems.append(f"scores must be one of {', '.join(SCORES)}")
    outputs = values.get("outputs") or {}
    if not isinstance(outputs, Mapping) or any(role not in ROLES.get(task, ()) for role in outputs):
        problems.append(f"outputs must map {', '.join(ROLES.get(task, ('the roles of the task',)))} to output names")
    if problems:
        raise ModelError(f"The model spec is invalid: {'; '.join(problems)}.")
    optional = {key: tuple(values[key]) for key in ("mean", "std") if key in values}
    return TensorSpec(
        task=task,
        class_names=list(names),
        input_size=(size[0], size[1]),
        input_name=values.get("input_name") or None,
        outputs=dict(outputs),
        scores=values.get("scores", "logits"),
        **optional,
    )


def _three_numbers(value, positive):
    numbers = isinstance(value, list) and len(value) == 3 and all(isinstance(v, (int, float)) for v in value)
    return numbers and (not positive or all(v > 0 for v in value))


def preprocess(spec: TensorSpec, images: Sequence[Image.Image]) -> np.ndarray:
    """The float32 [N, 3, height, width] input of a batch of RGB images."""
    height, width = spec.input_size
    batch = np.stack([np.asarray(image.resize((width, height), Image.BILINEAR)) for image in images])
    mean = np.asarray(spec.mean, dtype=np.float32) * 255
    scale = 1 / (np.asarray(spec.std, dtype=np.float32) * 255)
    return ((batch.astype(np.float32) - mean) * scale).transpose(0, 3, 1, 2).copy()


class TensorPredictor:
    """The suite's predictor (``predictor.Predictor``) for a model that ``infer`` runs on an input tensor.

    ``infer(batch)`` returns the outputs by name for a float32 [N, 3, H, W] batch. Every output is checked against
    ``spec`` (its shape, the class indices), so a model that does not match its spec stops with a ModelError that
    says how they differ, before its labels are written.
    """

    def __init__(
        self,
        spec: TensorSpec,
        infer: Callable[[np.ndarray], Outputs],
        *,
        threshold: float = 0.0,
        top_k: int = 1,
        store_logits: bool = False,
        name: str = "the model",
    ) -> None:
        self.spec, self.infer, self.name = spec, infer, name
        self.task, self.labels = spec.task, list(spec.class_names)
        self.threshold, self.top_k, self.store_logits = threshold, top_k, store_logits

    @property
    def label_type(self) -> type[fo.Label] | None:
        """The FiftyOne label class this predictor writes."""
        return tasks.label_class(self.task, self.top_k)

    def prepare(self, images: list[Image.Image]) -> tuple[np.ndarray, list[tuple[int, int]]]:
        """The input tensor of a batch and the image sizes (thread-safe)."""
        return preprocess(self.spec, images), [(image.height, image.width) for image in images]

    def predict(self, prepared: tuple[np.ndarray, list[tuple[int, int]]]) -> list[Prediction]:
        """One label per image of a batch made by ``prepare``."""
        batch, sizes = prepared
        outputs = self.infer(batch)
        if self.task == tasks.CLASSIFICATION:
            return self._classify(self._output(outputs, "logits", (len(sizes), len(self.labels))))
        if self.task == tasks.DETECTION:
            return self._detect(outputs, len(sizes))
        return self._segment(self._output(outputs, "logits", (len(sizes), len(self.labels), None, None)), sizes)

    def check(self) -> None:
        """Runs the model on one blank image and checks its outputs against the spec (a ModelError if they differ)."""
        self.predict(self.prepare([Image.new("RGB", self.spec.input_size[::-1])]))

    def _output(self, outputs: Outputs, role: str, shape: tuple) -> np.ndarray:
        name = self.spec.output(role)
        if name not in outputs and role not in self.spec.outputs and len(outputs) == 1 == len(ROLES[self.task]):
            name = next(iter(outputs))
        if name not in outputs:
            raise ModelError(
                f"{self.name} gave no output '{name}' (it gave {', '.join(outputs) or 'none'}): name the output of "
                f"'{role}' in the spec's outputs."
            )
        array = np.asarray(outputs[name])
        fits = array.ndim == len(shape) and all(w in (None, g) for w, g in zip(shape, array.shape, strict=True))
        if not fits:
            expected = "[" + ", ".join("*" if v is None else str(v) for v in shape) + "]"
            raise ModelError(
                f"The output '{name}' of {self.name} has shape {list(array.shape)}, but the spec ({self.task}, "
                f"{len(self.labels)} class names) expects {expected}: fix the spec's class_names or outputs, or "
                "export the model with that output layout."
            )
        return array

    def _classify(self, scores):
        scores = scores.astype(np.float32)
        probs = softmax(scores) if self.spec.scores == "logits" else scores
        options = dict(top_k=self.top_k, threshold=self.threshold, store_logits=self.store_logits)
        return [classification_label(row, p, self.labels, **options) for row, p in zip(scores, probs, strict=True)]

    def _detect(self, outputs, count):
        boxes = self._output(outputs, "boxes", (count, None, 4))
        detections = boxes.shape[1]
        scores = self._output(outputs, "scores", (count, detections))
        indices = self._output(outputs, "labels", (count, detections)).astype(np.int64)
        self._check_indices(indices[scores >= self.threshold])
        return [self._detections(*row) for row in zip(boxes, scores, indices, strict=True)]

    def _detections(self, boxes, scores, indices):
        keep = scores >= self.threshold
        found = []
        for (x1, y1, x2, y2), score, index in zip(np.clip(boxes[keep], 0, 1), scores[keep], indices[keep], strict=True):
            if x2 > x1 and y2 > y1:
                box = [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]
                found.append(fo.Detection(label=self.labels[index], bounding_box=box, confidence=float(score)))
        return fo.Detections(detections=found)

    def _segment(self, scores, sizes):
        masks = zip(scores.argmax(axis=1), sizes, strict=True)
        labels = [fo.Segmentation(mask=_resized(mask, size)) for mask, size in masks]
        if self.store_logits:
            for label, row, size in zip(labels, scores, sizes, strict=True):
                label[PIXEL_PROBABILITIES] = self._pixel_probabilities(row, size)
        return labels

    def _pixel_probabilities(self, scores, size):
        """(K, H, W) float16 class probabilities of one image's (K, h, w) scores, upsampled like its mask (nearest
        pixel), so their argmax is the mask."""
        probs = softmax(scores.astype(np.float32), axis=0) if self.spec.scores == "logits" else scores
        return probs.reshape(len(probs), -1)[:, _nearest(probs.shape[1:], size)].astype(np.float16)

    def _check_indices(self, indices):
        bad = indices[(indices < 0) | (indices >= len(self.labels))]
        if bad.size:
            raise ModelError(
                f"{self.name} output class index {int(bad[0])}, but the spec has {len(self.labels)} class_names: "
                "list the name of every class the model can output."
            )


def _resized(mask, size):
    """``mask`` (h, w) at ``size`` (H, W), as PIL's nearest-pixel resize makes it."""
    return mask.astype(np.uint8).ravel()[_nearest(mask.shape, size)]


def _nearest(shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """(H, W) flat indices into an (h, w) ``shape``: the pixel PIL's nearest resize to ``size`` takes for each."""
    indices = Image.fromarray(np.arange(shape[0] * shape[1], dtype=np.int32).reshape(shape))
    return np.asarray(indices.resize(size[::-1], Image.NEAREST))
