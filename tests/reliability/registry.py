"""The registry of reliability cases: what a case is, and the one place every case module adds its cases to."""

from collections.abc import Callable
from dataclasses import dataclass

from fiftyone.operators.executor import ExecutionError

# kinds of cases, for the table
BAD_INPUT = "bad input"
WRONG_TYPE = "wrong type"
EMPTY_VIEW = "empty view"
MISSING_FIELD = "missing field"
PROTECTED = "protected labels"
FAULT = "fault"
CONCURRENCY = "concurrent writers"


@dataclass(frozen=True)
class Case:
    """One bad call of one operator and what must come of it.

    ``setup(res)`` returns the collection the call targets (built from ``res``, see ``resources.Resources``);
    ``call(target, res)`` makes the call as the SDK makes it. ``error`` is the regex the message of the raised
    ``error_type`` must match (a clear message says what is wrong and what to do); None means the call must
    succeed. ``verify(target, res, result_or_error)``, when given, returns the problems it finds after the call
    (e.g. that an interrupted run was marked failed and a rerun resumes). Every field of the dataset at setup is
    protected (no label or value may be lost or changed) except those in ``writes``; after an error no new field
    may be left behind except those in ``partial`` (e.g. the resumable output of an interrupted pre-labelling).
    """

    name: str
    operator: str
    kind: str
    setup: Callable
    call: Callable
    error: str | None
    error_type: type = ExecutionError
    verify: Callable | None = None
    writes: tuple = ()
    partial: tuple = ()


REGISTRY: dict[str, Case] = {}


def register(*cases):
    """Adds ``cases`` to the registry; a name may be registered once."""
    for case in cases:
        if case.name in REGISTRY:
            raise ValueError(f"Reliability case '{case.name}' is registered twice.")
        REGISTRY[case.name] = case
    return cases
