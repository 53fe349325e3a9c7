"""Schema changes that several processes may make to one dataset at the same moment.

FiftyOne saves a dataset's list of fields whole, so two processes declaring fields at once can drop each other's
declaration (the later save wins; seen with two users pre-labelling different fields of one dataset). ``changing``
serialises the suite's schema changes on a dataset through a short lease and refreshes the dataset first, so every
change starts from the latest list of fields.

A rebuild of a dataset's sample classes (FiftyOne's ``reload``) leaves every view a person iterated before it on the
old class, and such a view fails to load samples once a field is added (a notebook's ``view`` after an operator
declared one). So ``refresh`` re-reads the dataset's document and rebuilds only when another process changed the
stored fields, and ``keeping_sample_classes`` undoes the rebuild FiftyOne's operator executor does on every call.
"""

import contextlib
import secrets
import time
from collections.abc import Iterator

import fiftyone as fo

from ..exceptions import FieldBusy
from . import lease, runs

SCHEMA = "__schema__"
TTL = 10.0  # seconds; a change takes milliseconds, a dead holder blocks others this long at most
WAIT = 60.0
CLASSES = ("_sample_doc_cls", "_frame_doc_cls")  # the document classes of a dataset's samples and frames


@contextlib.contextmanager
def changing(samples: fo.core.collections.SampleCollection) -> Iterator[fo.Dataset]:
    """Holds the dataset's schema lease (waiting up to a minute for another process) with the dataset reloaded."""
    dataset = samples._root_dataset
    held = _acquire(dataset)
    try:
        refresh(dataset)
        yield dataset
    finally:
        held.release()


def _acquire(dataset):
    key, deadline = f"schema_{secrets.token_hex(4)}", time.monotonic() + WAIT
    while True:
        try:
            return lease.acquire(dataset, [SCHEMA], key, runs.current_user(), ttl=TTL)
        except FieldBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)  # a brief poll: the holder releases within milliseconds


def refresh(dataset: fo.Dataset) -> None:
    """Re-reads ``dataset``'s document from the database, and rebuilds its sample and frame classes only when the
    stored fields differ from those this process knows (another process declared or deleted some)."""
    known = _fields(dataset)
    dataset._reload()  # the document only: the sample classes, which views hold on to, stay
    if _fields(dataset) != known:
        dataset.reload()


def _fields(dataset) -> tuple[list, list]:
    doc = dataset._doc
    return [f.to_dict() for f in doc.sample_fields], [f.to_dict() for f in doc.frame_fields or ()]


@contextlib.contextmanager
def keeping_sample_classes(dataset: fo.Dataset) -> Iterator[None]:
    """Runs the block (an operator call: FiftyOne's executor loads the dataset with a hard reload), then refreshes
    ``dataset`` and gives it back the sample and frame classes it had before, updated to the stored fields, so views
    built and iterated before the block still load their samples, new fields included."""
    kept = {attribute: getattr(dataset, attribute) for attribute in CLASSES}
    try:
        yield
    finally:
        refresh(dataset)
        rebuilt = [a for a, old in kept.items() if old is not None and getattr(dataset, a) not in (None, old)]
        for attribute in rebuilt:
            _take_fields(kept[attribute], getattr(dataset, attribute))
            setattr(dataset, attribute, kept[attribute])
        if rebuilt:
            dataset._reload_docs(hard=True)  # samples in memory back on the kept classes


def _take_fields(old: type, new: type) -> None:
    """Makes document class ``old`` declare exactly the fields of ``new`` (FiftyOne's own in-place edit of a class's
    fields, as in ``_declare_field`` / ``_undeclare_field``)."""
    for name in set(old._fields) - set(new._fields):
        delattr(old, name)
    old._fields.clear()
    old._fields.update(new._fields)
    old._fields_ordered = new._fields_ordered
    for name, field in new._fields.items():
        setattr(old, name, field)
