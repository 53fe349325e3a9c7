"""prelabel with instance masks: a Mask2Former instance segmenter, masks from boxes (SAM prompted by a Detections
field), polygons from masks; from the SDK and the form, with provenance, thresholds, the class map, and every bad
input refused before anything is written. Random weights give random masks: the tests check structure."""

import os
import uuid

import pytest
from test_forms import form

import fiftyone as fo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionError

from core.models import source as models
from core.models import tasks
from core.store import runs
from harness import operators as ops
from testing import data

SIZE = 64


@pytest.fixture(scope="module")
def mask_models(tmp_path_factory):
    """Local directories of a tiny Mask2Former over the shapes' classes, a tiny SAM and a tiny SAM 2."""
    from testing import tiny_models as tm

    root = tmp_path_factory.mktemp("mask_models")
    instances = tm.instance_segmenter(root / "m2f", list(data.SHAPES))
    return {"instances": instances, "sam": tm.sam(root / "sam"), "sam2": tm.sam2(root / "sam2")}


@pytest.fixture
def small_shapes(tmp_path):
    """8 synthetic 64x64 shapes images with ground-truth boxes (drawn by a person: no provenance)."""
    ds = data.build_shapes(f"masks-{uuid.uuid4().hex[:10]}", str(tmp_path / "shapes"), count=8, size=SIZE)
    yield ds
    ds.delete()


def _fits(mask, box):
    """Whether ``mask`` is a binary mask of the box's size in pixels, as FiftyOne crops it."""
    x, y, w, h = box
    width = max(round((x + w) * SIZE), round(x * SIZE) + 1) - round(x * SIZE)
    height = max(round((y + h) * SIZE), round(y * SIZE) + 1) - round(y * SIZE)
    return mask.dtype == bool and abs(mask.shape[0] - height) <= 1 and abs(mask.shape[1] - width) <= 1


def _snapshot(dataset, field):
    return [label.to_dict() if label is not None else None for label in dataset.values(field)]


def test_tasks_are_inferred_from_the_architectures(mask_models):
    assert tasks.infer_task(models.hf_config(mask_models["instances"])) == tasks.INSTANCE_SEGMENTATION
    assert tasks.infer_task(models.hf_config(mask_models["sam"])) == tasks.MASKS_FROM_BOXES
    assert tasks.infer_task(models.hf_config(mask_models["sam2"])) == tasks.MASKS_FROM_BOXES
    assert tasks.label_class(tasks.INSTANCE_SEGMENTATION) is fo.Detections
    assert tasks.label_class(tasks.MASKS_FROM_BOXES, polygons=True) is fo.Polylines
    assert tasks.label_class(tasks.DETECTION, polygons=True) is fo.Detections


def test_instance_segmenter_writes_detections_with_masks_and_provenance(small_shapes, mask_models, prelabel_op):
    result = prelabel_op(small_shapes, mask_models["instances"], output_field="instances")
    assert result["task"] == "instance_segmentation" and result["written"] == len(small_shapes)
    dets = [d for label in small_shapes.values("instances") for d in label.detections]
    assert len(dets) == result["labels"] > 0
    assert all(d.label in data.SHAPES and 0 < d.confidence <= 1 for d in dets)
    assert all(d.mask is not None and d.mask.any() for d in dets)
    # the box is the mask's tight bounding box and the mask is cropped to it, as Detection.from_mask makes them
    assert all(
        d.mask.dtype == bool and d.mask.shape == (round(d.bounding_box[3] * SIZE), round(d.bounding_box[2] * SIZE))
        for d in dets
    )
    model = "hf:" + os.path.abspath(mask_models["instances"]) + "@"
    assert all(d.model_version.startswith(model) and d.prelabel_run == result["run_key"] for d in dets)
    [run] = runs.list_suite_runs(small_shapes)
    assert run["kind"] == "prelabel" and run["status"] == "completed" and run["model"] == dets[0].model_version
    assert small_shapes.get_field("instances").document_type is fo.Detections


