"""prelabel with keypoints from boxes: a ViTPose model prompted by a Detections field writes one Keypoint per box,
with both models' provenance and the model's skeleton (never replacing the dataset's), and every bad input is refused
before anything is written. Random weights give random points: the tests check structure."""

import math
import os

import pytest
import test_prelabel_masks as masks_tests

import fiftyone as fo
from fiftyone.operators.executor import ExecutionError

from core.models import source as models
from core.models import tasks
from core.store import runs
from harness import operators as ops
from testing import tiny_models as tm


@pytest.fixture(scope="module")
def pose_models(tmp_path_factory):
    """Local directories of a tiny ViTPose with a skeleton in its config, and one without."""
    root = tmp_path_factory.mktemp("pose_models")
    return {"pose": tm.pose_model(root / "pose"), "bare": tm.pose_model(root / "bare", skeleton=False)}


shapes = masks_tests.small_shapes  # 8 synthetic 64x64 shapes images with ground-truth boxes drawn by a person
_snapshot = masks_tests._snapshot


def _keypoints(dataset, field):
    return [k for label in dataset.values(field) for k in label.keypoints]


def test_the_task_is_inferred_from_the_architecture(pose_models):
    assert tasks.infer_task(models.hf_config(pose_models["pose"])) == tasks.KEYPOINTS_FROM_BOXES
    assert tasks.label_class(tasks.KEYPOINTS_FROM_BOXES) is fo.Keypoints


def test_one_keypoint_per_box_with_both_provenances_and_the_skeleton(shapes, tiny_models, pose_models, prelabel_op):
    boxes = prelabel_op(shapes, tiny_models["detection"], output_field="boxes", threshold=0.1)
    assert boxes["labels"] > 0
    before = _snapshot(shapes, "boxes")
    result = prelabel_op(shapes, pose_models["pose"], output_field="pose", prompt_field="boxes")
    assert result["task"] == tasks.KEYPOINTS_FROM_BOXES and result["written"] == len(shapes)
    assert _snapshot(shapes, "boxes") == before  # the prompt field is never changed
    assert shapes.get_field("pose").document_type is fo.Keypoints
    for prompt, found in zip(shapes.values("boxes"), shapes.values("pose"), strict=True):
        assert [k.prompt_id for k in found.keypoints] == [b.id for b in prompt.detections]
        assert [k.label for k in found.keypoints] == [b.label for b in prompt.detections]
        pairs = zip(found.keypoints, prompt.detections, strict=True)
        assert all(k.prompt_model_version == b.model_version for k, b in pairs)
        assert all(k.prompt_run == boxes["run_key"] for k in found.keypoints)
    points = _keypoints(shapes, "pose")
    assert len(points) == result["labels"] == boxes["labels"]
    model = "hf:" + os.path.abspath(pose_models["pose"]) + "@"
    assert all(k.model_version.startswith(model) and k.prelabel_run == result["run_key"] for k in points)
    assert all(len(k.points) == len(k.confidence) == len(tm.POSE_KEYPOINTS) for k in points)
    assert all(0 <= v <= 1 for k in points for point in k.points for v in point)  # threshold 0: every point shown
    assert all(0 <= c <= 1 for k in points for c in k.confidence)
    skeleton = shapes.skeletons["pose"]
    assert skeleton.labels == list(tm.POSE_KEYPOINTS) and skeleton.edges == tm.POSE_EDGES


def test_points_below_the_threshold_are_nan(shapes, pose_models, prelabel_op):
    prelabel_op(shapes, pose_models["pose"], output_field="all", prompt_field="ground_truth")
    scores = sorted(c for k in _keypoints(shapes, "all") for c in k.confidence)
    threshold = scores[len(scores) // 2]
    prelabel_op(shapes, pose_models["pose"], output_field="high", prompt_field="ground_truth", threshold=threshold)
    everything, high = _keypoints(shapes, "all"), _keypoints(shapes, "high")
    hidden = 0
    for full, kept in zip(everything, high, strict=True):
        assert kept.confidence == full.confidence  # every point keeps its score
        for point, shown, score in zip(kept.points, full.points, kept.confidence, strict=True):
            if score >= threshold:
                assert point == shown
            else:
                assert all(math.isnan(v) for v in point)
                hidden += 1
    assert 0 < hidden < len(scores)


def test_a_skeleton_the_dataset_has_is_never_replaced(shapes, pose_models, prelabel_op):
    mine = fo.KeypointSkeleton(labels=["a", "b"], edges=[[0, 1]])
    shapes.skeletons = {"pose": mine}
    shapes.save()
    prelabel_op(shapes, pose_models["pose"], output_field="pose", prompt_field="ground_truth")
    shapes.default_skeleton = mine
    shapes.save()
    prelabel_op(shapes, pose_models["pose"], output_field="other", prompt_field="ground_truth")
    shapes.reload()
    assert shapes.skeletons["pose"].labels == ["a", "b"] and "other" not in shapes.skeletons
    assert shapes.default_skeleton.labels == ["a", "b"]


def test_a_config_without_edges_gives_the_keypoint_names(shapes, pose_models, prelabel_op):
    prelabel_op(shapes, pose_models["bare"], output_field="pose", prompt_field="ground_truth")
    assert shapes.skeletons["pose"].labels == list(tm.POSE_KEYPOINTS) and shapes.skeletons["pose"].edges == []


def test_samples_without_prompt_boxes(shapes, pose_models, prelabel_op):
    ids = shapes.values("id")
    shapes.select(ids[:2]).set_values("ground_truth", [None, fo.Detections()])
    prelabel_op(shapes, pose_models["pose"], output_field="pose", prompt_field="ground_truth")
    values = shapes.select(ids, ordered=True).values("pose")
    assert values[0] is None or values[0].keypoints == []
    assert values[1].keypoints == [] and all(len(v.keypoints) > 0 for v in values[2:])


def _classification_field(dataset):
    dataset.set_values("tag", [fo.Classification(label="x")] * len(dataset))


BAD = [  # (params, message)
    ({}, "Keypoints from boxes need a prompt field"),
    ({"prompt_field": "nope"}, "No field 'nope' to take the prompt boxes from"),
    ({"prompt_field": "tag"}, "Field 'tag' holds Classification: the prompt field must hold Detections"),
    ({"prompt_field": "ground_truth", "output_field": "ground_truth"}, "cannot be the output field"),
    ({"prompt_field": "ground_truth", "polygons": True}, "Polygons are traced from instance masks"),
    ({"prompt_field": "ground_truth", "threshold": 1.5}, "Confidence threshold 1.5 is outside [0, 1]"),
]


@pytest.mark.parametrize(("params", "expected"), BAD)
def test_bad_input_is_refused_before_anything_is_written(shapes, pose_models, params, expected):
    _classification_field(shapes)
    before = _snapshot(shapes, "ground_truth")
    message = ops.validation_error("prelabel", shapes, {"model": pose_models["pose"], **params})
    assert expected in message
    assert not shapes.has_field("predictions") and runs.list_suite_runs(shapes) == []
    assert _snapshot(shapes, "ground_truth") == before and shapes.skeletons == {}


def test_the_sdk_call_raises_the_same_refusal(shapes, pose_models, prelabel_op):
    with pytest.raises(ExecutionError, match="Keypoints from boxes need a prompt field"):
        prelabel_op(shapes, pose_models["pose"], output_field="pose")
    assert not shapes.has_field("pose") and runs.list_suite_runs(shapes) == [] and shapes.skeletons == {}
