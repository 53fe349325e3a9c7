"""ONNX models (onnxruntime) with a declared pre/post-processing spec: tiny torch models exported here, pre-labelling
digits (classification) and shapes (detection) from the SDK and the App form, and each bad input refused before
anything is written."""

import json
import os
import shutil

import numpy as np
import pytest
from test_forms import form

import fiftyone as fo
from fiftyone.operators.executor import ExecutionError

from core.store import runs
from harness import model_servers
from harness import operators as ops
from testing import data

DIGITS = model_servers.DIGITS
onnx_models = pytest.fixture(scope="module")(model_servers.onnx_models)


def _spec(path):
    with open(path.removesuffix(".onnx") + ".json") as f:
        return json.load(f)


def test_onnx_classifier_labels_digits_with_provenance_like_its_torch_original(digits, onnx_models, prelabel_op):
    result = prelabel_op(digits, onnx_models["classification"], model_source="onnx", store_logits=True)
    assert result["task"] == "classification" and result["written"] == len(digits) == result["labels"]
    labels = digits.values("predictions")
    assert all(isinstance(label, fo.Classification) and label.label in DIGITS for label in labels)
    assert labels[0].logits.shape == (10,)
    assert labels[0].model_version.startswith(f"onnx:{os.path.abspath(onnx_models['classification'])}@")
    [run] = runs.list_suite_runs(digits)
    assert run["model"] == labels[0].model_version and run["params"]["source"]["kind"] == "onnx"
    prelabel_op(digits, onnx_models["torch_classifier"], output_field="torch")
    same = sum(a == b for a, b in zip(digits.values("predictions.label"), digits.values("torch.label"), strict=True))
    assert same >= 0.95 * len(digits)  # the same model: only resizing differs in the last bits


def test_onnx_detector_labels_shapes_with_relative_boxes(shapes, onnx_models, prelabel_op):
    result = prelabel_op(shapes, onnx_models["detection"], model_source="onnx", threshold=0.2)
    dets = [d for label in shapes.values("predictions") for d in label.detections]
    assert result["task"] == "detection" and len(dets) == result["labels"] > 0
    assert all(d.confidence >= 0.2 and d.label in data.SHAPES for d in dets)
    assert all(
        0 <= x and 0 <= y and x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6 for x, y, w, h in (d.bounding_box for d in dets)
    )


def test_class_mapping_resume_and_threshold_apply_as_to_any_source(digits, onnx_models, prelabel_op):
    first = prelabel_op(digits.limit(50), onnx_models["classification"], model_source="onnx", class_map={"0": "1"})
    assert first["written"] == 50 and "0" not in digits.distinct("predictions.label")
    rest = prelabel_op(digits, onnx_models["classification"], model_source="onnx")
    assert rest["skipped_existing"] == 50 and rest["written"] == len(digits) - 50
    confident = prelabel_op(
        digits, onnx_models["classification"], model_source="onnx", output_field="c", threshold=0.99
    )
    assert confident["labels"] == 0


def test_the_form_offers_onnx_and_runs_it(digits, onnx_models):
    properties = form("prelabel", digits, {"model_source": "onnx"})
    assert "spec" in properties and "task" not in properties
    params = {"model_source": "onnx", "model": onnx_models["classification"], "output_field": "from_form"}
    assert not [p for p in form("prelabel", digits, params).values() if p.invalid]
    result = ops.run("prelabel", digits, params).result
    assert result["written"] == len(digits) and digits.count("from_form") == len(digits)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda s: s.pop("class_names"), r"class_names is missing"),
        (lambda s: s.update(class_names=["a", "b", "c"]), r"has shape \[1, 10\], but the spec .* 3 class names"),
        (
            lambda s: s.update(input_size=[48, 48]),
            r"rejects a \[1, 3, 48, 48\] float32 input: fix the spec's input_size",
        ),
        (lambda s: s.update(task="segmentation"), r"task 'segmentation' is not one of"),
        (lambda s: s.update(outputs={"logits": "scores"}), r"gave no output 'scores' \(it gave logits\)"),
    ],
)
def test_a_spec_that_does_not_fit_the_model_is_refused_before_anything_is_written(
    digits, onnx_models, prelabel_op, tmp_path, change, message
):
    path = str(tmp_path / "model.onnx")
    shutil.copy(onnx_models["classification"], path)
    spec = _spec(onnx_models["classification"])
    change(spec)
    with pytest.raises(ExecutionError, match=message):
        prelabel_op(digits, path, model_source="onnx", spec=spec)
    assert not digits.has_field("predictions") and not runs.list_suite_runs(digits)


