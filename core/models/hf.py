"""Batched inference with a transformers model (hub id or local directory), straight to FiftyOne labels."""

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from PIL import Image

import fiftyone as fo

from ..exceptions import ModelError
from . import tasks
from .labels import PIXEL_PROBABILITIES, classification_label, instance_detection, softmax
from .pose import keypoints_from_boxes, skeleton
from .predictor import Prediction
from .sam import masks_from_boxes
from .torch_compat import ensure_torchvision


class HFPredictor:
    """Runs one transformers model for one task on batches of PIL images.

    ``predict(prepare(images))`` returns one FiftyOne label (or embedding vector) per image, None where nothing
    passes ``threshold``; a prompted task (``tasks.PROMPTED_TASKS``) takes each image's prompt labels too,
    ``predict(prepare(images), prompts)``. ``labels`` are the names the model can output (its ``id2label``, or the
    prompts; none for a prompted task, whose labels are its prompts'). ``skeleton``: the keypoint skeleton of a
    pose model (None for other tasks).
    """

    def __init__(
        self,
        name: str,
        task: str,
        device: str = "cpu",
        prompts: Iterable[str] | None = None,
        threshold: float = 0.0,
        top_k: int = 1,
        store_logits: bool = False,
    ) -> None:
        ensure_torchvision()
        import transformers as tr

        self.task, self.device = task, device
        self.threshold, self.top_k, self.store_logits = threshold, top_k, store_logits
        self.prompts = list(prompts or [])
        if task in tasks.ZERO_SHOT_TASKS and not self.prompts:
            raise ModelError(f"Task '{task}' needs class prompts: give the names of the classes to look for.")
        loader = {
            tasks.CLASSIFICATION: tr.AutoModelForImageClassification,
            tasks.DETECTION: tr.AutoModelForObjectDetection,
            tasks.ZERO_SHOT_CLASSIFICATION: tr.AutoModel,
            tasks.ZERO_SHOT_DETECTION: tr.AutoModelForZeroShotObjectDetection,
            tasks.SEMANTIC_SEGMENTATION: tr.AutoModelForSemanticSegmentation,
            tasks.INSTANCE_SEGMENTATION: tr.AutoModelForUniversalSegmentation,
            tasks.MASKS_FROM_BOXES: tr.AutoModelForMaskGeneration,
            tasks.KEYPOINTS_FROM_BOXES: tr.AutoModelForPoseEstimation,
            tasks.EMBEDDING: tr.AutoModel,
        }[task]
        self.model = loader.from_pretrained(name).to(device).eval()
        self.processor = tr.AutoProcessor.from_pretrained(name)
        id2label = getattr(self.model.config, "id2label", None) or {}
        named = task not in tasks.PROMPTED_TASKS
        self.labels = self.prompts or ([id2label[i] for i in sorted(id2label)] if named else [])
        self.skeleton = skeleton(self.model.config) if task == tasks.KEYPOINTS_FROM_BOXES else None

    @property
    def label_type(self) -> type[fo.Label] | None:
        """The FiftyOne label class this predictor writes (None for embeddings)."""
        return tasks.label_class(self.task, self.top_k)

    def prepare(self, images: list[Image.Image]) -> tuple[Any, list[tuple[int, int]]]:
        """Model inputs for a batch of images (thread-safe: runs on the decoding threads); the images themselves for
        a pose model, whose inputs are crops of the prompt boxes."""
        if self.task == tasks.KEYPOINTS_FROM_BOXES:
            return images, [(image.height, image.width) for image in images]
        if self.task in tasks.ZERO_SHOT_TASKS:
            text = [self.prompts] * len(images) if self.task == tasks.ZERO_SHOT_DETECTION else self.prompts
            inputs = self.processor(text=text, images=images, return_tensors="pt", padding=True)
        else:
            inputs = self.processor(images=images, return_tensors="pt")
        return inputs, [(image.height, image.width) for image in images]

    @torch.inference_mode()
    def predict(
        self, prepared: tuple[Any, list[tuple[int, int]]], prompts: list[fo.Label | None] | None = None
    ) -> list[Prediction]:
        """One label (or embedding) per image of a batch made by ``prepare``; ``prompts``: each image's prompt
        labels, for a prompted task."""
        inputs, sizes = prepared
        prompts = prompts or [None] * len(sizes)
        if self.task == tasks.KEYPOINTS_FROM_BOXES:
            return keypoints_from_boxes(self.model, self.processor, inputs, prompts, self.threshold)
        inputs = inputs.to(self.device)
        if self.task == tasks.MASKS_FROM_BOXES:
            return masks_from_boxes(self.model, self.processor, inputs, prompts)
        return {
            tasks.CLASSIFICATION: self._classify,
            tasks.ZERO_SHOT_CLASSIFICATION: self._classify,
            tasks.DETECTION: self._detect,
            tasks.ZERO_SHOT_DETECTION: self._detect,
            tasks.SEMANTIC_SEGMENTATION: self._segment,
            tasks.INSTANCE_SEGMENTATION: self._instances,
            tasks.EMBEDDING: self._embed,
        }[self.task](inputs, sizes)

    def _classify(self, inputs, sizes):
        outputs = self.model(**inputs)
        logits = outputs.logits_per_image if self.task == tasks.ZERO_SHOT_CLASSIFICATION else outputs.logits
        logits = logits.float().cpu().numpy()
        probs = softmax(logits)
        return [
            classification_label(
                row, p, self.labels, top_k=self.top_k, threshold=self.threshold, store_logits=self.store_logits
            )
            for row, p in zip(logits, probs, strict=True)
        ]

    def _detect(self, inputs, sizes):
        outputs = self.model(**inputs)
        if self.task == tasks.ZERO_SHOT_DETECTION:
            results = self.processor.post_process_grounded_object_detection(
                outputs, threshold=self.threshold, target_sizes=sizes, text_labels=[self.prompts] * len(sizes)
            )
        else:
            results = self.processor.post_process_object_detection(
                outputs, threshold=self.threshold, target_sizes=sizes
            )
        return [_detections(result, self.labels, size) for result, size in zip(results, sizes, strict=True)]

    def _segment(self, inputs, sizes):
        outputs = self.model(**inputs)
        masks = self.processor.post_process_semantic_segmentation(outputs, target_sizes=sizes)
        labels = [fo.Segmentation(mask=mask.cpu().numpy().astype(np.uint8)) for mask in masks]
        logits = getattr(outputs, "logits", None)
        if self.store_logits and logits is not None and logits.ndim == 4:
            for label, row, size in zip(labels, logits, sizes, strict=True):
                label[PIXEL_PROBABILITIES] = _pixel_probabilities(row, size)
        return labels

    def _instances(self, inputs, sizes):
        outputs = self.model(**inputs)
        results = self.processor.post_process_instance_segmentation(
            outputs, threshold=self.threshold, target_sizes=sizes, return_binary_maps=True
        )
        return [self._instance_detections(result) for result in results]

    def _instance_detections(self, result):
        masks = result["segmentation"] if result["segments_info"] else []  # no segment: one map of -1
        found = (
            instance_detection(mask.cpu().numpy(), self.labels[info["label_id"]], float(info["score"]))
            for mask, info in zip(masks, result["segments_info"], strict=True)
        )
        return fo.Detections(detections=[d for d in found if d is not None and d.confidence >= self.threshold])

    def _embed(self, inputs, sizes):
        if hasattr(self.model, "get_image_features"):
            features = self.model.get_image_features(**inputs)
            features = getattr(features, "pooler_output", features)
        else:
            outputs = self.model(**inputs)
            pooled = getattr(outputs, "pooler_output", None)
            features = pooled if pooled is not None else outputs.last_hidden_state.mean(dim=1)
        return list(features.flatten(1).float().cpu().numpy())


def _detections(result, labels, size):
    height, width = size
    detections = []
    for score, label, box in zip(result["scores"], result["labels"], result["boxes"], strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        x1, x2 = max(0.0, x1) / width, min(float(width), x2) / width
        y1, y2 = max(0.0, y1) / height, min(float(height), y2) / height
        if x2 > x1 and y2 > y1:
            box = [x1, y1, x2 - x1, y2 - y1]
            detections.append(fo.Detection(label=labels[int(label)], bounding_box=box, confidence=float(score)))
    return fo.Detections(detections=detections)


def _pixel_probabilities(logits: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """(K, H, W) float16 softmax of one image's (K, h, w) logits, upsampled as transformers' semantic
    post-processing does before its argmax (bilinear, corners not aligned)."""
    upsampled = torch.nn.functional.interpolate(logits[None].float(), size=size, mode="bilinear", align_corners=False)
    return upsampled[0].softmax(dim=0).cpu().numpy().astype(np.float16)
