"""Semantic masks (``Segmentation``) through CVAT: one CVAT mask per class, merged back pixel by pixel.

Send: a sample's mask goes as one instance mask per class it holds — FiftyOne's ``Segmentation.to_detections``
with the field's mask targets, the very CVAT shapes FiftyOne's own ``label_type="segmentation"`` uploads — in a
Detections review field. Pixels the ground truth leaves unlabelled (0) are filled from the predicted mask, as class
regions marked ``from_model``; a sample without a mask gets the prediction's regions. Pixel values the mask targets
do not name are not sent (and stay as they are).

Why not FiftyOne's segmentation download: FiftyOne 1.22.1 reads each CVAT mask of a segmentation field back as a
polygon traced at tolerance 2 and rasterises it, so an untouched mask loses and gains pixels at its borders at every
round trip (recorded ``fo_segmentation``: 77 of 3,072 pixels became background, none edited). Loaded as instance
masks, the regions come back pixel for pixel.

Merge, per pixel: R is the reviewed regions painted (kept ones first, drawn ones over them, as CVAT shows a newer
shape on top), S the regions as sent, C the current ground truth. The merged mask is R, except where C differs from
the ground truth as sent and R equals S — changed in FiftyOne since the send and left as sent in CVAT: there C is
kept (a person's newer work wins). Where both changed, the CVAT review wins. Pixels no region covers are 0. The
Segmentation keeps its id; a mask kept in a file (``mask_path``) is written to a new file beside it, so the backup
keeps the old one.
"""

import os
from collections.abc import Iterable

import numpy as np
from PIL import Image

import fiftyone as fo

SENT_SUFFIX = "_sent"
SHOWN = 5


def mask_targets(samples: fo.core.collections.SampleCollection, field: str) -> dict[int, str] | None:
    """{pixel value: class} of ``field`` (its own targets, else the dataset's default), or None (values as names)."""
    dataset = samples._root_dataset
    targets = dataset.mask_targets.get(field) or dataset.default_mask_targets or None
    return {int(value): name for value, name in targets.items() if int(value) != 0} if targets else None


def classes(samples: fo.core.collections.SampleCollection, fields: Iterable[str]) -> list[str]:
    """The class names CVAT offers for the masks of ``fields``: the mask targets, or the values the masks hold."""
    names = set()
    for field in fields:
        targets = mask_targets(samples, field)
        if targets:
            names.update(targets.values())
            continue
        for mask in _masks(samples, field):
            names.update(str(v) for v in np.unique(mask) if v != 0)
    return sorted(names)


def _masks(samples, field):
    for value in samples.values(field):
        if value is not None and (value.mask is not None or value.mask_path):
            yield value.get_mask()


def regions(gt: fo.Segmentation | None, pred: fo.Segmentation | None, targets: dict | None) -> tuple[list, list]:
    """The class regions (Detections with instance masks) of ``gt``, and of ``pred`` on the pixels ``gt`` leaves
    unlabelled."""
    gt_mask = gt.get_mask() if gt is not None else None
    found = _regions(gt_mask, targets) if gt_mask is not None else []
    if pred is None:
        return found, []
    pred_mask = np.array(pred.get_mask())
    if gt_mask is not None:
        pred_mask[gt_mask != 0] = 0
    return found, _regions(pred_mask, targets)


def _regions(mask, targets):
    return list(fo.Segmentation(mask=mask).to_detections(mask_targets=targets).detections)


def paint(labels: Iterable[fo.Detection], size: tuple[int, int], values: dict[str, int], dtype: type) -> np.ndarray:
    """A ``size`` = (height, width) mask with each region's pixels set to its class's value, in order."""
    canvas = np.zeros(size, dtype)
    for label in labels:
        if label.label in values and label.mask is not None:
            label.to_segmentation(mask=canvas, target=values[label.label])
    return canvas


def values_of(targets: dict | None, names: Iterable[str]) -> dict[str, int]:
    """{class: pixel value}: by the mask targets, or a numeric class name's own value."""
    if targets:
        return {name: value for value, name in targets.items()}
    return {name: int(name) for name in names if name.isdecimal()}


