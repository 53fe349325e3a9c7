"""Failures injected into a run at a chosen stage (issue 19), and the state a failed run must leave as it found it."""

import functools
import itertools

import pytest

from core.store import lease, runs

INJECTED = "injected failure"


def failing(original, nth, after, calls):
    """``original`` that raises ``OSError(INJECTED)`` on its ``nth`` call, instead of doing its work or ``after``
    it; ``calls`` counts the calls."""

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        failing_now = next(calls) == nth
        if failing_now and not after:
            raise OSError(INJECTED)
        result = original(*args, **kwargs)
        if failing_now:
            raise OSError(INJECTED)
        return result

    return wrapper


def inject(monkeypatch, stage, after):
    """Makes ``stage`` ((owner, attribute, nth call)) fail; returns the call counter (``reached`` checks it)."""
    owner, attribute, nth = stage
    calls = itertools.count(1)
    monkeypatch.setattr(owner, attribute, failing(getattr(owner, attribute), nth, after, calls))
    return calls


def reached(calls, stage):
    """Asserts that the injected stage was called at least ``nth`` times."""
    assert next(calls) > stage[2], "the stage was not reached"


def stage_id(stage, after):
    """A readable test id of an injected stage."""
    owner, attribute, nth = stage
    return f"{getattr(owner, '__name__', type(owner).__name__)}.{attribute}#{nth}-{'after' if after else 'in'}"


def params(operations):
    """The pytest params (name, stage, after) of ``operations`` ({name: (..., stages)}), at each stage twice: the
    call fails instead of doing its work, and after it."""
    return [
        pytest.param(name, stage, after, id=f"{name}-{stage_id(stage, after)}")
        for name, operation in operations.items()
        for stage in operation[-1]
        for after in (False, True)
    ]


def state(dataset):
    """What a failed run must leave as it found it: the sample documents (but their modification time), the
    schema with label attributes, the indexes, and the brain and annotation runs."""
    dataset.reload()
    documents = list(dataset._sample_collection.find({}, {"last_modified_at": 0}).sort("_id"))
    schema = sorted(dataset.get_field_schema(flat=True))
    others = (dataset.list_brain_runs(), dataset.list_annotation_runs())
    return documents, schema, sorted(dataset.list_indexes()), others


def new_runs(dataset, before):
    """The suite runs of ``dataset`` not in ``before`` (a list of run records)."""
    known = {record["key"] for record in before}
    return [record for record in runs.list_suite_runs(dataset) if record["key"] not in known]


def assert_failed_cleanly(dataset, before_state, before_runs):
    """Nothing of the failed run is left: the state as before, its run (if registered) failed, no lease."""
    assert state(dataset) == before_state
    assert [r["status"] for r in new_runs(dataset, before_runs)] in ([], [runs.FAILED])
    assert lease.live_leases(dataset) == []
