"""SDK calls in a real IPython kernel (as in Jupyter, an event loop runs while a cell does): they block and return
the result, or raise the same error as in a script."""

import pytest

import fiftyone.operators as foo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionError

from core.store import runs
from harness import operators as ops
from harness.kernel import started_kernel


@pytest.fixture(scope="module")
def kernel():
    """A kernel that has imported FiftyOne, with its event loop running in the cells."""
    with started_kernel() as started:
        cell = started.run(
            "import asyncio, fiftyone as fo, fiftyone.operators as foo\nasyncio.get_running_loop().is_running()"
        )
        assert (cell.status, cell.result) == ("ok", "True"), cell
        yield started


def call(name, dataset, *args, **kwargs):
    """The code that calls operator ``name`` through the SDK on ``dataset`` (loaded by name) with these arguments."""
    arguments = [f"fo.load_dataset({dataset.name!r})", *map(repr, args), *(f"{k}={v!r}" for k, v in kwargs.items())]
    return f"foo.get_operator({ops.uri(name)!r})({', '.join(arguments)})"


def test_a_reading_call_returns_its_result(kernel, embedded):
    cell = kernel.run(f"info = {call('get_labelloop_info', embedded)}\ntype(info).__name__, info['num_samples']")
    assert (cell.status, cell.evalue, cell.result) == ("ok", "", f"('dict', {len(embedded)})")


def test_a_writing_call_has_finished_when_it_returns(kernel, embedded):
    cell = kernel.run(f"result = {call('compute_uniqueness', embedded, 'emb', k=2)}\nresult['samples']")
    assert (cell.status, cell.evalue, cell.result) == ("ok", "", str(len(embedded)))
    embedded.reload()
    [run] = runs.list_suite_runs(embedded)
    assert run["status"] == "completed" and embedded.count("uniqueness") == len(embedded)


def test_bad_input_raises_the_same_error_as_in_a_script(kernel, embedded):
    with pytest.raises(ExecutionError) as in_script:
        foo.get_operator(ops.uri("compute_uniqueness"))(embedded, "no_such_field")
    cell = kernel.run(call("compute_uniqueness", embedded, "no_such_field"))
    assert (cell.status, cell.ename, cell.evalue) == ("error", "ExecutionError", str(in_script.value))
    assert "no_such_field" in cell.evalue


def test_a_misspelt_keyword_raises_in_the_cell(kernel, embedded):
    cell = kernel.run(call("compute_uniqueness", embedded, "emb", kk=2))
    message = "compute_uniqueness got an unexpected keyword 'kk': did you mean 'k'?"
    assert (cell.status, cell.ename, cell.evalue) == ("error", "TypeError", message)


def test_a_delegated_call_queues_and_returns_none(kernel, embedded):
    cell = kernel.run(f"{call('get_labelloop_info', embedded, delegate=True)} is None")
    assert (cell.status, cell.evalue, cell.result) == ("ok", "", "True")
    service = DelegatedOperationService()
    [queued] = service.get_queued_operations(operator=ops.uri("get_labelloop_info"), dataset_name=embedded.name)
    service.delete_operation(queued.id)


def test_a_view_iterated_before_a_call_loads_the_fields_the_call_added(kernel, embedded):
    opened = kernel.run(f"ds = fo.load_dataset({embedded.name!r})\nview = ds.limit(3)\nlen([s.id for s in view])")
    assert (opened.status, opened.result) == ("ok", "3"), opened
    called = kernel.run(f"{call('compute_uniqueness', embedded, 'emb', k=2)}['samples']")
    assert (called.status, called.evalue, called.result) == ("ok", "", str(len(embedded)))
    again = kernel.run("[0 <= s.uniqueness <= 1 for s in view], view.first().uniqueness is not None")
    assert (again.status, again.evalue, again.result) == ("ok", "", "([True, True, True], True)")
