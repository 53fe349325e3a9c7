"""The CVAT shapes a review field goes as, and the labels CVAT could not take as such (checked before any task).

Classifications go as tags, boxes as rectangles, boxes with instance masks as CVAT masks (FiftyOne's label type
``instances``: every label sent then needs a mask in ``mask``), polylines as CVAT polygons (filled: label type
``polygons``) or polylines (open: ``polylines``), keypoints as CVAT points (``keypoints``), one CVAT shape per
label, and semantic masks as one CVAT mask per class (``segmentation``).

Keypoints: FiftyOne 1.22.1 cannot send a point that is NaN (a keypoint not visible): it fails with "cannot convert
float NaN to integer" after creating the task. Only the finite points are sent; and as it rounds points to whole
pixels, each point that comes back on the pixel it was sent at gets its sent value back (NaNs where they were), so
an untouched keypoint is no edit and loses neither precision nor the index of its points. A points shape a person
gave more or fewer points comes back as CVAT has it. Polylines' vertices are rounded alike (``polygons=True``
pre-labels trace pixel centres, half a pixel off the grid) and get their sent values back the same way. FiftyOne
sends one of these label types per field and silently leaves out the labels of the other, so a review holds one kind:
a field of both is sent as two reviews, each of a view filtered on ``filled`` (the labels not sent are kept as they
are).
"""

import math

import numpy as np
from packaging.version import Version

import fiftyone as fo
from fiftyone.utils.cvat import CVATShape, HasCVATPoints

from ..store.fields import label_path, label_type
from . import skeletons
from .review_field import confidence

INSTANCE_SHAPES = ("masks", "polygons")
"""How people edit instance masks in CVAT: CVAT masks (brush), or polygons drawn around each mask part."""
POLYGON_SERVER_VERSION = Version("2.2")  # FiftyOne 1.22.1 sends instance masks as polygons to servers before 2.3
POLYGON_TOLERANCE = 2  # pixels: FiftyOne's ``Detection.to_polyline`` default, which its upload uses
SHOWN = 5
_ONE_KIND = (
    "a review sends filled polygons or open polylines, not both: send a view filtered with "
    "filter_labels(field, F('filled') == True), then one with == False"
)  # problems named one by one; the rest counted


def cvat_label_type(samples: fo.core.collections.SampleCollection, fields: list[str]) -> str:
    """FiftyOne's CVAT label type for the labels of ``fields`` (one label class): ``instances`` when any
    detection has an instance mask."""
    label_cls = label_type(samples, fields[0])
    if label_cls is fo.Detections and any(_count(samples, field, "mask") for field in fields):
        return "instances"
    if label_cls is fo.Polylines and any(_count(samples, field, "filled") for field in fields):
        return "polygons"
    return _LABEL_TYPES[label_cls]


_LABEL_TYPES = {
    fo.Classification: "classification",
    fo.Detections: "detections",
    fo.Polylines: "polylines",
    fo.Keypoints: "keypoints",
    fo.Segmentation: "instances",  # reviewed as one instance mask per class (see ``segmentation``)
}


SENT = {
    "instances": lambda label: label.get("mask") is not None,
    "detections": lambda label: label.get("mask") is None,
    "polygons": lambda label: bool(label.get("filled")),
    "polylines": lambda label: not label.get("filled"),
}
"""Which raw labels FiftyOne's ``annotate()`` sends for each label type (it leaves the others out)."""


def _count(samples, field, attribute):
    """How many labels of ``field`` have ``attribute`` set (a mask; ``filled`` true)."""
    path = f"{label_path(field, label_type(samples, field))}.{attribute}"
    return samples.count(path) if attribute == "mask" else samples.count_values(path).get(True, 0)


def problems(
    samples: fo.core.collections.SampleCollection, gt_field: str, pred_field: str | None, threshold: float
) -> list[str]:
    """Why labels of ``gt_field`` (and the predictions of ``pred_field`` at or above ``threshold``) cannot go to
    CVAT as shapes, as messages naming the samples."""
    label_cls = label_type(samples, gt_field)
    if label_cls not in (fo.Detections, fo.Polylines, fo.Keypoints):
        return []
    kind = cvat_label_type(samples, [f for f in (gt_field, pred_field) if f])
    skeleton = skeletons.skeleton_of(samples, gt_field) if kind == "keypoints" else None
    check = {
        "instances": _mask_problem,
        "polygons": _polygon_problem,
        "polylines": _polyline_problem,
        "keypoints": lambda k: _keypoint_problem(k) or skeletons.points_problem(k, skeleton),
    }.get(kind)
    if check is None:
        return []
    found = [
        f"{field} on sample {sample_id}: {problem}"
        for field, sample_id, label in _labels_sent(samples, label_cls, gt_field, pred_field, threshold)
        if (problem := check(label))
    ]
    if not found:
        return []
    more = f" (and {len(found) - SHOWN} more)" if len(found) > SHOWN else ""
    return ["Some labels cannot be edited in CVAT: " + "; ".join(found[:SHOWN]) + more + ". Fix or remove them first."]


