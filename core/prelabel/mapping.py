"""What pre-labelling does to each model label: class mapping, the unknown-label policy, provenance stamps."""

from collections.abc import Collection, Iterable

import numpy as np

import fiftyone as fo

from ..models.predictor import Prediction

LABEL_LISTS = (fo.Classifications, fo.Detections, fo.Polylines, fo.Keypoints)
"""The label types that hold a list of labels, each mapped, stamped and counted on its own."""


class LabelMapper:
    """Renames model labels through ``class_map`` and applies the unknown-label policy against ``names``.

    ``names`` None means every label is known. ``dropped`` counts the labels dropped as unknown.
    """

    def __init__(self, class_map: dict[str, str] | None, policy: str, names: Collection[str] | None) -> None:
        self.class_map, self.policy, self.names = dict(class_map or {}), policy, names
        self.dropped = 0

    def name(self, label: str) -> str | None:
        """The dataset name for model label ``label``, or None when it is dropped."""
        mapped = self.class_map.get(label, label)
        if self.names is None or mapped in self.names or self.policy == "keep":
            return mapped
        if self.policy == "error":
            raise ValueError(f"The model output label '{label}', which is neither in the dataset nor mapped.")
        self.dropped += 1
        return None


def finish(prediction: Prediction, mapper: LabelMapper, provenance: dict[str, str]) -> Prediction:
    """``prediction`` with mapped names, unknown labels dropped, and ``provenance`` attributes on each label."""
    if prediction is None or isinstance(prediction, np.ndarray):
        return prediction
    if isinstance(prediction, fo.Classification):
        return _named(prediction, mapper, provenance)
    if isinstance(prediction, LABEL_LISTS):
        field = prediction._LABEL_LIST_FIELD
        kept = [_named(label, mapper, provenance) for label in prediction[field]]
        prediction[field] = [label for label in kept if label is not None]
        return prediction
    return _stamped(prediction, provenance)


def count(value: Prediction) -> int:
    """The number of labels in a written value (1 for a single label or an embedding, 0 for None)."""
    if value is None:
        return 0
    if isinstance(value, LABEL_LISTS):
        return len(value[value._LABEL_LIST_FIELD])
    return 1


def unknown_label_errors(model_labels: Iterable[str], class_map: dict[str, str], names: Collection[str]) -> list[str]:
    """The error for model labels that are neither in ``names`` nor mapped onto them (empty when none)."""
    unknown = [label for label in model_labels if class_map.get(label, label) not in names]
    if not unknown:
        return []
    return [
        f"The model outputs labels that are neither in the dataset nor mapped: {', '.join(unknown[:30])}. "
        "Map them onto dataset names, or choose 'keep' or 'drop' for unknown labels."
    ]


def _named(label, mapper, provenance):
    name = mapper.name(label.label)
    if name is None:
        return None
    label.label = name
    return _stamped(label, provenance)


def _stamped(label, provenance):
    for key, value in provenance.items():
        label[key] = value
    return label
