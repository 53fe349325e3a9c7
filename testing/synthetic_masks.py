"""Synthetic instance masks, polylines and keypoints for model comparisons: ground truth plus a baseline and a
candidate that differ (seeded), inserted as raw sample documents (fast enough for 5,000 samples x 30 masks).

Masks: objects are ellipses in a 640x480 frame (``FRAME``), each mask the size of its box in pixels; a prediction is
its ground truth's ellipse moved and resized, some at half resolution (FiftyOne then compares them in another
frame), some non-binary (0/255 or probabilities), some covering only the middle of their box (box and mask IoUs
then disagree on the match). With
``mask_dir``, some ground-truth masks are PNG files behind ``mask_path``. Polylines: polygons (filled, closed) and
open lines, some with two shapes or crossing edges. Keypoints: 5 points per object, some NaN (invisible), with
per-point confidences.
"""

import os
from datetime import UTC, datetime

import cv2
import numpy as np
from bson import Binary, ObjectId

import fiftyone as fo
import fiftyone.core.utils as fou

from core.matching import masks
from testing import synthetic

FRAME = (480, 640)
CLASSES = ("car", "person", "dog")
MODELS = {  # miss rate, relabel rate, false positives per sample, jitter (fraction of the object's size)
    "baseline": (0.30, 0.08, 1.0, 0.15),
    "candidate": (0.15, 0.04, 0.6, 0.08),
}
LABELS = {"masks": fo.Detections, "polylines": fo.Polylines, "keypoints": fo.Keypoints}
POINTS = 5


def build(name: str, kind: str, count: int, objects: int = 5, seed: int = 0, mask_dir: str | None = None, chunk=500):
    """A dataset of ``count`` samples with ``ground_truth``, ``baseline`` and ``candidate`` fields of ``kind``
    (``masks``, ``polylines`` or ``keypoints``), about ``objects`` ground-truth objects per sample."""
    rng = np.random.default_rng(seed)
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    dataset.media_type = "image"
    for field in ("ground_truth", *MODELS):
        dataset.add_sample_field(field, fo.EmbeddedDocumentField, embedded_doc_type=LABELS[kind])
    list_field = LABELS[kind]._LABEL_LIST_FIELD
    dataset.add_sample_field(f"ground_truth.{list_field}.iscrowd", fo.BooleanField)
    make = {
        "masks": _masks,
        "polylines": _generated(_polygon, _polyline, _polyline_prediction),
        "keypoints": _generated(_skeleton, _keypoint, _keypoint_prediction),
    }[kind]
    for start in range(0, count, chunk):
        now, documents = datetime.now(UTC), []
        for i in range(start, min(start + chunk, count)):
            fields = make(rng, int(rng.integers(0, 2 * objects + 1)), mask_dir)
            raw = {role: {"_cls": LABELS[kind].__name__, list_field: found} for role, found in fields.items()}
            documents.append(synthetic.raw_sample(i, dataset._doc.id, now, raw))
        dataset._sample_collection.insert_many(documents, ordered=False)
    return dataset


def _label(cls, label, confidence=None, crowd=False, **values):
    found = {"_id": ObjectId(), "_cls": cls, "attributes": {}, "tags": [], "label": label, **values}
    if confidence is not None:
        found["confidence"] = confidence
    if crowd:
        found["iscrowd"] = True
    return found


def _models(rng, truth, make_prediction, new_geometry):
    """Each model's predictions of ``truth`` (``(label, geometry)`` pairs): missed, relabelled, jittered, plus
    false positives (``new_geometry(rng)``)."""
    found = {}
    for role, (miss, relabel, false_positives, jitter) in MODELS.items():
        predictions = []
        for label, geometry in truth:
            if rng.random() < miss:
                continue
            if rng.random() < relabel:
                label = str(rng.choice([c for c in CLASSES if c != label]))
            predictions.append(make_prediction(rng, label, geometry, jitter, float(rng.uniform(0.3, 1.0))))
        for _ in range(rng.poisson(false_positives)):
            label, confidence = str(rng.choice(CLASSES)), float(rng.uniform(0.05, 0.6))
            predictions.append(make_prediction(rng, label, new_geometry(rng), 0.0, confidence))
        found[role] = predictions
    return found


# --- masks


def _masks(rng, n, mask_dir):
    truth = [(str(rng.choice(CLASSES)), _ellipse(rng)) for _ in range(n)]
    ground_truth = []
    for k, (label, ellipse) in enumerate(truth):
        box, mask = _rendered(ellipse, 1)
        values = {"bounding_box": box}
        if mask_dir and rng.random() < 0.1:
            values["mask_path"] = os.path.join(mask_dir, f"{ObjectId()}.png")
            cv2.imwrite(values["mask_path"], mask.astype(np.uint8) * 255)
        else:
            values["mask"] = Binary(fou.serialize_numpy_array(mask))
        ground_truth.append(_label("Detection", label, crowd=rng.random() < 0.03 and k % 2 == 0, **values))
    found = _models(rng, truth, _mask_prediction, _ellipse)
    return {"ground_truth": ground_truth, **found}


def _ellipse(rng):
    """``(cx, cy, rx, ry)`` in pixels, inside the frame."""
    rx, ry = rng.uniform(8, 60, 2)
    cx, cy = rng.uniform(rx + 1, FRAME[1] - rx - 1), rng.uniform(ry + 1, FRAME[0] - ry - 1)
    return cx, cy, rx, ry


