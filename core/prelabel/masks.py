"""Pre-labelling with instance masks and keypoints: the checks of the mask options (the prompt field of masks or
keypoints from boxes, polygons and their tolerance), each batch's prompt labels, the predictor that writes polygons
when asked, and the keypoint skeleton a pose model gives the dataset."""

import math
from collections.abc import Sequence
from typing import Any

import fiftyone as fo

from ..models import tasks
from ..models.polygons import PolygonPredictor
from ..models.predictor import Predictor
from ..store import fields as L

_WRITES = {tasks.MASKS_FROM_BOXES: "masks", tasks.KEYPOINTS_FROM_BOXES: "keypoints"}
"""What each prompted task writes from the prompt boxes, as its messages say it."""


def problems(samples: fo.core.collections.SampleCollection, request: Any, task: str) -> list[str]:
    """What is wrong with the mask options of ``request`` (a ``PrelabelRequest``) for ``task`` on ``samples``."""
    found = _tolerance_problems(request.tolerance)
    if request.polygons and task not in tasks.MASK_TASKS:
        found.append(
            f"Polygons are traced from instance masks, and this is a {task.replace('_', ' ')} model: choose an "
            "instance segmentation or masks-from-boxes model, or turn polygons off."
        )
    if task in tasks.PROMPTED_TASKS:
        found += _prompt_problems(samples, request, task)
    elif request.prompt_field:
        found.append(
            f"A prompt field is for masks or keypoints from boxes (a SAM or pose model), and this is a "
            f"{task.replace('_', ' ')} model: leave the prompt field empty, or choose a SAM or pose model."
        )
    return found


def _tolerance_problems(tolerance):
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance):
        return [f"Polygon tolerance {tolerance!r} is not a number: give pixels, 0 or more (typical: 1-3)."]
    if tolerance < 0:
        return [f"Polygon tolerance {tolerance} is negative: give pixels, 0 or more (typical: 1-3)."]
    return []


def _prompt_problems(samples, request, task):
    field_name, what = request.prompt_field, _WRITES[task]
    if not field_name:
        return [
            f"{what.capitalize()} from boxes need a prompt field: give the Detections field whose boxes prompt the "
            "model."
        ]
    boxes = L.field_names(samples, fo.Detections)
    choices = f"Detections fields: {', '.join(boxes) or 'none'}"
    if not samples.has_field(field_name):
        return [f"No field '{field_name}' to take the prompt boxes from ({choices})."]
    found = L.label_type(samples, field_name)
    if found is not fo.Detections:
        held = found.__name__ if found else type(samples.get_field(field_name)).__name__
        return [f"Field '{field_name}' holds {held}: the prompt field must hold Detections (boxes) ({choices})."]
    problems = []
    if field_name == request.output_field:
        problems.append(
            f"The prompt field '{field_name}' cannot be the output field: {what} are written in another field, and "
            "the prompt boxes are never changed. Give another output field."
        )
    unusable = _unusable_boxes(samples, field_name)
    if unusable:
        problems.append(
            f"{unusable} prompt boxes in '{field_name}' are not [x, y, width, height] of finite numbers with a "
            f"positive width and height: fix or delete them (e.g. filter_labels('{field_name}', ...) in the App), "
            "then run again."
        )
    if request.threshold > 0 and task == tasks.MASKS_FROM_BOXES:
        problems.append(
            "A confidence threshold does not apply to masks from boxes (every prompt box gets its mask): set it to 0."
        )
    return problems


def _unusable_boxes(samples, field_name):
    """How many boxes of ``field_name`` cannot prompt a model: a box that is not 4 finite numbers (NaN compares
    below every number in MongoDB) or has no area. Counted in the database, without reading the boxes."""
    box, value = fo.ViewField("bounding_box"), fo.ViewField()
    finite = box.filter((value > -1e308) & (value < 1e308)).length() == 4
    usable = box.is_array().if_else((box.length() == 4) & finite & (box[2] > 0) & (box[3] > 0), False)
    return samples.filter_labels(field_name, ~usable).count(f"{field_name}.detections")


def prompts(
    samples: fo.core.collections.SampleCollection, field_name: str | None, ids: Sequence[str]
) -> list[fo.Label | None] | None:
    """The prompt labels of the samples ``ids`` of ``samples`` (as its view shows them), in order; None when the
    request has no prompt field."""
    if not field_name:
        return None
    return samples.select(ids, ordered=True).values(field_name) if ids else []


def as_requested(predictor: Predictor, request: Any) -> Predictor:
    """``predictor``, writing polygons when ``request`` asks for them."""
    return PolygonPredictor(predictor, request.tolerance) if request.polygons else predictor


def set_skeleton(dataset: fo.Dataset, field_name: str, predictor: Predictor) -> bool:
    """Gives keypoint field ``field_name`` the skeleton of a pose ``predictor`` when the dataset has none for it
    (neither its own nor a default one): a skeleton the dataset has is never replaced. Returns whether it was set."""
    found = getattr(predictor, "skeleton", None)
    if found is None or field_name in dataset.skeletons or dataset.default_skeleton is not None:
        return False
    dataset.skeletons[field_name] = found
    dataset.save()
    return True
