"""Provenance of the suite's work, recorded as FiftyOne runs on the dataset.

Every piece of long work (pre-labelling, quality scores, CVAT round trips, comparisons) is one run: who ran
what, when, on which host, with which model and parameters, which fields it wrote (and which of them it created)
and how it ended. A run holds the lease on the fields it writes from ``start_run`` to ``finish_run`` (which
``recorded`` calls when the run's body ends), so two runs never write one field at once (see ``lease``).
"""

import getpass
import secrets
import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import fiftyone as fo

from . import lease
from .fields import model_versions

SUITE = "labelloop"
RUNNING, COMPLETED, FAILED = "running", "completed", "failed"
RECORDED = "user host started_at finished_at status params model fields created_fields job counts error".split()

_leases = {}  # run key -> the lease this process holds for the run until finish_run


def start_run(
    samples: fo.core.collections.SampleCollection,
    kind: str,
    *,
    params: dict | None = None,
    model: str | None = None,
    fields: Iterable[str] = (),
    user: str | None = None,
    job: str | None = None,
    key: str | None = None,
) -> str:
    """Registers a run of ``kind`` in state ``running`` on ``samples`` and returns its key (``key`` when given,
    e.g. made with ``new_run_key`` to name what the run creates).

    The run takes the lease on the ``fields`` it will write until ``finish_run``: ``exceptions.FieldBusy`` (nothing
    registered) when another run is writing one of them. Runs of one ``job`` (the shards of a scaled-out request)
    share the lease. The fields that do not exist yet are recorded as ``created_fields``. When registering fails,
    the lease is released and a run registered nonetheless is recorded as failed.
    """
    key = key or new_run_key(kind)
    user = user or current_user()
    fields = list(fields)
    take_lease(samples, fields, key, user, job)
    try:
        register(samples, key, kind, params=params, model=model, fields=fields, user=user, job=job)
    except BaseException as error:
        try:
            if samples._root_dataset.has_run(key):  # registered, then failed: not left running
                record_end(samples, key, {}, error)
        finally:
            release(key)
        raise
    return key


def register(
    samples: fo.core.collections.SampleCollection,
    key: str,
    kind: str,
    *,
    params: dict | None,
    model: str | None,
    fields: list[str],
    user: str,
    job: str | None,
) -> None:
    """Registers run ``key`` of ``kind`` in state ``running`` (no lease: see ``start_run``)."""
    config = samples.init_run(
        method=kind,
        suite=SUITE,
        user=user,
        host=socket.gethostname(),
        started_at=now_iso(),
        finished_at=None,
        status=RUNNING,
        params=dict(params or {}),
        model=model,
        fields=fields,
        created_fields=[name for name in fields if not samples._root_dataset.has_field(name)],
        job=job,
        counts={},
        error=None,
    )
    samples.register_run(key, config)


def take_lease(
    samples: fo.core.collections.SampleCollection, fields: list[str], holder: str, user: str, job: str | None
) -> None:
    """Takes the lease on ``fields`` (if any) for ``holder`` (a run key) until ``release(holder)``."""
    if fields:
        _leases[holder] = lease.acquire(samples, fields, holder, user, job=job)


def finish_run(
    samples: fo.core.collections.SampleCollection,
    key: str,
    counts: dict | None = None,
    error: BaseException | str | None = None,
) -> None:
    """Marks run ``key`` completed (or failed, when ``error`` is given) with its final counts; releases its lease."""
    try:
        record_end(samples, key, counts, error)
    finally:
        release(key)


def record_end(
    samples: fo.core.collections.SampleCollection,
    key: str,
    counts: dict | None,
    error: BaseException | str | None = None,
) -> None:
    """Records run ``key`` as completed (or failed with ``error``) with ``counts``; a lease stays held."""
    dataset = samples._root_dataset
    config = dataset.get_run_info(key).config
    config.status = FAILED if error else COMPLETED
    config.finished_at = now_iso()
    config.counts = dict(counts or {})
    config.error = str(error) if error else None
    dataset.update_run_config(key, config)


def release(holder: str) -> None:
    """Gives up the lease ``holder`` took (see ``take_lease``), if any."""
    held = _leases.pop(holder, None)
    if held:
        held.release()


@dataclass
class Recording:
    """The counts of a run in progress, recorded as they stand when its body ends (see ``recorded``)."""

    counts: dict = field(default_factory=dict)


@contextmanager
def recorded(
    samples: fo.core.collections.SampleCollection,
    key: str,
    counts: dict | None = None,
    on_failure: Callable[[BaseException], BaseException | None] | None = None,
) -> Iterator[Recording]:
    """The body of run ``key``; yields the ``Recording`` whose counts (``counts`` when given) the body fills in or
    replaces. A successful run is recorded completed with its counts; a failed one (recording its completion
    included) failed with the counts as they stand and the error, which is raised again. ``on_failure(error)``, when
    given, first takes back what the body left (the run still holds its lease) and may return an exception to raise
    instead, from the error. The lease is released whatever happens."""
    run = Recording({} if counts is None else counts)
    try:
        yield run
        record_end(samples, key, run.counts)
    except BaseException as error:
        try:
            replacement = on_failure(error) if on_failure else None
        finally:
            finish_run(samples, key, counts=run.counts, error=error)
        if replacement is None:
            raise
        raise replacement from error
    release(key)


def list_suite_runs(samples: fo.core.collections.SampleCollection) -> list[dict]:
    """The suite's runs on the dataset of ``samples``, newest first, as plain dicts."""
    dataset = samples._root_dataset
    records = [_record(key, dataset.get_run_info(key)) for key in dataset.list_runs(suite=SUITE)]
    return sorted(records, key=lambda r: r["started_at"] or "", reverse=True)


def writer_model(samples: fo.core.collections.SampleCollection, field_name: str) -> str | None:
    """The identity of the model behind ``field_name`` (what a run reading it records): the model versions its
    labels carry, else the model of the latest suite run that wrote it; None when unknown."""
    versions = model_versions(samples, field_name)
    if versions:
        return ", ".join(versions)
    writers = (r["model"] for r in list_suite_runs(samples) if field_name in (r["fields"] or []) and r["model"])
    return next(writers, None)


def new_run_key(kind: str) -> str:
    """A unique, valid run key such as ``prelabel_20261121_105400_3fa2``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    return f"{kind}_{stamp}_{secrets.token_hex(2)}"


def current_user() -> str:
    """The operating-system user running this process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _record(key, info):
    config = info.config
    return {"key": key, "kind": config.method, **{name: getattr(config, name, None) for name in RECORDED}}


def now_iso() -> str:
    """The current UTC time in ISO 8601, to the millisecond (how runs record their times)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")
