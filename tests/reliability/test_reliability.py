"""Every reliability case ends as a clear error or as its documented graceful outcome, with no label lost; and
the runner itself tells clear errors, crashes, lost labels and half-written fields apart."""

import pytest

import fiftyone as fo

from reliability import cases, runner
from reliability.registry import BAD_INPUT, Case
from reliability.resources import Resources, digits, plugin_module, sdk, shapes


@pytest.fixture(scope="module")
def res(tmp_path_factory, tiny_models):
    resources = Resources(tmp_path_factory.mktemp("reliability"), models=tiny_models)
    yield resources
    resources.close()


@pytest.mark.parametrize("case", cases.all_cases(), ids=lambda case: case.name)
def test_case(case, res):
    outcome = runner.run_case(case, res)
    assert outcome.outcome in (runner.CLEAR, runner.GRACEFUL), outcome.describe()
    assert outcome.lost == 0, outcome.describe()


COVERED_HERE = {
    "get_labelloop_info",
    "prelabel",
    "accept_prelabels",
    "compute_embeddings",
    "compare_models",
    "compute_embedding_map",
    "select_for_annotation",
    "compute_mistakenness",
    "compute_uniqueness",
    "find_near_duplicates",
}


def test_the_registry_covers_every_operator():
    suite = {operator().config.name for operator in plugin_module(None, part="operators").OPERATORS}
    covered = {case.operator for case in cases.all_cases()}
    assert COVERED_HERE <= suite and suite <= covered
    assert len([case for case in cases.all_cases() if case.operator in COVERED_HERE]) >= 40


def _case(call, error=None, setup=digits, **options):
    return Case("meta", "meta", BAD_INPUT, setup, call, error, **options)


def _delete_a_label(target, res):
    target.limit(1).set_values("ground_truth", [None])


def test_a_deleted_label_is_lost(res):
    outcome = runner.run_case(_case(_delete_a_label), res)
    assert outcome.lost == 1 and outcome.outcome == runner.CRASH


def test_a_changed_value_is_lost_unless_the_case_writes_it(res):
    change = lambda target, res: target.limit(2).set_values("split", ["x", "y"])  # noqa: E731
    assert runner.run_case(_case(change), res).lost == 2
    assert runner.run_case(_case(change, writes=("split",)), res).outcome == runner.GRACEFUL


def test_errors_must_be_due_expected_and_clear(res):
    refused = sdk("compute_uniqueness", embeddings_field="nope")
    assert runner.run_case(_case(refused, r"No embeddings field 'nope'"), res).outcome == runner.CLEAR
    unclear = runner.run_case(_case(refused, r"something else"), res)
    assert unclear.outcome == runner.CRASH and "unclear message" in unclear.problems[0]
    assert "No embeddings field 'nope'" in unclear.message
    missing = runner.run_case(_case(lambda target, res: None, r"an error"), res)
    assert missing.problems == ["no error where one was due"]
    raw = runner.run_case(_case(lambda target, res: {}["key"], r"key"), res)
    assert raw.outcome == runner.CRASH and "raised KeyError instead of ExecutionError" in raw.problems[0]


def _half_write(target, res):
    target.add_sample_field("half", fo.FloatField)
    raise ValueError("refused after all")


def test_a_field_left_behind_after_an_error_is_a_crash(res):
    outcome = runner.run_case(_case(_half_write, r"refused after all", error_type=ValueError), res)
    assert outcome.problems == ["left new fields behind: half"]
    allowed = runner.run_case(_case(_half_write, r"refused", error_type=ValueError, partial=("half",)), res)
    assert allowed.outcome == runner.CLEAR


def test_labels_other_users_add_must_survive(res):
    def add_then_drop(target, res):
        sample = target.first()
        res.journal.add_detection(target, sample.id)
        sample.reload()
        sample.ground_truth.detections.pop()
        sample.save()

    outcome = runner.run_case(_case(add_then_drop, setup=shapes), res)
    assert outcome.lost == 1


def test_the_message_excerpt_is_what_the_user_reads():
    validation = "Validation error. Path: invalid_input_0. Reason: Choose a field."
    assert runner.excerpt(Exception(validation)) == "Choose a field."
    assert runner.excerpt(Exception("Validation error. Path: k. Reason: Invalid value type")) == "k: Invalid value type"
    traceback = (
        'Traceback (most recent call last):\n  File "x.py", line 1\n    raise ValueError(msg)\nValueError: No model.\n'
    )
    assert runner.excerpt(Exception(traceback)) == "No model."
