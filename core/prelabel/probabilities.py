"""Per-pixel class probabilities of predicted semantic masks, saved to ``.npy`` files beside the dataset's other
LabelLoop files so that label errors can be scored from them (``core.quality.segmentation_errors``).

With ``store_logits``, a semantic segmentation predictor attaches each mask's (K, H, W) float16 probabilities
(``PIXEL_PROBABILITIES``); before the batch is written they go to ``<directory>/<sample id>.npy`` and the label keeps
only the file's path (``probabilities_path``): K x H x W values do not belong in a database document.
"""

import os

import numpy as np

import fiftyone as fo
import fiftyone.core.utils as fou

from ..models.labels import PIXEL_PROBABILITIES
from ..store.masks import PROBABILITIES_PATH


def directory(dataset: fo.Dataset, field: str) -> str:
    """Where the probabilities of ``field`` of ``dataset`` are saved: under FiftyOne's dataset directory."""
    return os.path.join(fo.config.default_dataset_dir, "labelloop-probabilities", fou.to_slug(dataset.name), field)


def saved(values: dict[str, fo.Label | None], folder: str) -> None:
    """Saves the probabilities each label of ``values`` ({sample id: label}) carries to ``folder`` and puts the
    file's path in their place."""
    for sample_id, label in values.items():
        probabilities = getattr(label, PIXEL_PROBABILITIES, None) if isinstance(label, fo.Segmentation) else None
        if probabilities is None:
            continue
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{sample_id}.npy")
        np.save(path, probabilities)
        label.clear_field(PIXEL_PROBABILITIES)
        label[PROBABILITIES_PATH] = path
