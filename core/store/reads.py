"""Reading a view's samples in chunks of raw documents from one aggregation cursor, the next chunk read in a
background thread while the caller works on the current one (MongoDB and the decoding overlap the caller's work).

Only the projected values are read, without FiftyOne's per-value parsing (ids come back as ``ObjectId``); the view's
stages apply (a ``filter_labels`` view yields only the labels it keeps)."""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import fiftyone as fo


def chunks(samples: fo.core.collections.SampleCollection, projection: dict, size: int) -> Iterator[list[dict]]:
    """The documents of ``samples`` with the fields of ``projection`` (a ``$project`` stage's spec; ``_id`` is
    always included), ``size`` at a time, in the view's order."""
    pipeline = samples._pipeline() + [{"$project": projection}]
    cursor = samples._root_dataset._sample_collection.aggregate(pipeline, allowDiskUse=True, batchSize=size)
    with cursor, ThreadPoolExecutor(max_workers=1) as reader:
        ahead = reader.submit(lambda: list(islice(cursor, size)))
        while documents := ahead.result():
            ahead = reader.submit(lambda: list(islice(cursor, size)))
            yield documents


def whole_chunks(samples: fo.core.collections.SampleCollection, projection: dict, size: int) -> Iterator[list[dict]]:
    """As ``chunks``, but of each sample's whole document: the labels the view filters out are read too."""
    dataset = samples._root_dataset
    if isinstance(samples, fo.Dataset) or not samples._stages:
        yield from chunks(dataset, projection, size)
        return
    ids = samples.values("id")
    for start in range(0, len(ids), size):
        yield from chunks(dataset.select(ids[start : start + size], ordered=True), projection, size)
