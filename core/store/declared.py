"""Writes into a declared sample field that a person may delete meanwhile, from another process or the App.

FiftyOne deletes a field in two steps: it unsets the field's values on every sample, then saves the dataset's
schema without it. Deletion takes none of the suite's leases, and a writer's in-memory schema still declares the
field, so a write can land after the first step; once the schema is saved, its values sit in an undeclared field
and every read of the dataset fails (``FieldDoesNotExist``). ``FieldGuard.check`` runs after each write and, when
the field was deleted meanwhile, takes back every value the writer wrote and raises ``FieldDeleted``.

Either step gives the deletion away, whichever side of it the check falls on: once the schema is saved the field
is no longer declared, and once the values are unset the writer's first values (its probes) are all gone, which a
person clearing a few labels does not do. So a write that lands after the first step is found by its own check or
the next one. The one interleaving left unseen is a writer whose every write and check fall between the two steps
of one deletion (milliseconds inside ``delete_sample_field``), since it wrote nothing before the values were unset.
"""

import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

import fiftyone as fo
import fiftyone.core.odm as foo

from . import writes

PROBES = 16  # the writer's first values, whose loss all at once gives a deletion away
TAKE_BACK = 100_000  # ids per query when values are taken back


class FieldDeleted(RuntimeError):
    """The field a run was writing was deleted meanwhile; what the run had written into it was taken back."""


class FieldGuard:
    """Checks, after each write of a writer into top-level sample field ``field``, that it was not deleted."""

    def __init__(
        self, dataset: fo.Dataset, field: str, interval: float = 0.0, written: list[ObjectId] | None = None
    ) -> None:
        self.dataset, self.field, self.interval = dataset, field, interval
        self.shared = written is not None  # the ids are recorded by the owner of the list (``FieldGuards``)
        self.written: list[ObjectId] = [] if written is None else written
        self.checked_at = time.monotonic()

    def check(self, ids: Iterable[str | ObjectId], last: bool = True) -> None:
        """Records that the samples ``ids`` were just written; raises ``FieldDeleted`` after taking back every value
        this writer wrote when the field was deleted since its first write. With ``last`` False, a writer of many
        small batches skips the check until ``interval`` seconds have passed since the previous one (values written
        meanwhile into a deleted field are taken back by the next check); its last write must be checked."""
        if not self.shared:
            self.written += [ObjectId(_id) for _id in ids]
        if not last and time.monotonic() - self.checked_at < self.interval:
            return
        self.checked_at = time.monotonic()
        if not self.written or (self._declared() and not self._probes_unset()):
            return
        self._take_back()
        raise FieldDeleted(
            f"Field '{self.field}' was deleted while this run was writing it: what the run had written into it was "
            "removed, so the dataset stays readable. Run again to write the field anew."
        )

    def _declared(self) -> bool:
        query = {"_id": self.dataset._doc.id, "sample_fields.name": self.field}
        return bool(foo.get_db_conn().datasets.count_documents(query, limit=1))

    def _probes_unset(self) -> bool:
        """Whether the probe samples that still exist all lost their value (a deletion unsets every one)."""
        probes, collection = {"_id": {"$in": self.written[:PROBES]}}, self.dataset._sample_collection
        kept = collection.count_documents({**probes, self.field: {"$exists": True}}, limit=1)
        return not kept and bool(collection.count_documents(probes, limit=1))

    def _take_back(self) -> None:
        for start in range(0, len(self.written), TAKE_BACK):  # one query of a million ids exceeds 16 MB
            query = {"_id": {"$in": self.written[start : start + TAKE_BACK]}, self.field: {"$exists": True}}
            self.dataset._sample_collection.update_many(query, {"$unset": {self.field: ""}})


class FieldGuards:
    """A ``FieldGuard`` per top-level sample field of ``fields``; label attributes (``<list path>.<attribute>``) need
    none, since a deletion removes the label lists their writes must match."""

    def __init__(self, dataset: fo.Dataset, fields: Iterable[str]) -> None:
        self.written: list[ObjectId] = []  # one list for every guard: a million samples' ids are kept once
        self.guards = [FieldGuard(dataset, name, written=self.written) for name in fields if "." not in name]

    def check(self, ids: Iterable[str | ObjectId]) -> None:
        """``FieldGuard.check`` of every field after the samples ``ids`` were written."""
        self.written += [_id if isinstance(_id, ObjectId) else ObjectId(_id) for _id in ids]
        for guard in self.guards:
            guard.check(())


def set_values(
    samples: fo.core.collections.SampleCollection, updates: Mapping[str, Mapping[str, Any]], chunk: int
) -> None:
    """Writes each sample's ``updates`` ({sample id: {field: value}}) into declared top-level sample fields, ``chunk``
    samples at a time in raw bulk writes (the values must be plain: numbers, strings, None), each checked by a
    ``FieldGuard`` per field."""
    fields = sorted({name for update in updates.values() for name in update})
    guards, ids = FieldGuards(samples._root_dataset, fields), list(updates)
    for start in range(0, len(ids), chunk):
        part = [ObjectId(_id) for _id in ids[start : start + chunk]]
        writes.bulk_set(samples._root_dataset, part, [updates[str(_id)] for _id in part])
        guards.check(part)


def set_all(samples: fo.core.collections.SampleCollection, ids: list[str], update: Mapping[str, Any]) -> None:
    """Sets the declared top-level sample fields of ``update`` to its values on the samples ``ids``, server side,
    ``TAKE_BACK`` samples per query, each checked by a ``FieldGuard`` per field."""
    guards, collection = FieldGuards(samples._root_dataset, list(update)), samples._root_dataset._sample_collection
    now = datetime.now(UTC)
    for start in range(0, len(ids), TAKE_BACK):
        part = [ObjectId(_id) for _id in ids[start : start + TAKE_BACK]]
        collection.update_many({"_id": {"$in": part}}, {"$set": {**update, "last_modified_at": now}})
        guards.check(part)
