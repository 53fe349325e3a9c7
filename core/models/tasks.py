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
EMBEDDING = "embedding"
TASKS = (
    CLASSIFICATION,
    DETECTION,
    ZERO_SHOT_CLASSIFICATION,
    ZERO_SHOT_DETECTION,
    SEMANTIC_SEGMENTATION,
    EMBEDDING,
)
ZERO_SHOT_TASKS = (ZERO_SHOT_CLASSIFICATION, ZERO_SHOT_DETECTION)

# architecture name suffixes -> task; zero-shot detectors first (OwlViTForObjectDetection ends like a detector)
_ARCHITECTURE_TASKS = (
    (("OwlViTForObjectDetection", "Owlv2ForObjectDetection", "GroundingDinoForObjectDetection"), ZERO_SHOT_DETECTION),
    (("ForImageClassification",), CLASSIFICATION),
    (("ForObjectDetection",), DETECTION),
    (("ForSemanticSegmentation",), SEMANTIC_SEGMENTATION),
    (("CLIPModel", "SiglipModel", "Siglip2Model", "AlignModel", "AltCLIPModel"), ZERO_SHOT_CLASSIFICATION),
)


def infer_task(config: "PretrainedConfig") -> str:
    """The pre-labelling task of a transformers config, from its architecture (embedding when none fits)."""
    for architecture in config.architectures or []:
        for suffixes, task in _ARCHITECTURE_TASKS:
            if architecture.endswith(suffixes):
                return task
    return EMBEDDING


def label_class(task: str, top_k: int = 1) -> type[fo.Label] | None:
    """The FiftyOne label class written for ``task`` (None for embeddings)."""
    if task in (CLASSIFICATION, ZERO_SHOT_CLASSIFICATION):
        return fo.Classification if top_k == 1 else fo.Classifications
    if task in (DETECTION, ZERO_SHOT_DETECTION):
        return fo.Detections
    if task == SEMANTIC_SEGMENTATION:
        return fo.Segmentation
    return None
