"""prelabel through the operator machinery: every task and source, provenance, resume, and every bad input."""

import os

import numpy as np
import pytest

import fiftyone as fo
from fiftyone.operators.executor import ExecutionError

from core.store import runs
from harness import operators as ops
from testing import data

DIGITS = [str(i) for i in range(10)]


def test_local_classifier_labels_every_sample_with_provenance(digits, tiny_models, prelabel_op):
    result = prelabel_op(digits, tiny_models["classification"], store_logits=True)
    assert result["written"] == len(digits) and result["labels"] == len(digits) and result["task"] == "classification"
    labels = digits.values("predictions")
    assert all(isinstance(label, fo.Classification) and label.label in DIGITS for label in labels)
    first = labels[0]
    assert first.logits.shape == (10,) and 0 < first.confidence <= 1
    assert first.model_version.startswith("hf:" + os.path.abspath(tiny_models["classification"]) + "@")
    assert first.prelabel_run == result["run_key"]
    [run] = runs.list_suite_runs(digits)
    assert run["kind"] == "prelabel" and run["status"] == "completed" and run["model"] == first.model_version
    assert run["fields"] == ["predictions"] and run["counts"]["written"] == len(digits) and run["user"]
    assert run["params"]["store_logits"] is True
    assert "model_version" in digits.get_field_schema(flat=True) or digits.has_field("predictions.model_version")


def test_baseline_and_candidate_are_distinguishable(digits, tiny_models, prelabel_op, tmp_path):
    from testing import tiny_models as tm

    other = tm.image_classifier(tmp_path / "other", DIGITS)
    prelabel_op(digits, tiny_models["classification"], output_field="baseline")
    prelabel_op(digits, other, output_field="candidate")
    assert digits.first().baseline.model_version != digits.first().candidate.model_version


def test_threshold_and_top_k(digits, tiny_models, prelabel_op):
    prelabel_op(digits, tiny_models["classification"], output_field="top3", top_k=3)
    assert all(len(label.classifications) == 3 for label in digits.values("top3"))
    result = prelabel_op(digits, tiny_models["classification"], output_field="confident", threshold=0.99)
    assert result["labels"] == 0 and digits.count("confident") == 0


def test_detector_boxes_are_relative_and_above_threshold(shapes, tiny_models, prelabel_op):
    result = prelabel_op(shapes, tiny_models["detection"], threshold=0.2)
    assert result["task"] == "detection"
    dets = [d for label in shapes.values("predictions") for d in label.detections]
    assert len(dets) == result["labels"] > 0
    assert all(d.confidence >= 0.2 and d.label in data.SHAPES for d in dets)
    assert all(
        0 <= x and 0 <= y and x + w <= 1 + 1e-6 and y + h <= 1 + 1e-6 for x, y, w, h in (d.bounding_box for d in dets)
    )


def test_zero_shot_classification_with_prompts(shapes, tiny_models, prelabel_op):
    prompts = ["a circle", "a square"]
    result = prelabel_op(shapes, tiny_models["zero_shot"], output_field="zs", prompts=", ".join(prompts))
    assert result["task"] == "zero_shot_classification"
    assert set(shapes.values("zs.label")) <= set(prompts) and shapes.count("zs") == len(shapes)


def test_zero_shot_detection_with_prompts(shapes, tiny_models, prelabel_op):
    result = prelabel_op(
        shapes, tiny_models["zero_shot_detection"], output_field="owl", prompts=["circle", "square"], threshold=0.0
    )
    assert result["task"] == "zero_shot_detection" and result["labels"] > 0
    assert set(shapes.distinct("owl.detections.label")) <= {"circle", "square"}


def test_semantic_segmentation_writes_masks_and_mask_targets(shapes, tiny_models, prelabel_op):
    result = prelabel_op(shapes.limit(4), tiny_models["segmentation"], output_field="seg")
    assert result["task"] == "semantic_segmentation" and result["written"] == 4
    mask = shapes.first().seg.mask
    assert mask.shape == (128, 128) and set(np.unique(mask)) <= {0, 1}
    assert shapes.mask_targets["seg"] == {0: "background", 1: "shape"}