def merged_mask(current: np.ndarray | None, sent: tuple[np.ndarray, np.ndarray], reviewed: np.ndarray) -> tuple:
    """The merged mask (see the module) and how many pixels kept a change made in FiftyOne since the send;
    ``sent``: the ground truth as sent, and with the predictions sent."""
    ground_truth, everything = sent
    if current is None or current.shape != reviewed.shape:
        return reviewed, 0
    kept = (current != ground_truth) & (reviewed == everything)
    return np.where(kept, current, reviewed), int(kept.sum())


def ordered(reviewed: list[fo.Detection], sent_ids: set[str]) -> list[fo.Detection]:
    """The reviewed regions in painting order: those sent first, drawn ones on top."""
    return [d for d in reviewed if d.id in sent_ids] + [d for d in reviewed if d.id not in sent_ids]


def stored(before: fo.Segmentation | None, mask: np.ndarray, review_key: str) -> fo.Segmentation:
    """``before`` (same id, other fields kept) holding ``mask``: in a new PNG beside its file when it has one (none
    when the mask is unchanged)."""
    if before is None:
        return fo.Segmentation(mask=mask)
    label = type(before).from_dict(before.to_dict())
    previous = before.get_mask()
    if previous is not None and previous.shape == mask.shape and np.array_equal(previous, mask):
        return label
    if before.mask_path:
        root, _ = os.path.splitext(before.mask_path)
        path = f"{root}_{review_key}.png"
        Image.fromarray(mask).save(path)
        label.mask, label.mask_path = None, path
    else:
        label.mask = mask
    return label


def written_by(samples: fo.core.collections.SampleCollection, field: str, review_key: str) -> list[str]:
    """The mask files that loading review ``review_key`` wrote for the Segmentations of ``field`` on ``samples``
    (see ``stored``), to delete when the load is reverted."""
    if not isinstance(samples.get_field(field), fo.EmbeddedDocumentField):
        return []
    if not issubclass(samples.get_field(field).document_type, fo.Segmentation):
        return []
    paths = samples.values(f"{field}.mask_path")
    return [path for path in paths if path and path.endswith(f"_{review_key}.png")]


def problems(samples: fo.core.collections.SampleCollection, fields: Iterable[str]) -> list[str]:
    """Why the masks of ``fields`` cannot go to CVAT, as messages naming the samples (checked before any task)."""
    found = []
    for field in fields:
        ids, values, widths, heights, paths = samples.values(
            ["id", field, "metadata.width", "metadata.height", "filepath"]
        )
        for sample_id, value, width, height, path in zip(ids, values, widths, heights, paths, strict=True):
            problem = _problem(value, (width, height), path) if value is not None else None
            if problem:
                found.append(f"{field} on sample {sample_id}: {problem}")
    if not found:
        return []
    more = f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else ""
    return ["Some masks cannot be edited in CVAT: " + "; ".join(found[:SHOWN]) + more + ". Fix or remove them first."]


def _problem(label, size, image_path):
    if label.mask is None and not label.mask_path:
        return "the Segmentation has neither mask nor mask_path"
    if label.mask is None and not os.path.isfile(label.mask_path):
        return f"its mask_path {label.mask_path} does not exist"
    try:
        mask = np.asarray(label.get_mask())
    except Exception as error:  # an unreadable image file
        return f"its mask cannot be read ({error})"
    if mask.ndim != 2 or not (mask.dtype == bool or np.issubdtype(mask.dtype, np.integer)):
        return f"its mask has shape {mask.shape} and type {mask.dtype}, not (height, width) integers"
    width, height = size if None not in size else _image_size(image_path)
    if mask.shape != (height, width):
        return f"its mask is {mask.shape[1]}x{mask.shape[0]} pixels, the image {width}x{height}"
    return None


def _image_size(path):
    with Image.open(path) as picture:  # reads the header only
        return picture.size
