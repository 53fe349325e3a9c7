"""Issue 12 item 4: what a person sees while an operator runs: done / total, the time left, as the work goes on in
the App; the SDK and delegated runs get their result as before."""

import json

import pytest

import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionContext, Executor

from harness import operators as ops

INFO = "get_labelloop_info"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize(
    "elapsed, fraction, said",
    [
        (0.5, 0.5, ""),  # too early to say
        (10, 0.0, ""),
        (10, 1.0, ""),
        (10, 0.25, "about 30 s left"),
        (60, 0.2, "about 4 min left"),
        (50, 0.25, "about 2 min 30 s left"),
        (3600, 0.5, "about 1 h left"),
        (3900, 0.5, "about 1 h 5 min left"),
    ],
)
def test_the_time_left_is_said_as_a_person_reads_it(elapsed, fraction, said):
    clock = Clock()
    time_left = ops.plugin_module("progress").TimeLeft(clock)
    clock.now += elapsed
    assert time_left(fraction) == said


def app_context(dataset, name):
    """The context of a request from the App (it names the operator, as the App's requests do)."""
    params = {"dataset_name": dataset.name, "operator_uri": ops.uri(name), "params": {}}
    return ExecutionContext(request_params=params, executor=Executor())


def lines(messages):
    return [json.loads(message.to_json_line()) for message in messages]


def test_from_the_app_an_operator_streams_its_progress_then_its_result(digits):
    operator = foo.get_operator(ops.uri(INFO))
    streamed = lines(operator.execute(app_context(digits, INFO)))
    progress_labels = [line["body"]["params"].get("label") for line in streamed if _is(line, "set_progress")]
    assert progress_labels[-1] == "Done"
    assert streamed[-1]["cls"] == "ExecutionResult"
    assert streamed[-1]["body"]["num_samples"] == len(digits) == operator(digits)["num_samples"]


def test_from_the_app_a_failure_is_the_apps_error_line(digits, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(ops.plugin_module("info").info, "summarize", fail)
    streamed = lines(foo.get_operator(ops.uri(INFO)).execute(app_context(digits, INFO)))
    assert streamed[-1] == {"error": "RuntimeError: the database went away", "error_message": "the database went away"}


def test_from_the_sdk_an_operator_returns_its_result(digits):
    ctx = ExecutionContext(request_params={"dataset_name": digits.name, "params": {}}, executor=Executor())
    result = foo.get_operator(ops.uri(INFO)).execute(ctx)
    assert result["num_samples"] == len(digits)


def _is(line, operator_name):
    return line.get("cls") == "InvocationRequest" and line["body"]["operator_uri"].endswith(operator_name)