def test_semantic_segmentation_with_logits_saves_pixel_probabilities_for_label_errors(shapes, tiny_models, prelabel_op):
    view = shapes.limit(4)
    prelabel_op(view, tiny_models["segmentation"], output_field="seg_p", store_logits=True)
    label = shapes.first().seg_p
    probabilities = np.load(label.probabilities_path)
    assert probabilities.shape == (2, 128, 128) and probabilities.dtype == np.float16
    assert "seg_p.probabilities" not in shapes.get_field_schema(flat=True)  # the array is in the file only
    assert not shapes._sample_collection.count_documents({"seg_p.probabilities": {"$exists": True}})
    np.testing.assert_allclose(probabilities.astype(np.float32).sum(axis=0), 1.0, atol=1e-2)
    decided = np.abs(probabilities[1].astype(np.float32) - probabilities[0]) > 1e-2  # float16 ties aside
    assert np.array_equal(probabilities.argmax(axis=0)[decided], label.mask[decided])
    view.set_values("gt_seg", [fo.Segmentation(mask=1 - mask) for mask in view.values("seg_p.mask")])
    shapes.mask_targets["gt_seg"] = shapes.mask_targets["seg_p"]
    shapes.save()
    result = fo.operators.get_operator(ops.uri("compute_mistakenness"))(view, "seg_p", gt_field="gt_seg")
    assert result["samples"] == 4 and all(0 < score <= 1 for score in view.values("mistakenness"))


def test_zoo_model_by_name_with_a_local_directory(digits, tiny_models, prelabel_op):
    result = prelabel_op(
        digits.limit(10),
        "classification-transformer-torch",
        model_source="zoo",
        zoo_kwargs={"name_or_path": tiny_models["classification"]},
        output_field="zoo",
    )
    assert result["written"] == 10
    assert digits.first().zoo.model_version.startswith("zoo:classification-transformer-torch[name_or_path=")


def test_class_mapping_and_unknown_labels(shapes, tiny_models, prelabel_op):
    classifier = tiny_models["classification"]  # outputs "0".."9"; shapes knows circle, square, triangle
    with pytest.raises(ExecutionError, match="neither in the dataset nor mapped"):
        prelabel_op(shapes, classifier, output_field="mapped", unknown_labels="error")
    mapping = {str(i): "circle" for i in range(5)}
    result = prelabel_op(shapes, classifier, output_field="mapped", class_map=mapping, unknown_labels="drop")
    assert set(shapes.distinct("mapped.label")) <= {"circle"}
    assert result["written"] == len(shapes) and result["dropped_unknown"] == len(shapes) - shapes.count("mapped")
    prelabel_op(shapes, classifier, output_field="raw")  # the model's own names, unmapped
    model_labels = shapes.values("raw.label")
    assert {"0", "1"} & set(model_labels)  # some labels for the mapping below to rename
    kept = prelabel_op(shapes, classifier, output_field="kept", class_map="0:square, 1:square")
    assert kept["labels"] == len(shapes)  # the unmapped names are kept (the default), the mapped ones renamed
    assert shapes.values("kept.label") == ["square" if label in {"0", "1"} else label for label in model_labels]


def test_class_mapping_onto_unknown_names_is_refused(shapes, tiny_models):
    message = ops.validation_error(
        "prelabel", shapes, {"model": tiny_models["detection"], "class_map": "circle:disc, square:box"}
    )
    assert "names not in the dataset: box, disc" in message
    assert "Known names: circle, square, triangle" in message


def test_resume_skips_finished_samples(digits, tiny_models, prelabel_op):
    first = prelabel_op(digits.limit(50), tiny_models["classification"])
    before = digits.limit(50).values("predictions.id")
    second = prelabel_op(digits, tiny_models["classification"])
    assert first["written"] == 50 and second["skipped_existing"] == 50 and second["written"] == len(digits) - 50
    assert digits.limit(50).values("predictions.id") == before  # untouched
    again = prelabel_op(digits, tiny_models["classification"], overwrite=True)
    assert again["written"] == len(digits) and digits.limit(50).values("predictions.id") != before


