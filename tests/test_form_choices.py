"""What the App's forms offer for the label type chosen, and what they keep of a person's earlier choices: a matching
option of another ground-truth label type (``use_masks``, ``keypoint_sigmas``) no longer blocks a run from the App,
and still does from the SDK; the send form offers the instance-mask shapes for Detections only; the Accept or revert
form says what it did."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionContext

from harness import operators as ops

LEFT_OVER = {  # ground truth, predictions, an option of the other label type, and what the SDK says of it
    "masks_then_keypoints": ("pose", "pose_pred", {"use_masks": True}, "use_masks applies to Detections"),
    "keypoints_then_boxes": ("ground_truth", "boxes", {"keypoint_sigmas": "1, 1"}, "keypoint_sigmas applies to"),
}


@pytest.fixture
def posed(dataset):
    """One sample: boxes with masks as ``ground_truth`` (the forms' default), predicted ``boxes``, and ``pose`` /
    ``pose_pred`` keypoints."""
    box = fo.Detection(label="a", bounding_box=[0.1, 0.1, 0.5, 0.5], mask=np.ones((4, 4), bool), confidence=0.9)
    pose = fo.Keypoints(keypoints=[fo.Keypoint(label="a", points=[(0.1, 0.1), (0.5, 0.5)], confidence=[0.9, 0.9])])
    boxes = fo.Detections(detections=[box])
    dataset.add_sample(
        fo.Sample(filepath="/images/a.png", ground_truth=boxes, boxes=boxes.copy(), pose=pose, pose_pred=pose.copy())
    )
    return dataset


def form(name, dataset, params, from_app=True):
    """The inputs of operator ``name``'s form for ``params``, sent by the App (or the SDK)."""
    request = {"dataset_name": dataset.name, "params": params}
    if from_app:
        request["operator_uri"] = ops.uri(name)  # the App names the operator in every request
    return foo.get_operator(ops.uri(name)).resolve_input(ExecutionContext(request_params=request)).type.properties


def warnings(dataset, params, from_app):
    """The blocking warnings of the mistakenness form for ``params``."""
    return [p.error_message for p in form("compute_mistakenness", dataset, params, from_app).values() if p.invalid]


@pytest.mark.parametrize("case", list(LEFT_OVER))
def test_an_option_left_from_another_ground_truth_blocks_the_sdk_not_the_app(posed, case):
    gt_field, pred_field, option, said = LEFT_OVER[case]
    params = {"gt_field": gt_field, "pred_field": pred_field, **option}
    assert warnings(posed, params, from_app=True) == []  # the App's form no longer shows it: ignored
    [warning] = warnings(posed, params, from_app=False)  # given on purpose: said
    assert said in warning
    assert said in ops.validation_error("compute_mistakenness", posed, params)
    assert not posed.has_field("mistakenness")


@pytest.mark.parametrize(("gt_field", "offered"), [("ground_truth", True), ("pose", False)])
def test_the_send_form_offers_instance_mask_shapes_for_detections_only(posed, gt_field, offered):
    assert ("instance_shapes" in form("send_to_cvat", posed, {"gt_field": gt_field})) is offered


@pytest.mark.parametrize(
    ("action", "results", "shown"),
    [
        ("accept", {"accepted": "cvat_1"}, {"accepted": "Review accepted"}),
        ("revert", {"restored_samples": 3}, {"restored_samples": "Samples restored"}),
    ],
)
def test_accept_or_revert_says_what_it_did(dataset, action, results, shown):
    operator = foo.get_operator(ops.uri("finish_cvat_review"))
    request = {"dataset_name": dataset.name, "params": {"action": action}, "results": results}
    output = operator.resolve_output(ExecutionContext(request_params=request))
    assert output.view.label == ops.plugin_module("cvat_load").OUTCOMES[action]
    assert {name: prop.view.label for name, prop in output.type.properties.items()} == shown