def _labels_sent(samples, label_cls, gt_field, pred_field, threshold):
    for field in filter(None, (gt_field, pred_field)):
        ids, values = samples.values(["id", label_path(field, label_cls)])
        for sample_id, labels in zip(ids, values, strict=True):
            for label in labels or []:
                if field == gt_field or confidence(label) >= threshold:
                    yield field, sample_id, label


def _mask_problem(detection: fo.Detection) -> str | None:
    name = f"'{detection.label}' ({detection.id})"
    if detection.mask is None:
        where = " only in a file (mask_path): load it into mask" if detection.mask_path else ""
        return f"{name} has no instance mask{where} (the field is edited as masks: every label needs one)"
    mask = np.asarray(detection.mask)
    if mask.ndim != 2 or 0 in mask.shape:
        return f"{name}'s mask has shape {mask.shape}, not (height, width)"
    if not mask.any():
        return f"{name}'s mask is empty (no pixel set)"
    return None


def _keypoint_problem(keypoint: fo.Keypoint) -> str | None:
    name = f"'{keypoint.label}' ({keypoint.id})"
    points = keypoint.points or []
    if not all(len(point) == 2 for point in points):
        return f"{name} has points that are not (x, y) pairs"
    if not points:
        return f"{name} has no points"
    if not any(is_finite(point) for point in points):
        return f"{name} has no visible point (every point is NaN): remove it or give it a point"
    return None


def is_finite(point: list[float]) -> bool:
    """Whether a point's coordinates are numbers (a NaN one is a keypoint not visible)."""
    return all(v is not None and math.isfinite(v) for v in point)


def finite_keypoints(keypoints: list[fo.Keypoint]) -> list[fo.Keypoint]:
    """Copies of ``keypoints`` (same ids) with only their finite points, as they go to CVAT."""
    copies = [fo.Keypoint.from_dict(k.to_dict()) for k in keypoints]
    for copy in copies:
        copy.points = [point for point in copy.points if is_finite(point)]
    return copies


def placed_keypoints(keypoints: list[fo.Keypoint]) -> list[fo.Keypoint]:
    """Copies of ``keypoints`` (same ids) with their NaN points at (0, 0), for FiftyOne to make shapes of every
    point (a skeleton's hidden elements)."""
    copies = [fo.Keypoint.from_dict(k.to_dict()) for k in keypoints]
    for copy in copies:
        copy.points = [point if is_finite(point) else (0.0, 0.0) for point in copy.points]
    return copies


def sent_points(samples: fo.core.collections.SampleCollection, field: str) -> dict[str, list]:
    """{label id: its points} of the Keypoints or Polylines review ``field`` as sent (read before the download
    replaces it)."""
    kind = label_type(samples, field)
    if kind not in (fo.Keypoints, fo.Polylines):
        return {}
    path = f"{field}.{kind._LABEL_LIST_FIELD}"
    return {label.id: label.points for label in samples.values(path, unwind=True) if label is not None}


def keep_sent_points(samples: fo.core.collections.SampleCollection, field: str, sent: dict[str, list]) -> int:
    """Gives each point of the keypoints and polylines loaded into ``field`` that came back on the pixel it was sent
    at its sent value, and the NaN points not sent their place back (see the module). Returns how many labels
    changed."""
    if not sent:
        return 0
    ids, values, widths, heights = samples.values(["id", field, "metadata.width", "metadata.height"])
    restored, changed = 0, []
    for sample_id, value, width, height in zip(ids, values, widths, heights, strict=True):
        for label in value[value._LABEL_LIST_FIELD] if value else []:
            as_sent = _as_sent if isinstance(label, fo.Keypoint) else _parts_as_sent
            points = as_sent(label.points, sent.get(label.id), (width, height))
            if points is not None:
                label.points, restored = points, restored + 1
        changed.append((sample_id, value))
    samples.select([i for i, _ in changed], ordered=True).set_values(field, [v for _, v in changed])
    return restored


def _as_sent(reviewed, original, frame_size):
    """``original``'s points with CVAT's where a person moved, placed or hid them; None when CVAT has another count
    of points (as points, only the finite ones were sent; as a skeleton, all)."""
    if original is None:
        return None
    places = [i for i, point in enumerate(original) if is_finite(point)]
    if len(reviewed) == len(original):
        places = list(range(len(original)))
    elif len(reviewed) != len(places):
        return None
    points = [list(point) for point in original]
    for place, now in zip(places, reviewed, strict=True):
        was = original[place]
        if not (is_finite(was) and is_finite(now) and _pixel(was, frame_size) == _pixel(now, frame_size)):
            points[place] = list(now)
    return points


