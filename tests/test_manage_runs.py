"""manage_runs: list the suite's runs; delete one with exactly the fields and labels it wrote, never human labels."""

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionContext, ExecutionError

from core.store import admin as run_admin
from core.store import runs
from harness import operators as ops


@pytest.fixture
def manage_runs():
    return foo.get_operator(ops.uri("manage_runs"))


@pytest.fixture
def accept_op():
    return foo.get_operator(ops.uri("accept_prelabels"))


def test_list_shows_each_run_with_its_provenance(digits, tiny_models, prelabel_op, accept_op, manage_runs):
    prelabeled = prelabel_op(digits, tiny_models["classification"])
    digits.limit(10).set_values("ground_truth", [None] * 10)
    accepted = accept_op(digits, "predictions", threshold=0.0)
    listed = manage_runs(digits)
    assert [r["key"] for r in listed["runs"]] == [accepted["run_key"], prelabeled["run_key"]]
    accept_row, prelabel_row = listed["run_rows"]
    assert prelabel_row["kind"] == "prelabel" and prelabel_row["status"] == runs.COMPLETED
    assert prelabel_row["fields"] == "predictions (new)" and f"written={len(digits)}" in prelabel_row["counts"]
    assert prelabel_row["model"] == accept_row["model"] and accept_row["model"].startswith("classifier@")
    assert tiny_models["classification"] in listed["runs"][0]["model"]  # the record keeps the full identity
    assert accept_row["fields"] == "ground_truth" and "promoted=10" in accept_row["counts"]
    assert all(row["user"] and row["host"] and row["started_at"] for row in listed["run_rows"])


def test_deleting_a_run_deletes_the_field_it_created(digits, tiny_models, prelabel_op, manage_runs):
    human = digits.values("ground_truth")
    key = prelabel_op(digits, tiny_models["classification"])["run_key"]
    result = manage_runs(digits, action="delete", run_key=key)
    assert result == {"run_key": key, "deleted_fields": ["predictions"], "removed_labels": 0}
    assert not digits.has_field("predictions") and runs.list_suite_runs(digits) == []
    assert digits.values("ground_truth") == human


def test_in_a_pre_existing_field_only_the_runs_labels_are_removed(shapes, tiny_models, prelabel_op, accept_op):
    prelabel_op(shapes, tiny_models["detection"], threshold=0.0)
    human_ids = shapes.values("ground_truth.detections.id", unwind=True)
    accepted = accept_op(shapes, "predictions", threshold=0.2)
    assert accepted["promoted"] > 0
    deletion = run_admin.plan_deletion(shapes, accepted["run_key"])
    assert deletion.remove_labels == {"ground_truth": accepted["promoted"]} and deletion.delete_fields == []
    result = run_admin.delete_run(shapes, accepted["run_key"])
    assert result["removed_labels"] == accepted["promoted"] and result["deleted_fields"] == []
    assert shapes.values("ground_truth.detections.id", unwind=True) == human_ids


def test_a_prelabel_run_into_human_labels_takes_back_only_its_own(digits, tiny_models, prelabel_op, manage_runs):
    digits.limit(10).set_values("ground_truth", [None] * 10)
    human = digits.skip(10).values("ground_truth")
    key = prelabel_op(digits, tiny_models["classification"], output_field="ground_truth", allow_human_labels=True)[
        "run_key"
    ]
    assert digits.count("ground_truth") == len(digits)
    result = manage_runs(digits, action="delete", run_key=key)
    assert result["removed_labels"] == 10 and result["deleted_fields"] == []
    assert digits.limit(10).count("ground_truth") == 0 and digits.skip(10).values("ground_truth") == human


def test_a_field_written_by_two_runs_goes_with_the_last_of_them(digits, tiny_models, prelabel_op, manage_runs):
    first = prelabel_op(digits.limit(50), tiny_models["classification"])["run_key"]
    second = prelabel_op(digits, tiny_models["classification"])["run_key"]  # resumes: the other 70 samples
    assert manage_runs(digits, action="delete", run_key=second)["removed_labels"] == len(digits) - 50
    assert digits.count("predictions") == 50 and digits.distinct("predictions.prelabel_run") == [first]
    assert manage_runs(digits, action="delete", run_key=first)["deleted_fields"] == ["predictions"]


def test_a_created_score_field_is_deleted(dataset, manage_runs):
    dataset.add_samples([fo.Sample(filepath=f"/images/{i}.png") for i in range(3)])
    key = runs.start_run(dataset, "uniqueness", fields=["uniqueness"])
    dataset.set_values("uniqueness", [0.1, 0.5, 1.0])
    runs.finish_run(dataset, key)
    assert manage_runs(dataset, action="delete", run_key=key)["deleted_fields"] == ["uniqueness"]
    assert not dataset.has_field("uniqueness")


def test_values_that_cannot_be_told_apart_are_refused(digits):
    key = runs.start_run(digits, "select_for_annotation", fields=["tags"])
    digits.limit(5).tag_samples("to_annotate")
    runs.finish_run(digits, key)
    message = ops.validation_error("manage_runs", digits, {"action": "delete", "run_key": key})
    assert "'tags'" in message and "existed before the run" in message and f"delete_run('{key}')" in message
    assert [r["key"] for r in runs.list_suite_runs(digits)] == [key] and digits.count_sample_tags() == {
        "to_annotate": 5
    }


def test_unknown_and_running_runs_are_refused(digits):
    assert "no LabelLoop runs" in ops.validation_error("manage_runs", digits, {"action": "delete", "run_key": "x"})
    key = runs.start_run(digits, "prelabel", fields=["predictions"], user="alice")
    message = ops.validation_error("manage_runs", digits, {"action": "delete", "run_key": "nope"})
    assert f"No LabelLoop run 'nope' on this dataset. Its runs, newest first: {key}." in message
    message = ops.validation_error("manage_runs", digits, {"action": "delete", "run_key": key})
    assert f"Run {key} is still running (user alice" in message and "wait until it has finished" in message
    runs.finish_run(digits, key)
    assert ops.run("manage_runs", digits, {"action": "delete", "run_key": key}).result["run_key"] == key


def test_the_form_shows_what_a_deletion_will_do(digits, tiny_models, prelabel_op):
    key = prelabel_op(digits, tiny_models["classification"])["run_key"]
    ctx = ExecutionContext(request_params={"dataset_name": digits.name, "params": {"action": "delete", "run_key": key}})
    properties = foo.get_operator(ops.uri("manage_runs")).resolve_input(ctx).type.properties
    assert [c.value for c in properties["run_key"].view.choices] == [key]
    assert "delete field(s) predictions" in properties["plan"].view.label


def test_an_unknown_action_is_refused(digits):
    assert "Unknown action 'purge'" in ops.validation_error("manage_runs", digits, {"action": "purge"})
    with pytest.raises(ExecutionError, match="no LabelLoop runs on this dataset"):
        foo.get_operator(ops.uri("manage_runs"))(digits, action="delete", run_key="nope")
