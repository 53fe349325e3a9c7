"""Disjoint shards of a collection by sample-id range, stable while other shards write to the samples."""

import fiftyone as fo


def id_ranges(samples: fo.core.collections.SampleCollection, num_shards: int) -> list[list[str | None]]:
    """Up to ``num_shards`` ``[low, high)`` sample-id ranges covering ``samples`` (``high`` None: no upper bound)."""
    ids = sorted(samples.values("id"))
    num_shards = max(1, min(num_shards, len(ids)))
    starts = [ids[len(ids) * k // num_shards] for k in range(num_shards)]
    return [[low, high] for low, high in zip(starts, starts[1:] + [None], strict=True)]


def shard(samples: fo.core.collections.SampleCollection, low: str, high: str | None = None) -> fo.DatasetView:
    """The samples of ``samples`` whose id is in ``[low, high)``."""
    in_range = [{"$gte": ["$_id", {"$toObjectId": low}]}]
    if high is not None:
        in_range.append({"$lt": ["$_id", {"$toObjectId": high}]})
    return samples.match({"$expr": {"$and": in_range}})


def as_view(samples: fo.core.collections.SampleCollection) -> fo.DatasetView:
    """A view of ``samples`` (datasets become their full view)."""
    return samples.view() if isinstance(samples, fo.Dataset) else samples