def _parts_as_sent(reviewed, original, frame_size):
    """A polyline's ``original`` parts with CVAT's vertices where a person moved them; None when CVAT has another
    count of parts or vertices."""
    if original is None or [len(part) for part in reviewed] != [len(part) for part in original]:
        return None
    return [_as_sent(now, was, frame_size) for now, was in zip(reviewed, original, strict=True)]


def _pixel(point, frame_size):
    return HasCVATPoints._to_abs_points([point], frame_size)[0]


def _polygon_problem(polyline: fo.Polyline) -> str | None:
    if not polyline.filled:
        return f"'{polyline.label}' ({polyline.id}) is not filled while others are: {_ONE_KIND}"
    return _points_problem(polyline, 3, "polygon")


def _polyline_problem(polyline: fo.Polyline) -> str | None:
    if polyline.closed:
        return f"'{polyline.label}' ({polyline.id}) is closed but not filled: CVAT has no closed outline, fill it"
    return _points_problem(polyline, 2, "open polyline")


def _points_problem(polyline, least, kind):
    name = f"'{polyline.label}' ({polyline.id})"
    parts = polyline.points or []
    if len(parts) != 1:
        return f"{name} has {len(parts)} parts; CVAT edits one shape per label: split it into one polyline per part"
    if len(parts[0]) < least:
        return f"{name} is a {kind} of {len(parts[0])} points; CVAT needs at least {least}"
    if not all(len(point) == 2 and all(map(math.isfinite, point)) for point in parts[0]):
        return f"{name} has points that are not finite (x, y) pairs"
    return None


def fix_instance_boxes(samples: fo.core.collections.SampleCollection, field: str) -> int:
    """Gives the instance masks loaded into ``field`` their box back: FiftyOne 1.22.1 reads a CVAT mask's box one
    pixel narrower and shorter than its mask (``(xbr - xtl) / width`` for a mask ``xbr - xtl + 1`` pixels wide),
    so every load would shrink the boxes. Returns how many boxes were corrected."""
    if label_type(samples, field) is not fo.Detections:
        return 0
    ids, values, widths, heights = samples.values(["id", field, "metadata.width", "metadata.height"])
    fixed, changed = 0, []
    for sample_id, value, width, height in zip(ids, values, widths, heights, strict=True):
        masked = [d for d in (value.detections if value else []) if d.mask is not None]
        for detection in masked:
            rows, columns = np.asarray(detection.mask).shape[:2]
            detection.bounding_box = [*detection.bounding_box[:2], columns / width, rows / height]
        fixed += len(masked)
        changed.append((sample_id, value))
    if fixed:
        samples.select([sample_id for sample_id, _ in changed], ordered=True).set_values(
            field, [value for _, value in changed]
        )
    return fixed


def keep_untouched_masks(samples: fo.core.collections.SampleCollection, gt_field: str, field: str) -> int:
    """Gives the instances of ``field`` that came back from CVAT as the very polygons sent (FiftyOne redraws a mask
    from them) their ground-truth mask and box back: an untouched polygon is no edit. Returns how many."""
    if label_type(samples, field) is not fo.Detections:
        return 0
    ids, reviewed, current, widths, heights = samples.values(
        ["id", field, gt_field, "metadata.width", "metadata.height"]
    )
    kept, changed = 0, []
    for sample_id, value, gt, width, height in zip(ids, reviewed, current, widths, heights, strict=True):
        originals = {d.id: d for d in (gt.detections if gt else []) if d.mask is not None}
        reviewed_here = [d for d in (value.detections if value else []) if d.id in originals]
        untouched = [(d, originals[d.id]) for d in reviewed_here if _untouched(d, originals[d.id], (width, height))]
        for detection, original in untouched:
            detection.mask, detection.bounding_box = original.mask, original.bounding_box
        kept += len(untouched)
        changed.append((sample_id, value))
    samples.select([sample_id for sample_id, _ in changed], ordered=True).set_values(field, [v for _, v in changed])
    return kept


def _untouched(reviewed, original, frame_size):
    """Whether ``reviewed`` is what FiftyOne makes of ``original``'s polygons when they come back unchanged."""
    polyline = original.to_polyline(tolerance=POLYGON_TOLERANCE)
    sent = [HasCVATPoints._to_abs_points(part, frame_size) for part in polyline.points if len(part) >= 3]
    polyline.points = [HasCVATPoints._to_rel_points(part, frame_size) for part in sent]  # as sent: whole pixels
    redrawn = CVATShape.polyline_to_detection(polyline, frame_size)
    mask, expected = np.asarray(reviewed.mask, bool), np.asarray(redrawn.mask, bool)
    same_box = np.allclose(reviewed.bounding_box, redrawn.bounding_box, atol=1e-6)
    return same_box and mask.shape == expected.shape and np.array_equal(mask, expected)
