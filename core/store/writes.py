"""Bulk writes of a run's results, by sample id and by label id, and their rollback when the run fails.

An update is a dict of one sample's values: a sample field by name, a label attribute of the labels of a list by
the key ``(list_path, attribute)`` with ``{label id: value}`` in list order (e.g. ``("ground_truth.detections",
"mistakenness"): {ObjectId(...): 0.3}``). Label attributes are written to the label with that id wherever it now
sits in its list (``arrayFilters``), so labels that people add, move or delete meanwhile keep their values and deleted
ones are not recreated.
"""

import gc
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import reduce
from typing import Any

from bson import ObjectId
from pymongo import UpdateOne

import fiftyone as fo

from . import runs


def label_values(
    list_path: str, label_ids: Iterable[ObjectId] | None, attribute: str, values: Iterable[Any]
) -> dict[tuple[str, str], dict[ObjectId, Any]]:
    """The update entry that sets ``attribute`` of each label of ``list_path`` (ids in list order) to its value (no
    entry without labels)."""
    labelled = dict(zip(label_ids or [], values, strict=True))
    return {(list_path, attribute): labelled} if labelled else {}


def bulk_set(dataset: fo.Dataset, ids: Iterable[ObjectId], updates: Iterable[dict]) -> None:
    """Writes every sample's update in one unordered bulk write (one ``$set`` per sample)."""
    now = datetime.now(UTC)
    operations = [_operation(_id, update, now) for _id, update in zip(ids, updates, strict=True)]
    if operations:
        dataset._sample_collection.bulk_write(operations, ordered=False)


def _operation(sample_id, update, now):
    values, query, filters = {"last_modified_at": now}, {"_id": sample_id}, {}
    for key, value in update.items():
        if isinstance(key, tuple):
            list_path, attribute = key
            for label_id, label_value in value.items():
                name = filters.setdefault(label_id, f"l{len(filters)}")
                values[f"{list_path}.$[{name}].{attribute}"] = label_value
            query[list_path] = {"$type": "array"}  # a list someone removed meanwhile is left alone
        else:
            values[key] = value
    array_filters = [{f"{name}._id": label_id} for label_id, name in filters.items()] or None
    return UpdateOne(query, {"$set": values}, array_filters=array_filters)


class Rollback:
    """Takes back what a run wrote to ``fields`` (sample fields and ``<list path>.<attribute>`` label attributes):
    ``save(ids)`` keeps the values of the fields that existed before the samples ``ids`` are written, ``undo()``
    runs the run's own ``steps`` (e.g. deleting a brain run it saved), restores the kept values and deletes the
    fields the run created, and the label attributes it declared under the fields that existed."""

    def __init__(self, dataset: fo.Dataset, fields: list[str]) -> None:
        self.dataset = dataset
        self.created = [name for name in fields if not dataset.has_field(name)]
        self.existing = [name for name in fields if name not in self.created]
        self.declared = set(self._nested_paths())
        self.saved = []
        self.steps: list[Callable[[], None]] = []

    def save(self, ids: Iterable[ObjectId]) -> None:
        """Keeps the current values of the existing fields of the samples ``ids``, before the run writes them."""
        if not self.existing:
            return
        projection = dict.fromkeys(self.existing, 1)
        projection.update({f"{name.rpartition('.')[0]}._id": 1 for name in self.existing if "." in name})
        documents = self.dataset._sample_collection.find({"_id": {"$in": list(ids)}}, projection)
        self.saved += [(doc["_id"], self._values(doc)) for doc in documents]

    def undo(self) -> None:
        """Runs the ``steps``, restores the kept values and deletes the fields and label attributes the run
        declared, skipping the fields that are no longer declared (a person may have deleted one meanwhile: values
        restored there would be left undeclared)."""
        for step in reversed(self.steps):
            step()
        self.dataset.reload()  # the saved schema, without the fields deleted meanwhile
        if self.saved:
            ids, updates = zip(*self.saved, strict=True)
            bulk_set(self.dataset, ids, [self._declared(update) for update in updates])
        new = sorted(set(self._nested_paths()) - self.declared, key=lambda path: path.count("."))
        for name in self.created + new:
            if self.dataset.has_field(name):
                self.dataset.delete_sample_field(name)

    def _nested_paths(self):
        """The declared paths inside the existing top-level fields (label attributes a run may declare)."""
        tops = {name.split(".", 1)[0] for name in self.existing}
        schema = self.dataset.get_field_schema(flat=True) if tops else {}
        return [path for path in schema if path.split(".", 1)[0] in tops and "." in path]

    def _declared(self, update):
        """``update`` without the sample fields that are no longer declared (label attributes need no check)."""
        return {key: value for key, value in update.items() if isinstance(key, tuple) or self.dataset.has_field(key)}

    def _values(self, document):
        update = {}
        for name in self.existing:
            list_path, _, attribute = name.rpartition(".")
            if not list_path:
                update[name] = document.get(name)
                continue
            labels = reduce(lambda value, part: (value or {}).get(part), list_path.split("."), document) or []
            ids, values = [label["_id"] for label in labels], [label.get(attribute) for label in labels]
            update.update(label_values(list_path, ids, attribute, values))
        return update


