"""accept_prelabels: confident predictions become ground truth; human labels are never removed; revertible."""

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError

from core.prelabel import accept
from core.store import runs
from harness import operators as ops


@pytest.fixture
def accept_op():
    return foo.get_operator(ops.uri("accept_prelabels"))


def test_classifications_fill_only_samples_without_human_labels(digits, tiny_models, prelabel_op, accept_op):
    prelabel_op(digits, tiny_models["classification"])
    digits.limit(10).set_values("ground_truth", [None] * 10)
    human = digits.skip(10).values("ground_truth")
    result = accept_op(digits, "predictions", threshold=0.0)
    assert result["promoted"] == 10 and result["kept_human"] == len(digits) - 10
    assert [h.id for h in digits.skip(10).values("ground_truth")] == [h.id for h in human]
    promoted = digits.first().ground_truth
    prediction = digits.first().predictions
    assert promoted.label == prediction.label and promoted.id != prediction.id
    assert promoted.accepted_source_id == prediction.id and promoted.accepted_from == "predictions"
    assert promoted.accepted_run == result["run_key"] and promoted.model_version == prediction.model_version
    assert promoted.accepted_by and promoted.accepted_at


def test_threshold_and_tag_select_what_is_accepted(shapes, tiny_models, prelabel_op, accept_op):
    prelabel_op(shapes, tiny_models["detection"], threshold=0.0)
    shapes.limit(5).tag_samples("reviewed")
    before = shapes.count("ground_truth.detections")
    confident = (
        shapes.limit(5).filter_labels("predictions", fo.ViewField("confidence") >= 0.3).count("predictions.detections")
    )
    result = accept_op(shapes, "predictions", threshold=0.3, tag="reviewed")
    assert result["promoted"] == confident and result["samples"] == 5
    assert shapes.count("ground_truth.detections") == before + confident
    assert shapes.skip(5).count("ground_truth.detections.accepted_run") == 0
    again = accept_op(shapes, "predictions", threshold=0.3, tag="reviewed")
    assert again["promoted"] == 0 and shapes.count("ground_truth.detections") == before + confident  # idempotent


def test_revert_takes_back_exactly_what_a_run_added(shapes, tiny_models, prelabel_op, accept_op):
    prelabel_op(shapes, tiny_models["detection"], threshold=0.0)
    human_ids = shapes.values("ground_truth.detections.id", unwind=True)
    result = accept_op(shapes, "predictions", threshold=0.2)
    assert result["promoted"] > 0
    assert accept.revert(shapes, result["run_key"]) == result["promoted"]
    assert shapes.values("ground_truth.detections.id", unwind=True) == human_ids


def test_the_run_is_recorded(digits, tiny_models, prelabel_op, accept_op):
    prelabel_op(digits, tiny_models["classification"])
    result = accept_op(digits, "predictions", gt_field="reviewed_gt", threshold=0.0)
    record = next(r for r in runs.list_suite_runs(digits) if r["key"] == result["run_key"])
    assert record["kind"] == "accept_prelabels" and record["fields"] == ["reviewed_gt"]
    assert record["counts"]["promoted"] == len(digits) and record["params"]["threshold"] == 0.0


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pred_field": "nope"}, "No label field 'nope'"),
        ({"gt_field": "predictions"}, "other than the predictions field"),
        ({"gt_field": "boxes"}, "holds Detections, but 'predictions' holds Classification"),
        ({"tag": "no-such-tag"}, "no samples tagged 'no-such-tag'"),
    ],
)
def test_bad_input_is_refused(digits, tiny_models, prelabel_op, params, expected):
    prelabel_op(digits, tiny_models["classification"])
    digits.add_sample_field("boxes", fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    message = ops.validation_error("accept_prelabels", digits, {"pred_field": "predictions", **params})
    assert expected in message
    assert digits.count("ground_truth.accepted_run") == 0


def test_sdk_raises_for_a_threshold_out_of_range(digits, tiny_models, prelabel_op, accept_op):
    prelabel_op(digits, tiny_models["classification"])
    with pytest.raises(ExecutionError, match=r"threshold 3.0 is outside \[0, 1\]"):
        accept_op(digits, "predictions", threshold=3.0)
