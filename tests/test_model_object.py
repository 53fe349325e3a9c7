"""Any FiftyOne model from the SDK: a ``fiftyone.core.models.Model`` object (here a ``TorchImageModel`` wrapping a
team's torch module) pre-labels digits and shapes; delegating an object is refused saying what to pass instead,
and that route (a model config a worker rebuilds) runs delegated and from the App form."""

import json

import pytest

import fiftyone as fo
import fiftyone.core.models as fom
from fiftyone.operators.executor import ExecutionError

from core.store import runs
from harness import model_servers
from harness import operators as ops
from testing import data
from testing import tiny_models as tm

DIGITS = model_servers.DIGITS


@pytest.fixture(scope="module")
def configs(tmp_path_factory):
    root = tmp_path_factory.mktemp("fiftyone-models")
    classifier = tm.image_classifier(root / "classifier", DIGITS)
    detector = tm.object_detector(root / "detector", list(data.SHAPES))
    return {
        "classification": tm.fiftyone_model_config(classifier, "classification"),
        "detection": tm.fiftyone_model_config(detector, "detection"),
    }


def test_a_model_object_labels_digits_with_its_identity(digits, configs, prelabel_op):
    model = fom.load_model(configs["classification"])
    result = prelabel_op(digits, model, store_logits=True)
    assert result["task"] == "classification" and result["written"] == len(digits) == result["labels"]
    labels = digits.values("predictions")
    assert all(isinstance(label, fo.Classification) and label.label in DIGITS for label in labels)
    assert labels[0].model_version.startswith("fiftyone:fiftyone.utils.torch.TorchImageModel@")
    [record] = runs.list_suite_runs(digits)
    assert record["model"] == labels[0].model_version and record["params"]["source"]["kind"] == "fiftyone"
    apply_model = digits.clone()
    try:
        apply_model.apply_model(model, "anchor")
        assert apply_model.values("anchor.label") == digits.values("predictions.label")
    finally:
        apply_model.delete()


def test_a_detector_object_labels_shapes_with_threshold_and_class_map(shapes, configs, prelabel_op):
    model = fom.load_model(configs["detection"])
    result = prelabel_op(shapes, model, threshold=0.2, class_map={"triangle": "circle"})
    dets = [d for label in shapes.values("predictions") for d in label.detections]
    assert result["task"] == "detection" and len(dets) == result["labels"] > 0
    assert all(d.confidence >= 0.2 and d.label in {"circle", "square"} for d in dets)


def test_delegating_an_object_is_refused_offering_its_config(digits, configs, prelabel_op):
    model = fom.load_model(configs["classification"])
    with pytest.raises(ExecutionError, match=r"cannot be delegated: .* pass its config instead") as error:
        prelabel_op(digits, model, delegate=True)
    assert "testing.tiny_models.classifier_module" in str(error.value)
    with pytest.raises(ExecutionError, match=r"cannot be delegated"):
        prelabel_op(digits, model, num_shards=2)
    assert not digits.has_field("predictions") and not runs.list_suite_runs(digits)


def test_an_object_built_from_a_function_gets_the_config_route_explained(digits, configs, prelabel_op):
    import fiftyone.utils.torch as fout  # after testing.tiny_models: torchvision's ops on a CPU-only torch

    config = fout.TorchImageModelConfig({**configs["classification"]["config"], "entrypoint_fcn": tm.classifier_module})
    with pytest.raises(ExecutionError, match=r"pass a model config a worker can rebuild instead .*entrypoint_fcn"):
        prelabel_op(digits, fout.TorchImageModel(config), delegate=True)


def test_the_config_route_runs_delegated(digits, configs, prelabel_op):
    assert prelabel_op(digits, configs["classification"], model_source="fiftyone", delegate=True) is None
    ops.run_queued_in_child(digits.name)
    digits.reload()  # the worker, another process, declared the field
    assert digits.count("predictions") == len(digits)
    assert digits.first().predictions.model_version.startswith("fiftyone:fiftyone.utils.torch.TorchImageModel@")


def test_the_form_takes_a_model_config(shapes, configs):
    params = {"model_source": "fiftyone", "model": json.dumps(configs["detection"]), "output_field": "from_form"}
    result = ops.run("prelabel", shapes, params).result
    assert result["task"] == "detection" and shapes.count("from_form") == len(shapes)


@pytest.mark.parametrize(
    "model, message",
    [
        (object(), r"A object is not a FiftyOne model: wrap it"),
        ("{not json", r"config is not valid JSON"),
        ('{"config": {}}', r"has a 'type' \(the model class\) and a 'config'"),
    ],
)
def test_what_is_not_a_fiftyone_model_is_refused(digits, prelabel_op, model, message):
    options = {} if not isinstance(model, str) else {"model_source": "fiftyone"}
    with pytest.raises(ExecutionError, match=message):
        prelabel_op(digits, model, **options)
    assert not digits.has_field("predictions")


def test_classes_that_do_not_cover_the_outputs_are_refused_before_writing(digits, configs, prelabel_op):
    config = {**configs["classification"], "config": {**configs["classification"]["config"], "classes": ["0", "1"]}}
    with pytest.raises(ExecutionError, match=r"fails on a blank 64x64 image .* check that its classes list every"):
        prelabel_op(digits, fom.load_model(config))
    assert not digits.has_field("predictions")
