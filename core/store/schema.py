"""Schema changes that several processes may make to one dataset at the same moment.

FiftyOne saves a dataset's list of fields whole, so two processes declaring fields at once can drop each other's
declaration (the later save wins; seen with two users pre-labelling different fields of one dataset). ``changing``
serialises the suite's schema changes on a dataset through a short lease and reloads the dataset first, so every
change starts from the latest list of fields.
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


@contextlib.contextmanager
def changing(samples: fo.core.collections.SampleCollection) -> Iterator[fo.Dataset]:
    """Holds the dataset's schema lease (waiting up to a minute for another process) with the dataset reloaded."""
    dataset = samples._root_dataset
    held = _acquire(dataset)
    try:
        dataset.reload()
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