def test_corrupt_and_missing_images_are_skipped_counted_and_reported(digits, tiny_models, prelabel_op):
    bad, gone = digits.skip(3).first(), digits.skip(7).first()
    with open(bad.filepath, "wb") as f:
        f.write(b"not a png")
    os.remove(gone.filepath)
    try:
        result = prelabel_op(digits, tiny_models["classification"])
    finally:
        data.build_digits("rebuild", os.path.dirname(bad.filepath), limit=len(digits)).delete()
    assert result["failed_images"] == 2 and result["written"] == len(digits) - 2
    assert any(bad.filepath in f for f in result["failures"]) and any(gone.filepath in f for f in result["failures"])
    assert digits[bad.id].predictions is None and digits[gone.id].predictions is None
    retry = prelabel_op(digits, tiny_models["classification"])
    assert retry["written"] == 2 and retry["failed_images"] == 0


def test_human_labels_are_never_overwritten_unless_allowed(digits, tiny_models, prelabel_op):
    before = digits.values("ground_truth.id"), digits.values("ground_truth.label")
    with pytest.raises(ExecutionError, match="holds 120 labels not written by a model"):
        prelabel_op(digits, tiny_models["classification"], output_field="ground_truth")
    assert (digits.values("ground_truth.id"), digits.values("ground_truth.label")) == before  # all kept as they were
    digits.limit(5).set_values("ground_truth", [None] * 5)
    human = digits.skip(5).values("ground_truth.label")
    result = prelabel_op(digits, tiny_models["classification"], output_field="ground_truth", allow_human_labels=True)
    assert result["written"] == 5 and digits.skip(5).values("ground_truth.label") == human


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"model": "no-such-zoo-model-xyz", "model_source": "zoo"}, "No FiftyOne zoo model named 'no-such-zoo-model"),
        ({"model": "some-org/some-model"}, "not in the local cache and the hub cannot be reached"),
        ({"model": "/nonexistent/model/dir"}, "No such model directory"),
        ({"task": "detection"}, "is a classification model, not detection"),
        ({"output_field": "filepath"}, "cannot be an output field"),
        ({"threshold": 1.5}, "Confidence threshold 1.5 is outside [0, 1]"),
        ({"task": "zero_shot_classification"}, "needs class prompts"),
        ({"device": "cuda"}, "not available here"),
        ({"class_map": "0-circle"}, "is not 'model_label:dataset_label'"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(digits, tiny_models, params, expected):
    message = ops.validation_error("prelabel", digits, {"model": tiny_models["classification"], **params})
    assert expected in message
    assert not digits.has_field("predictions") and runs.list_suite_runs(digits) == []


def test_a_directory_that_is_not_a_model(digits, tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    message = ops.validation_error("prelabel", digits, {"model": str(tmp_path)})
    assert "is not a transformers model (no config.json)" in message


def test_output_field_of_another_label_type(shapes, tiny_models):
    params = {"model": tiny_models["classification"], "output_field": "ground_truth", "allow_human_labels": True}
    message = ops.validation_error("prelabel", shapes, params)
    assert "holds Detections, but this model writes a Classification field" in message


def test_empty_view(digits, tiny_models):
    message = ops.validation_error("prelabel", digits.limit(0), {"model": tiny_models["classification"]})
    assert "no samples" in message


def test_delegated_prelabel_runs_in_a_worker_with_progress(digits, tiny_models):
    queued = ops.run("prelabel", digits, {"model": tiny_models["classification"]}, delegated=True)
    assert not digits.has_field("predictions")
    ops.run_queued_in_child(digits.name)
    digits.reload()
    done = ops.delegated_operation(queued.result["id"])
    assert done.run_state == "completed", done.status
    assert done.result.result["written"] == len(digits) == digits.count("predictions")
    assert done.status.progress == 1.0 and f"{len(digits)} / {len(digits)} samples" in done.status.label