def test_instance_threshold_drops_low_scores_and_the_class_map_applies(small_shapes, mask_models, prelabel_op):
    prelabel_op(small_shapes, mask_models["instances"], output_field="all")
    scores = sorted(small_shapes.values("all.detections.confidence", unwind=True))
    threshold = scores[len(scores) // 2]
    high = prelabel_op(small_shapes, mask_models["instances"], output_field="high", threshold=threshold)
    kept = small_shapes.values("high.detections.confidence", unwind=True)
    assert 0 < high["labels"] == len(kept) < len(scores) and min(kept) >= threshold
    mapped = prelabel_op(
        small_shapes, mask_models["instances"], output_field="mapped", class_map="circle:square, triangle:square"
    )
    assert mapped["labels"] == len(scores)
    assert set(small_shapes.distinct("mapped.detections.label")) == {"square"}


def test_polygons_from_instance_masks(small_shapes, mask_models, prelabel_op):
    prelabel_op(small_shapes, mask_models["instances"], output_field="instances")
    result = prelabel_op(small_shapes, mask_models["instances"], output_field="polys", polygons=True, tolerance=1)
    assert small_shapes.get_field("polys").document_type is fo.Polylines
    polylines = [p for label in small_shapes.values("polys") for p in label.polylines]
    assert len(polylines) == result["labels"] > 0
    assert all(p.closed and p.filled and p.label in data.SHAPES and p.confidence > 0 for p in polylines)
    assert all(len(shape) >= 3 for p in polylines for shape in p.points)
    assert all(0 <= v <= 1 for p in polylines for shape in p.points for point in shape for v in point)
    assert all(p.prelabel_run == result["run_key"] and p.model_version.startswith("hf:") for p in polylines)
    traced = [p for label in small_shapes.values("instances") for p in label.to_polylines(tolerance=1).polylines]
    assert [[s for s in p.points if len(s) >= 3] for p in traced] == [p.points for p in polylines]  # FiftyOne's own
    run = runs.list_suite_runs(small_shapes)[0]
    assert run["params"]["polygons"] is True and run["params"]["tolerance"] == 1
    again = prelabel_op(small_shapes, mask_models["instances"], output_field="polys", polygons=True)
    assert again["skipped_existing"] == len(small_shapes) and again["written"] == 0  # resumes: model labels only


@pytest.mark.parametrize("sam", ["sam", "sam2"])
def test_masks_from_model_boxes_on_copies_with_both_provenances(
    small_shapes, tiny_models, mask_models, prelabel_op, sam
):
    boxes = prelabel_op(small_shapes, tiny_models["detection"], output_field="boxes", threshold=0.1)
    assert boxes["labels"] > 0
    before = _snapshot(small_shapes, "boxes")
    result = prelabel_op(small_shapes, mask_models[sam], output_field="sam", prompt_field="boxes")
    assert result["task"] == "masks_from_boxes" and result["labels"] == boxes["labels"]
    assert _snapshot(small_shapes, "boxes") == before  # the prompt field is untouched
    sam_model = "hf:" + os.path.abspath(mask_models[sam]) + "@"
    for prompt, masked in zip(small_shapes.values("boxes"), small_shapes.values("sam"), strict=True):
        assert len(masked.detections) == len(prompt.detections)  # one mask per prompt box
        for box, copy in zip(prompt.detections, masked.detections, strict=True):
            assert copy.id != box.id and copy.prompt_id == box.id
            assert (copy.label, copy.bounding_box, copy.confidence) == (box.label, box.bounding_box, box.confidence)
            assert copy.prompt_model_version == box.model_version and copy.prompt_run == box.prelabel_run
            assert copy.model_version.startswith(sam_model) and copy.prelabel_run == result["run_key"]
            assert _fits(copy.mask, copy.bounding_box) and 0 <= copy.mask_score <= 1 + 1e-6
            assert box.mask is None


def test_masks_from_human_boxes_as_polygons(small_shapes, mask_models, prelabel_op):
    small_shapes.limit(2).set_values("ground_truth", [None, fo.Detections()])
    before = _snapshot(small_shapes, "ground_truth")
    result = prelabel_op(
        small_shapes, mask_models["sam"], output_field="sam", prompt_field="ground_truth", polygons=True
    )
    assert _snapshot(small_shapes, "ground_truth") == before
    first, second, *rest = small_shapes.values("sam")
    assert first is None and second.polylines == []  # no prompt value: nothing written; no boxes: no masks
    assert result["written"] == len(small_shapes)
    for prompt, traced in zip(small_shapes.skip(2).values("ground_truth"), rest, strict=True):
        by_box = {p.prompt_id: p for p in traced.polylines}
        assert set(by_box) <= {box.id for box in prompt.detections}  # a mask too small to trace gives no polygon
        for polyline in traced.polylines:
            assert not polyline.has_field("prompt_model_version")  # the box was drawn by a person
            assert polyline.model_version.startswith("hf:") and polyline.prelabel_run == result["run_key"]
            assert polyline.closed and polyline.filled and all(len(s) >= 3 for s in polyline.points)
            assert polyline.label == next(b.label for b in prompt.detections if b.id == polyline.prompt_id)


def test_masks_from_boxes_scale_out_in_shards(small_shapes, mask_models):
    params = {"model": mask_models["sam"], "prompt_field": "ground_truth", "output_field": "sam", "num_shards": 2}
    coordinator = ops.run("prelabel", small_shapes, params).result
    assert coordinator["queued_shards"] == 2 and not small_shapes.has_field("sam")
    DelegatedOperationService().execute_queued_operations(dataset_name=small_shapes.name)
    small_shapes.reload()
    for prompt, masked in zip(small_shapes.values("ground_truth"), small_shapes.values("sam"), strict=True):
        assert [d.prompt_id for d in masked.detections] == [b.id for b in prompt.detections]


def _classification_field(dataset):
    dataset.set_values("tag", [fo.Classification(label="x")] * len(dataset))


BAD = [  # (model, params, message)
    ("sam", {}, "Masks from boxes need a prompt field"),
    (
        "sam",
        {"prompt_field": "nope"},
        "No field 'nope' to take the prompt boxes from (Detections fields: ground_truth)",
    ),
    ("sam", {"prompt_field": "tag"}, "Field 'tag' holds Classification: the prompt field must hold Detections"),
    ("sam", {"prompt_field": "ground_truth", "output_field": "ground_truth"}, "cannot be the output field"),
    ("sam", {"prompt_field": "ground_truth", "threshold": 0.5}, "does not apply to masks from boxes"),
    ("instances", {"output_field": "ground_truth", "allow_human_labels": False}, "labels not written by a model"),
    ("instances", {"prompt_field": "ground_truth"}, "A prompt field is for masks or keypoints from boxes"),
    ("instances", {"polygons": True, "tolerance": -1}, "Polygon tolerance -1 is negative"),
    ("instances", {"tolerance": "abc"}, "tolerance: Invalid value type"),
    ("detection", {"polygons": True}, "Polygons are traced from instance masks"),
]


@pytest.mark.parametrize(("model", "params", "expected"), BAD)
def test_bad_input_is_refused_before_anything_is_written(
    small_shapes, tiny_models, mask_models, model, params, expected
):
    _classification_field(small_shapes)
    before = _snapshot(small_shapes, "ground_truth")
    path = {**mask_models, **tiny_models}[model]
    message = ops.validation_error("prelabel", small_shapes, {"model": path, **params})
    assert expected in message
    assert not small_shapes.has_field("predictions") and runs.list_suite_runs(small_shapes) == []
    assert _snapshot(small_shapes, "ground_truth") == before


def test_the_sdk_call_raises_the_same_refusal(small_shapes, mask_models, prelabel_op):
    with pytest.raises(ExecutionError, match="Masks from boxes need a prompt field"):
        prelabel_op(small_shapes, mask_models["sam"], output_field="sam")
    assert not small_shapes.has_field("sam") and runs.list_suite_runs(small_shapes) == []


def test_the_form_offers_the_mask_options_and_blocks_bad_ones(small_shapes, mask_models):
    _classification_field(small_shapes)
    properties = form("prelabel", small_shapes, {"model": mask_models["sam"]})
    assert [c.value for c in properties["prompt_field"].view.choices] == ["ground_truth"]
    assert "polygons" in properties and "tolerance" not in properties
    [warning] = [p for p in properties.values() if p.invalid]
    assert "need a prompt field" in warning.error_message
    properties = form("prelabel", small_shapes, {"model": mask_models["sam"], "prompt_field": "tag"})
    assert [p.error_message for p in properties.values() if p.invalid][0].startswith("Field 'tag' holds Classification")
    valid = {"model": mask_models["sam"], "prompt_field": "ground_truth", "polygons": True, "tolerance": 1.5}
    properties = form("prelabel", small_shapes, valid)
    assert "tolerance" in properties and not any(p.invalid for p in properties.values())
    properties = form("prelabel", small_shapes, {**valid, "tolerance": -2.0})
    assert any("tolerance -2.0 is negative" in (p.error_message or "") for p in properties.values() if p.invalid)
