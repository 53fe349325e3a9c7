"""What a model can do for the suite (its task), and the FiftyOne label class each task writes."""

from typing import TYPE_CHECKING

import fiftyone as fo

if TYPE_CHECKING:
    from transformers import PretrainedConfig

CLASSIFICATION = "classification"
DETECTION = "detection"
ZERO_SHOT_CLASSIFICATION = "zero_shot_classification"
ZERO_SHOT_DETECTION = "zero_shot_detection"
SEMANTIC_SEGMENTATION = "semantic_segmentation"
INSTANCE_SEGMENTATION = "instance_segmentation"
MASKS_FROM_BOXES = "masks_from_boxes"
KEYPOINTS_FROM_BOXES = "keypoints_from_boxes"
EMBEDDING = "embedding"
TASKS = (
    CLASSIFICATION,
    DETECTION,
    ZERO_SHOT_CLASSIFICATION,
    ZERO_SHOT_DETECTION,
    SEMANTIC_SEGMENTATION,
    INSTANCE_SEGMENTATION,
    MASKS_FROM_BOXES,
    KEYPOINTS_FROM_BOXES,
    EMBEDDING,
)
ZERO_SHOT_TASKS = (ZERO_SHOT_CLASSIFICATION, ZERO_SHOT_DETECTION)
PROMPTED_TASKS = (MASKS_FROM_BOXES, KEYPOINTS_FROM_BOXES)
"""The tasks prompted by each sample's existing labels (``prompt_field``): their labels come from the prompts."""
MASK_TASKS = (INSTANCE_SEGMENTATION, MASKS_FROM_BOXES)
"""The tasks that write instance masks (``Detections`` with masks, or polygons traced from them)."""

# architecture name suffixes -> task; zero-shot detectors first (OwlViTForObjectDetection ends like a detector)
_ARCHITECTURE_TASKS = (
    (("OwlViTForObjectDetection", "Owlv2ForObjectDetection", "GroundingDinoForObjectDetection"), ZERO_SHOT_DETECTION),
    (("ForImageClassification",), CLASSIFICATION),
    (("ForObjectDetection",), DETECTION),
    (("ForSemanticSegmentation",), SEMANTIC_SEGMENTATION),
    (("Mask2FormerForUniversalSegmentation", "MaskFormerForInstanceSegmentation"), INSTANCE_SEGMENTATION),
    (("SamModel", "Sam2Model"), MASKS_FROM_BOXES),
    (("VitPoseForPoseEstimation",), KEYPOINTS_FROM_BOXES),
    (("CLIPModel", "SiglipModel", "Siglip2Model", "AlignModel", "AltCLIPModel"), ZERO_SHOT_CLASSIFICATION),
)


def infer_task(config: "PretrainedConfig") -> str:
    """The pre-labelling task of a transformers config, from its architecture (embedding when none fits)."""
    for architecture in config.architectures or []:
        for suffixes, task in _ARCHITECTURE_TASKS:
            if architecture.endswith(suffixes):
                return task
    return EMBEDDING


def label_class(task: str, top_k: int = 1, polygons: bool = False) -> type[fo.Label] | None:
    """The FiftyOne label class written for ``task`` (None for embeddings); ``polygons``: the masks of a mask task
    traced as polygons."""
    if task in (CLASSIFICATION, ZERO_SHOT_CLASSIFICATION):
        return fo.Classification if top_k == 1 else fo.Classifications
    if task in MASK_TASKS and polygons:
        return fo.Polylines
    if task in (DETECTION, ZERO_SHOT_DETECTION, *MASK_TASKS):
        return fo.Detections
    if task == SEMANTIC_SEGMENTATION:
        return fo.Segmentation
    if task == KEYPOINTS_FROM_BOXES:
        return fo.Keypoints
    return None