@contextmanager
def rolled_back_on_failure(
    samples: fo.core.collections.SampleCollection,
    key: str,
    fields: list[str],
    counts: dict,
    what: str,
    keep: tuple[type[Exception], ...] = (ValueError,),
) -> Iterator[tuple[Rollback, runs.Recording]]:
    """The body of run ``key``, which writes ``fields``, recorded with ``counts`` unless it replaces them (see
    ``runs.recorded``); yields its ``Rollback`` and ``Recording``. When it fails, its writes are taken back, the run
    is recorded as failed and the error is raised again (one of ``keep``, e.g. a ``ValueError``, which explains a
    problem of the request, as it is; others saying that ``what`` failed and was taken back)."""
    rollbacks = []

    def taken_back(error: BaseException) -> RuntimeError | None:
        for rollback in rollbacks:
            rollback.undo()
        if isinstance(error, keep) or not isinstance(error, Exception):
            return None
        return RuntimeError(f"The {what} failed and what it had written was taken back: {error}")

    with runs.recorded(samples, key, counts, on_failure=taken_back) as run:
        rollbacks.append(Rollback(samples._root_dataset, fields))
        yield rollbacks[0], run


WRITERS = 2
"""Chunks written at once by ``written_behind``: MongoDB serves a connection's bulk write on one thread, so two keep
both cores busy (compare_models on 100,000 samples: 59 -> 42 s)."""


def written_behind(chunks: Iterable[Any], write: Callable[[Any], None], done: Callable[[Any], None]) -> None:
    """Calls ``write(chunk)`` for each of ``chunks`` in background threads, ``WRITERS`` chunks at a time, while the
    next chunk is computed, then ``done(chunk)`` in this thread once it is written, in the order of ``chunks`` (e.g. to
    report progress). Raises the first error of either side, after the writes under way have ended (so a rollback
    never races a write).

    Python's cyclic garbage collector is paused meanwhile: the chunks' millions of small lists and dicts hold no
    cycles (reference counting frees them chunk by chunk), and its repeated full passes over them cost more than
    reading and writing them (3-6x on 5,000 samples of ~30 objects)."""
    with _collector_paused(), ThreadPoolExecutor(max_workers=WRITERS) as writer:
        pending = []
        for chunk in chunks:
            _finish(pending, done, WRITERS - 1)
            pending.append((writer.submit(write, chunk), chunk))
        _finish(pending, done)


def _finish(pending: list, done: Callable[[Any], None], left: int = 0) -> None:
    """Waits for the oldest ``(future, chunk)`` writes of ``pending`` until ``left`` remain, and reports each chunk
    ``done``."""
    while len(pending) > left:
        future, chunk = pending.pop(0)
        future.result()
        done(chunk)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector, if it runs, for the duration of the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
