"""The tiny local models load through the real code: transformers Auto* classes and FiftyOne's zoo entries."""

import pytest
import transformers as tr

import fiftyone as fo
import fiftyone.zoo as foz

from testing import data


def test_auto_classes_load_every_tiny_model(tiny_models):
    assert tr.AutoModelForImageClassification.from_pretrained(tiny_models["classification"]).config.num_labels == 10
    detector = tr.AutoModelForObjectDetection.from_pretrained(tiny_models["detection"])
    assert set(detector.config.id2label.values()) == set(data.SHAPES)
    assert tr.AutoModel.from_pretrained(tiny_models["zero_shot"]).config.model_type == "clip"
    assert tr.AutoModel.from_pretrained(tiny_models["embedding"]).config.model_type == "vit"
    assert tr.AutoProcessor.from_pretrained(tiny_models["zero_shot"]).tokenizer("a circle")["input_ids"]


def test_fiftyone_zoo_classifier_from_a_local_directory(digits, tiny_models):
    model = foz.load_zoo_model("classification-transformer-torch", name_or_path=tiny_models["classification"])
    view = digits.limit(6)
    view.apply_model(model, "predictions", batch_size=3, progress=False)
    labels = view.values("predictions.label")
    assert len(labels) == 6 and set(labels) <= {str(i) for i in range(10)}


def test_fiftyone_zoo_detector_from_a_local_directory(shapes, tiny_models):
    model = foz.load_zoo_model("detection-transformer-torch", name_or_path=tiny_models["detection"])
    view = shapes.limit(3)
    view.apply_model(model, "predictions", confidence_thresh=0.0, progress=False)
    found = view.values("predictions.detections.label", unwind=True)
    assert found and set(found) <= set(data.SHAPES)


@pytest.mark.parametrize("prompts", [["circle", "square", "triangle"]])
def test_fiftyone_zoo_zero_shot_classifier_from_a_local_directory(shapes, tiny_models, prompts):
    model = foz.load_zoo_model(
        "zero-shot-classification-transformer-torch", name_or_path=tiny_models["zero_shot"], classes=prompts
    )
    view = shapes.limit(3)
    view.apply_model(model, "zero_shot", progress=False)
    assert set(view.values("zero_shot.label")) <= set(prompts)
    assert isinstance(view.first().zero_shot, fo.Classification)