def test_a_missing_spec_or_a_file_that_is_not_onnx_says_what_to_do(digits, onnx_models, prelabel_op, tmp_path):
    path = str(tmp_path / "model.onnx")
    shutil.copy(onnx_models["classification"], path)
    with pytest.raises(ExecutionError, match=r"No spec for .*model\.onnx': write .*model\.json"):
        prelabel_op(digits, path, model_source="onnx")
    with open(path, "wb") as f:
        f.write(b"not a model")
    with pytest.raises(ExecutionError, match=r"is not an ONNX model"):
        prelabel_op(digits, path, model_source="onnx", spec=_spec(onnx_models["classification"]))
    assert not digits.has_field("predictions")


def test_the_wrong_detection_layout_is_refused(shapes, onnx_models, prelabel_op):
    spec = {**_spec(onnx_models["detection"]), "class_names": ["circle"]}
    with pytest.raises(ExecutionError, match=r"output class index \d, but the spec has 1 class_names"):
        prelabel_op(shapes, onnx_models["detection"], model_source="onnx", spec=spec)
    assert not shapes.has_field("predictions")


def test_onnx_scales_out_over_delegated_shards(digits, onnx_models, prelabel_op):
    queued = prelabel_op(digits, onnx_models["classification"], model_source="onnx", num_shards=2)
    assert queued["queued_shards"] == 2
    ops.run_queued_in_child(digits.name)
    digits.reload()  # the workers, other processes, declared the field
    assert digits.count("predictions") == len(digits)
    (job,) = runs.list_suite_runs(digits)  # the two shards are one job: one run
    assert job["status"] == "completed" and job["params"]["parts"] == 2 and job["model"].startswith("onnx:")


def test_an_onnx_segmenter_writes_masks_at_the_image_size(shapes, prelabel_op, tmp_path):
    from testing import tiny_models as tm

    segmenter = tm.semantic_segmenter(tmp_path / "segmenter", ["background", "shape"])
    path = tm.onnx_export(segmenter, tmp_path / "segmenter.onnx", "semantic_segmentation")
    result = prelabel_op(shapes.limit(4), path, model_source="onnx", output_field="seg")
    assert result["task"] == "semantic_segmentation" and result["written"] == 4
    mask = shapes.first().seg.mask
    assert mask.shape == (128, 128) and set(mask.ravel().tolist()) <= {0, 1}
    assert shapes.mask_targets["seg"] == {0: "background", 1: "shape"}


def test_an_onnx_segmenter_saves_pixel_probabilities_whose_argmax_is_its_mask(shapes, prelabel_op, tmp_path):
    from testing import tiny_models as tm

    segmenter = tm.semantic_segmenter(tmp_path / "segmenter", ["background", "shape"])
    path = tm.onnx_export(segmenter, tmp_path / "segmenter.onnx", "semantic_segmentation")
    view = shapes.limit(3)
    prelabel_op(view, path, model_source="onnx", output_field="seg", store_logits=True)
    for label in view.values("seg"):
        probabilities = np.load(label.probabilities_path)
        assert probabilities.shape == (2, 128, 128) and probabilities.dtype == np.float16
        np.testing.assert_allclose(probabilities.astype(np.float32).sum(axis=0), 1.0, atol=1e-2)
        decided = np.abs(probabilities[1].astype(np.float32) - probabilities[0]) > 2e-3  # float16 ties aside
        assert np.array_equal(probabilities.argmax(axis=0)[decided], label.mask[decided])
    assert "seg.probabilities" not in shapes.get_field_schema(flat=True)


@pytest.mark.parametrize("scores", ["logits", "probabilities"])
def test_a_tensor_segmenter_upsamples_its_probabilities_like_its_mask(scores):
    from PIL import Image

    from core.models.tensor import TensorPredictor, TensorSpec

    rng = np.random.default_rng(0)
    out = rng.normal(scale=3.0, size=(2, 3, 16, 16)).astype(np.float32)
    out = out if scores == "logits" else np.exp(out) / np.exp(out).sum(axis=1, keepdims=True)
    spec = TensorSpec(task="semantic_segmentation", class_names=["a", "b", "c"], input_size=(16, 16), scores=scores)
    predictor = TensorPredictor(spec, lambda batch: {"logits": out}, store_logits=True)
    images = [Image.new("RGB", (50, 37)), Image.new("RGB", (16, 16))]
    for label, image in zip(predictor.predict(predictor.prepare(images)), images, strict=True):
        probabilities = label["probabilities"].astype(np.float32)
        assert probabilities.shape == (3, image.height, image.width) and label.mask.shape == probabilities.shape[1:]
        np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-2)
        assert np.array_equal(probabilities.argmax(axis=0), label.mask)
