"""get_labelloop_info through the real operator machinery: App-style execution, SDK call, delegation."""

import pytest

import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError, ExecutionRunState

from core.store import runs
from harness import operators as ops

NAME = "get_labelloop_info"


def test_immediate_execution_summarises_the_target_view(digits):
    key = runs.start_run(digits, "prelabel", fields=["ground_truth"])
    runs.finish_run(digits, key)
    result = ops.run(NAME, digits.limit(10)).result
    assert result["num_samples"] == 10 and result["dataset"] == digits.name
    assert [f["name"] for f in result["label_fields"]] == ["ground_truth"]
    assert [r["key"] for r in result["runs"]] == [key]
    assert result["run_rows"][0]["fields"] == "ground_truth"


def test_view_target_selected_samples(digits):
    ids = digits.take(4, seed=0).values("id")
    result = ops.run(NAME, digits, {"view_target": "SELECTED_SAMPLES"}, selected=ids).result
    assert result["num_samples"] == 4


def test_view_target_dataset_ignores_the_current_view(digits):
    result = ops.run(NAME, digits.limit(3), {"view_target": "DATASET"}).result
    assert result["num_samples"] == len(digits)


def test_empty_view_is_refused_with_a_clear_message(digits):
    message = ops.validation_error(NAME, digits.match({"split": "no-such-split"}))
    assert "no samples" in message and "choose" in message


def test_sdk_call_returns_the_summary(shapes):
    operator = foo.get_operator(ops.uri(NAME))
    summary = operator(shapes.limit(5))
    assert summary["num_samples"] == 5 and summary["label_fields"][0]["type"] == "Detections"


def test_sdk_call_raises_on_bad_input(shapes):
    with pytest.raises(ExecutionError, match="no samples"):
        foo.get_operator(ops.uri(NAME))(shapes.limit(0))


def test_delegated_run_completes_in_a_worker_process_with_progress(shapes):
    queued = ops.run(NAME, shapes.limit(6), delegated=True)
    assert queued.delegated
    assert foo.get_operator(ops.uri(NAME))(shapes, delegate=True) is None  # the SDK can queue too
    op_id = queued.result["id"]
    assert ops.delegated_operation(op_id).run_state == ExecutionRunState.QUEUED

    ops.run_queued_in_child(shapes.name)

    done = ops.delegated_operation(op_id)
    assert done.run_state == ExecutionRunState.COMPLETED, done.status
    assert done.result.result["num_samples"] == 6
    assert done.status.progress == 1.0 and done.status.label == "Done"