def _mask_prediction(rng, label, ellipse, jitter, confidence):
    cx, cy, rx, ry = ellipse
    moved = (
        cx + rng.normal(0, jitter * rx),
        cy + rng.normal(0, jitter * ry),
        rx * rng.uniform(0.8, 1.2),
        ry * rng.uniform(0.8, 1.2),
    )
    moved = (
        np.clip(moved[0], moved[2] + 1, FRAME[1] - moved[2] - 1),
        np.clip(moved[1], moved[3] + 1, FRAME[0] - moved[3] - 1),
        *moved[2:],
    )
    box, mask = _rendered(moved, 2 if rng.random() < 0.2 else 1, 0.6 if rng.random() < 0.2 else 1.0)
    style = rng.random()
    if style < 0.1:
        mask = mask.astype(np.uint8) * 255
    elif style < 0.2:
        mask = np.where(mask, rng.uniform(0.5, 1.0, mask.shape), 0.0)
    return _label("Detection", label, confidence, bounding_box=box, mask=Binary(fou.serialize_numpy_array(mask)))


def _rendered(ellipse, scale, inner=1.0):
    """``(normalised box, mask)`` of an ellipse: its pixel box, the mask at ``1 / scale`` of its resolution (a
    coarser mask than its box where it still fits, as FiftyOne places it); ``inner`` < 1 draws only a concentric
    ellipse that much smaller in the same box (a box IoU far above the mask IoU)."""
    cx, cy, rx, ry = ellipse
    left, top = int(np.floor(cx - rx)), int(np.floor(cy - ry))
    right, bottom = int(np.ceil(cx + rx)), int(np.ceil(cy + ry))
    height, width = FRAME
    box = [left / width, top / height, (right - left) / width, (bottom - top) / height]
    for s in (scale, 1):
        h, w = max(1, round((bottom - top) / s)), max(1, round((right - left) / s))
        ys, xs = (np.arange(h)[:, None] + 0.5) * s + top, (np.arange(w)[None, :] + 0.5) * s + left
        mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= inner**2
        try:
            masks.placed(box, mask)
            return box, mask
        except masks.BadMask:
            continue
    raise AssertionError("a full-resolution mask always fits its box")


# --- polylines


def _generated(new, to_label, predict):
    """The maker of a sample's fields of ``n`` ground-truth objects of geometry ``new(rng)``, labelled by
    ``to_label``, predicted by ``predict``."""

    def make(rng, n, mask_dir):
        truth = [(str(rng.choice(CLASSES)), new(rng)) for _ in range(n)]
        ground_truth = [to_label(label, g, crowd=rng.random() < 0.03) for label, g in truth]
        return {"ground_truth": ground_truth, **_models(rng, truth, predict, new)}

    return make


def _polygon(rng):
    """``(shapes, closed, filled)``: a polygon of 3-8 points (a few with crossing edges), sometimes two, or an
    open line."""
    filled = rng.random() < 0.7
    cx, cy, r = *rng.uniform(0.1, 0.9, 2), rng.uniform(0.03, 0.12)
    shapes = []
    for _ in range(2 if filled and rng.random() < 0.1 else 1):
        k = int(rng.integers(3, 9)) if filled else int(rng.integers(2, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, k)) if rng.random() > 0.05 else rng.uniform(0, 2 * np.pi, k)
        radii = r * rng.uniform(0.6, 1.0, k)
        shapes.append(np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1))
        cx, cy = cx + rng.uniform(-0.1, 0.1), cy + rng.uniform(-0.1, 0.1)
    return shapes, filled, filled


def _polyline(label, geometry, confidence=None, crowd=False):
    shapes, closed, filled = geometry
    points = [[[float(x), float(y)] for x, y in shape] for shape in shapes]
    return _label("Polyline", label, confidence, crowd, points=points, closed=closed, filled=filled)


def _polyline_prediction(rng, label, geometry, jitter, confidence):
    shapes, closed, filled = geometry
    size = max(float(np.ptp(np.concatenate(shapes), axis=0).max()), 0.01)
    shift = rng.normal(0, jitter * size, 2)
    moved = [s + shift + rng.normal(0, jitter * size / 3, s.shape) for s in shapes]
    return _polyline(label, (moved, closed, filled), confidence)


# --- keypoints


def _skeleton(rng):
    """``POINTS`` points in a box of 0.05-0.25, some invisible (NaN)."""
    corner, size = rng.uniform(0, 0.75, 2), rng.uniform(0.05, 0.25, 2)
    points = corner + rng.uniform(0, 1, (POINTS, 2)) * size
    points[rng.random(POINTS) < 0.15] = np.nan
    return points


def _keypoint(label, points, confidence=None, crowd=False):
    values = [[float(x), float(y)] for x, y in points]
    return _label("Keypoint", label, crowd=crowd, points=values, **({"confidence": confidence} if confidence else {}))


def _keypoint_prediction(rng, label, points, jitter, confidence):
    moved = points + rng.normal(0, 0.1 * jitter, points.shape)
    hidden = rng.random(POINTS) < 0.1
    moved[hidden] = np.nan
    moved[np.isnan(moved).any(axis=1) & ~hidden] = rng.uniform(0, 1, 2)
    confidences = np.clip(confidence + rng.normal(0, 0.1, POINTS), 0, 1)
    confidences[hidden] = np.nan
    return _keypoint(label, moved, [float(c) for c in confidences])
