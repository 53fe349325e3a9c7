"""Keypoints from boxes: a pose model (transformers ``VitPoseForPoseEstimation``) prompted by the boxes of an existing
Detections field (typically people). Each prompt box gets exactly one ``Keypoint``, labelled as the box, with one
point per keypoint of the model (relative to the image, clipped to it) and its confidence (the peak of its heatmap,
clipped to [0, 1]); a point whose confidence is below the threshold is ``[nan, nan]``, as FiftyOne marks a point that
is not visible. The keypoint keeps the provenance of the box's writer and the box's id (``sam.prompt_provenance``);
pre-labelling then stamps the pose model's own provenance on it."""

import math
from typing import Any

from PIL import Image

import fiftyone as fo

from .predictor import Prediction
from .sam import prompt_provenance


def keypoints_from_boxes(
    model: Any, processor: Any, images: list[Image.Image], prompts: list[fo.Detections | None], threshold: float
) -> list[Prediction]:
    """One Keypoints per image of a batch: a keypoint per box of the image's prompt ``Detections``, None where the
    image has no prompt value."""
    found: list[Prediction] = [None if prompt is None else fo.Keypoints() for prompt in prompts]
    boxed = [
        (i, list(prompt.detections)) for i, prompt in enumerate(prompts) if prompt is not None and prompt.detections
    ]
    if not boxed:
        return found
    sizes = [(images[i].width, images[i].height) for i, _ in boxed]
    boxes = [
        [_pixel_box(box.bounding_box, size) for box in detections]
        for (_, detections), size in zip(boxed, sizes, strict=True)
    ]
    inputs = processor([images[i] for i, _ in boxed], boxes=boxes, return_tensors="pt").to(model.device)
    results = processor.post_process_pose_estimation(model(**inputs), boxes=boxes)
    for (i, detections), poses, size in zip(boxed, results, sizes, strict=True):
        keypoints = [_keypoint(box, pose, size, threshold) for box, pose in zip(detections, poses, strict=True)]
        found[i] = fo.Keypoints(keypoints=keypoints)
    return found


def skeleton(config: Any) -> fo.KeypointSkeleton | None:
    """The keypoint skeleton of a pose model's config: its keypoint names (``id2label``) and ``edges`` (ViTPose
    checkpoints carry both); None when the config names no keypoints."""
    names = getattr(config, "id2label", None) or {}
    if not names:
        return None
    edges = [[int(a), int(b)] for a, b in getattr(config, "edges", None) or []]
    return fo.KeypointSkeleton(labels=[names[i] for i in sorted(names)], edges=edges)


def _pixel_box(box, size):
    """A relative ``[x, y, w, h]`` box in the image's pixels (the COCO boxes the ViTPose processor takes)."""
    width, height = size
    x, y, w, h = box
    return [x * width, y * height, w * width, h * height]


def _keypoint(box: fo.Detection, pose: dict, size: tuple[int, int], threshold: float) -> fo.Keypoint:
    width, height = size
    scores = [_clip(float(s)) for s in pose["scores"]]  # heatmap peaks: ~0..1 for a trained model, not bounded
    points = [
        [_clip(float(x) / width), _clip(float(y) / height)] if score >= threshold else [math.nan, math.nan]
        for (x, y), score in zip(pose["keypoints"].tolist(), scores, strict=True)
    ]
    return fo.Keypoint(label=box.label, points=points, confidence=scores, **prompt_provenance(box))


def _clip(value):
    return min(max(value, 0.0), 1.0)
