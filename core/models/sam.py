"""Masks from boxes: a SAM model (transformers ``SamModel`` or ``Sam2Model``) prompted by the boxes of an existing
Detections field.

Each prompt box gets exactly one mask, written onto a copy of the box (its label, confidence and attributes kept);
the prompt field itself is never changed. The copy keeps the provenance of the box's writer and the prompt box's id
(``prompt_provenance``); pre-labelling then stamps the SAM model's own provenance on it.
"""

from typing import Any

import numpy as np
import torch

import fiftyone as fo

from ..store import fields as L
from .labels import box_mask
from .predictor import Prediction

PROMPT_ID, PROMPT_MODEL, PROMPT_RUN = "prompt_id", "prompt_model_version", "prompt_run"
"""The attributes of a mask's copy of its prompt box: the box's id, and its writer's model and run."""
MASK_SCORE = "mask_score"
"""The attribute holding SAM's own estimate of its mask's quality (predicted IoU, 0..1)."""
_MOVED = {L.PROVENANCE_ATTRIBUTE: PROMPT_MODEL, L.PRELABEL_RUN: PROMPT_RUN}
_DROPPED = (L.ACCEPTED_RUN,)  # the copy is a new prediction: it was never accepted


def masks_from_boxes(model: Any, processor: Any, inputs: Any, prompts: list[fo.Detections | None]) -> list[Prediction]:
    """One Detections per image of a batch (``inputs`` from the SAM processor): a masked copy of each box of the
    image's prompt ``Detections``, None where the image has no prompt value."""
    embeddings = model.get_image_embeddings(inputs["pixel_values"])  # SAM 2: one tensor per feature level
    found = []
    for i, prompt in enumerate(prompts):
        boxes = list(prompt.detections) if prompt is not None else []
        if not boxes:
            found.append(None if prompt is None else fo.Detections())
            continue
        sizes, resized = _sizes(inputs, i)
        scaled = torch.tensor([[_input_box(box.bounding_box, resized) for box in boxes]], device=model.device)
        outputs = model(image_embeddings=_image(embeddings, i), input_boxes=scaled, multimask_output=False)
        low_res, scores = outputs.pred_masks.cpu(), outputs.iou_scores[0, :, 0].float().cpu().numpy()
        copies = [
            _masked_copy(box, _full_mask(processor, low_res[:, j : j + 1], sizes), score)
            for j, (box, score) in enumerate(zip(boxes, scores, strict=True))
        ]
        found.append(fo.Detections(detections=copies))
    return found


def _full_mask(processor, low_res, sizes):
    """One box's mask at the image's full size, upsampled box by box: memory stays one image's size whatever the
    number of boxes (all at once, 50 boxes on a 12-megapixel image would take 2.4 GB of float masks)."""
    return processor.post_process_masks(low_res, *sizes)[0][0, 0].numpy()


def _image(embeddings, i):
    if isinstance(embeddings, (list, tuple)):
        return [level[i : i + 1] for level in embeddings]
    return embeddings[i : i + 1]


def _sizes(inputs, i):
    """The size arguments of the processor's ``post_process_masks`` for image ``i``, and the (height, width) of the
    image as resized for the model (SAM pads it after resizing; SAM 2 resizes it to the input size)."""
    original = inputs["original_sizes"][i : i + 1].cpu()
    if "reshaped_input_sizes" in inputs:
        reshaped = inputs["reshaped_input_sizes"][i : i + 1].cpu()
        return (original, reshaped), reshaped[0].tolist()
    return (original,), list(inputs["pixel_values"].shape[-2:])


def _input_box(box, resized):
    """A relative ``[x, y, w, h]`` box as the model's input box: x1, y1, x2, y2 in the resized image's pixels."""
    height, width = resized
    x, y, w, h = box
    return [x * width, y * height, (x + w) * width, (y + h) * height]


def prompt_provenance(box: fo.Detection) -> dict[str, str]:
    """What a label made from prompt ``box`` keeps of it: the box's id (``PROMPT_ID``), and its writer's model and
    run (``PROMPT_MODEL``, ``PROMPT_RUN``; absent for a box a person drew)."""
    found = {PROMPT_ID: box.id}
    for name, moved in _MOVED.items():
        value = box.get_field(name) if box.has_field(name) else None
        if value is not None:
            found[moved] = value
    return found


def _masked_copy(box: fo.Detection, mask: np.ndarray, score: float) -> fo.Detection:
    copy = box.copy()
    copy.mask, copy.mask_path = box_mask(mask, box.bounding_box), None
    for name in (*_MOVED, *_DROPPED):
        if copy.has_field(name) and copy.get_field(name) is not None:
            del copy[name]
    copy[MASK_SCORE] = float(score)
    for name, value in prompt_provenance(box).items():
        copy[name] = value
    return copy
