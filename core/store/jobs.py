"""One run record for a job split into parts: the ``num_shards`` delegated operations of one request, or the tasks
FiftyOne's distributed execution splits one operation into, on whichever workers and hosts they run.

Each part takes the job's shared lease on the fields (under its own holder name, so parts come and go
independently). The first part to start registers the job's run (a unique document per dataset and job decides
which, atomically); every part records its counts in that document when it ends, and the part whose record makes
the job whole records the run's end: the sum of the parts' counts, failed if a part failed. A part re-run after
its worker was lost (or after it failed) replaces its record, so the run completes once every part has.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pymongo import ReturnDocument

import fiftyone as fo
import fiftyone.core.odm as fodb

from . import runs

COLLECTION = "labelloop_jobs"
PART_SEPARATOR = ".part_"
FAILURES_KEPT = 20  # per run, the first failures of the parts (each part's own result lists its own)


@dataclass(frozen=True)
class Part:
    """Part ``index`` (any string) of ``total`` of job ``job``."""

    job: str
    index: str
    total: int


def run_key(kind: str, job: str) -> str:
    """The key of the run of job ``job`` of ``kind``."""
    return f"{kind}_job_{job}"


def run_of(holder: str) -> str:
    """The run key behind a lease holder name (a part's holder names its run and part)."""
    return holder.split(PART_SEPARATOR, 1)[0]


@contextmanager
def recorded_run(
    samples: fo.core.collections.SampleCollection,
    kind: str,
    counts: dict,
    *,
    part: Part | None = None,
    **record,
) -> Iterator[str]:
    """The body of a run of ``kind`` on ``samples`` (``record``: ``runs.start_run``'s params, model, fields,
    user), or of one ``part`` of a job's run; yields the run key. ``counts`` are filled in by the body."""
    if part is None:
        key = runs.start_run(samples, kind, **record)
        with runs.recorded(samples, key, counts):
            yield key
        return
    key, holder = _start_part(samples, kind, part, **record)
    error = None
    try:
        yield key
    except BaseException as failure:
        error = failure
        raise
    finally:
        try:
            _finish_part(samples, key, part, counts, error)
        finally:
            runs.release(holder)


def _start_part(samples, kind, part, *, params=None, model=None, fields=(), user=None):
    key, user, fields = run_key(kind, part.job), user or runs.current_user(), list(fields)
    holder = f"{key}{PART_SEPARATOR}{part.index}"
    runs.take_lease(samples, fields, holder, user, part.job)
    try:
        if _first_part(samples, key, part):
            params = {**(params or {}), "parts": part.total}
            runs.register(samples, key, kind, params=params, model=model, fields=fields, user=user, job=part.job)
    except BaseException:
        runs.release(holder)
        raise
    return key, holder


def _first_part(samples, key, part):
    """Whether this part is the first of its job to start (it then registers the run)."""
    dataset = samples._root_dataset
    if dataset.has_run(key):
        return False
    before = _collection().find_one_and_update(
        {"_id": _doc_id(dataset, part.job)},
        {"$setOnInsert": {"run_key": key, "total": part.total, "parts": {}}},
        upsert=True,
        return_document=ReturnDocument.BEFORE,
    )
    return before is None


def _finish_part(samples, key, part, counts, error):
    """Records the part's end; the part that makes the job whole records the run's end."""
    dataset = samples._root_dataset
    record = {"counts": counts, "error": f"{type(error).__name__}: {error}" if error else None}
    doc = _collection().find_one_and_update(
        {"_id": _doc_id(dataset, part.job)},
        {"$set": {f"parts.{part.index}": record}, "$setOnInsert": {"run_key": key, "total": part.total}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    dataset.reload()  # the run may have been registered by another process
    if len(doc["parts"]) >= doc["total"] and dataset.has_run(key):
        errors = [p["error"] for p in doc["parts"].values() if p["error"]]
        runs.record_end(samples, key, summed([p["counts"] for p in doc["parts"].values()]), "; ".join(errors) or None)


def summed(parts: list[dict]) -> dict:
    """The counts of a job from its parts' counts: numbers and nested numbers add up, lists are joined (failures
    up to ``FAILURES_KEPT``), other values are the first part's."""
    total = {}
    for counts in parts:
        for name, value in counts.items():
            total[name] = _add(total[name], value) if name in total else value
    return total


def _add(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return a
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a + b
    if isinstance(a, dict) and isinstance(b, dict):
        return summed([a, b])
    if isinstance(a, list) and isinstance(b, list):
        return (a + b)[:FAILURES_KEPT]
    return a


def _doc_id(dataset, job):
    return f"{dataset._doc.id}:{job}"


def _collection():
    return fodb.get_db_conn()[COLLECTION]
