"""Leases on (dataset, field): one writer at a time per field, across processes and hosts.

A lease is a document of the FiftyOne database, unique per dataset and top-level field. Taking it is one atomic
upsert that succeeds when the field is free, when its lease has expired, or when it is held by the same job (the
shards of one scaled-out request write one field together); otherwise the unique index refuses it and
``FieldBusy`` names the holder. A daemon thread renews the lease while its holder lives, so the lease of a crashed
holder expires after its TTL. Expiry uses the database server's clock, so hosts' clocks do not matter.
"""

import logging
import os
import socket
import threading
from collections.abc import Iterable
from datetime import UTC, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError, PyMongoError

import fiftyone as fo
import fiftyone.core.odm as fodb

from ..exceptions import FieldBusy

COLLECTION = "labelloop_leases"
TTL_ENV = "LABELLOOP_LEASE_TTL_SECONDS"
DEFAULT_TTL = 60.0
CLEANUP_AFTER = 3600  # seconds after expiry when MongoDB drops a dead holder's lease document
ATTEMPTS = 3  # a refused upsert is retried when the holder released or expired in between

logger = logging.getLogger(__name__)
_indexed = threading.Event()


class Lease:
    """Leases held on ``fields`` of one dataset for ``run_key``, renewed every TTL/3 until ``release``."""

    def __init__(self, dataset_id: ObjectId, fields: list[str], job: str, run_key: str, ttl: float) -> None:
        self.dataset_id, self.fields, self.job, self.run_key, self.ttl = dataset_id, fields, job, run_key, ttl
        self._released = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, name=f"lease-{run_key}", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stops renewing and gives the fields up (the job's lease stays while other runs of the job hold it)."""
        if not self._released.is_set():
            self._released.set()
            self._thread.join()
            _give_up(self.dataset_id, self.fields, self.job, self.run_key)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.release()

    def _heartbeat(self):
        while not self._released.wait(self.ttl / 3):
            try:
                self._renew()
            except PyMongoError as error:  # the next beat retries; the lease lapses only after a whole TTL
                logger.warning("Could not renew the lease of run %s: %s", self.run_key, error)

    def _renew(self):
        expires = _server_now() + timedelta(seconds=self.ttl)
        query = {**_ours(self.dataset_id, self.fields, self.job), "holders.run_key": self.run_key}
        renewed = _collection().update_many(query, {"$max": {"expires_at": expires}}).matched_count
        if renewed < len(self.fields):
            logger.warning("Run %s lost its lease on some of %s: it stalled beyond the TTL", self.run_key, self.fields)


def acquire(
    samples: fo.core.collections.SampleCollection,
    fields: Iterable[str],
    run_key: str,
    user: str,
    *,
    job: str | None = None,
    ttl: float | None = None,
) -> Lease:
    """Takes the lease on the top-level ``fields`` of ``samples``' dataset for ``run_key``; returns the ``Lease``.

    Runs with the same ``job`` share the lease. Raises ``FieldBusy`` (taking nothing) when another run holds one.
    """
    dataset = samples._root_dataset
    names = top_level(fields)
    ttl = ttl or default_ttl()
    job = job or run_key
    holder = {"run_key": run_key, "user": user, "host": socket.gethostname(), "pid": os.getpid()}
    taken = []
    try:
        for name in names:
            _take(dataset, name, job, holder, ttl)
            taken.append(name)
    except BaseException:
        _give_up(dataset._doc.id, taken, job, run_key)
        raise
    return Lease(dataset._doc.id, names, job, run_key, ttl)


def live_leases(samples: fo.core.collections.SampleCollection, fields: Iterable[str] | None = None) -> list[dict]:
    """The unexpired lease documents on the dataset of ``samples`` (only those on ``fields`` when given)."""
    query = {"dataset_id": samples._root_dataset._doc.id, "expires_at": {"$gt": _server_now()}}
    if fields is not None:
        query["field"] = {"$in": top_level(fields)}
    return list(_collection().find(query))


def problems(samples: fo.core.collections.SampleCollection, fields: Iterable[str], job: str | None = None) -> list[str]:
    """A message for each of ``fields`` that another job is writing now (for forms; empty when all are free)."""
    return [busy_message(doc) for doc in live_leases(samples, fields) if doc["job"] != job]


def busy_message(doc: dict) -> str:
    """What a refused run is told: who writes the field since when, and what to do."""
    first = doc["holders"][0] if doc["holders"] else {"run_key": "?", "user": "?", "host": "?", "pid": "?"}
    others = len(doc["holders"]) - 1
    also = f" and {others} more run(s) of its job" if others > 0 else ""
    return (
        f"Field '{doc['field']}' of dataset '{doc['dataset_name']}' is being written by run {first['run_key']}{also} "
        f"(user {first['user']} on host {first['host']}, pid {first['pid']}) since {_utc(doc['since'])}. Wait for "
        f"it to finish or write to another field; if that run has died, its lease expires at {_utc(doc['expires_at'])}."
    )


def top_level(fields: Iterable[str]) -> list[str]:
    """The sorted top-level field names of ``fields`` (a run writing ``f.detections.x`` leases ``f``)."""
    return sorted({name.split(".", 1)[0] for name in fields})


def default_ttl() -> float:
    """The lease TTL in seconds: ``$LABELLOOP_LEASE_TTL_SECONDS``, else 60."""
    return float(os.environ.get(TTL_ENV) or DEFAULT_TTL)


def _take(dataset, field, job, holder, ttl):
    for _ in range(ATTEMPTS):
        try:
            _collection().update_one(*_take_request(dataset, field, job, holder, ttl, _server_now()), upsert=True)
            return
        except DuplicateKeyError as error:  # held by another job: busy, unless it expired since (then again, now)
            doc = _collection().find_one({"dataset_id": dataset._doc.id, "field": field})
            if doc is not None and doc["expires_at"] >= _server_now():
                raise FieldBusy(busy_message(doc), doc) from error
    raise RuntimeError(f"Could not take the lease on field '{field}' after {ATTEMPTS} attempts: try again.")


def _take_request(dataset, field, job, holder, ttl, now):
    """``(query, pipeline)`` of an upsert that joins ``job``'s lease on ``field`` or takes one expired at ``now``."""
    same_job = {"$eq": ["$job", job]}
    update = {
        "dataset_name": dataset.name,
        "job": job,
        "holders": {"$concatArrays": [{"$cond": [same_job, "$holders", []]}, [{"$literal": holder}]]},
        "since": {"$cond": [same_job, "$since", now]},
        "expires_at": {"$max": ["$expires_at", now + timedelta(seconds=ttl)]},
    }
    query = {"dataset_id": dataset._doc.id, "field": field, "$or": [{"job": job}, {"expires_at": {"$lt": now}}]}
    return query, [{"$set": update}]


def _give_up(dataset_id, fields, job, run_key):
    ours = _ours(dataset_id, fields, job)
    _collection().update_many(ours, {"$pull": {"holders": {"run_key": run_key}}})
    _collection().delete_many({**ours, "holders": {"$size": 0}})


def _ours(dataset_id, fields, job):
    return {"dataset_id": dataset_id, "field": {"$in": list(fields)}, "job": job}


def _collection():
    collection = fodb.get_db_conn()[COLLECTION]
    if not _indexed.is_set():
        collection.create_index([("dataset_id", 1), ("field", 1)], unique=True)
        collection.create_index("expires_at", expireAfterSeconds=CLEANUP_AFTER)
        _indexed.set()
    return collection


def _server_now():
    return fodb.get_db_conn().command("hello")["localTime"]


def _utc(moment):
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", " UTC")
