"""Scale-out: one request split into delegated operations over disjoint id ranges of the target view.

The shards of one request are one job: they share the lease on the output field (see ``core.store.lease``).
"""

import uuid

import fiftyone.operators as foo

from ..core.prelabel import shards


def queue_shards(operator, view, params, num_shards):
    """Queues one delegated run of ``operator`` per id range of ``view``; returns their operation ids and job id."""
    ranges = shards.id_ranges(view, num_shards)
    job = uuid.uuid4().hex
    queued = []
    for low, high in ranges:
        shard_params = {**params, "num_shards": 1, "shard": [low, high], "job": job, "view_target": None}
        result = foo.execute_operator(
            operator.uri, ctx={"view": shards.as_view(view), "params": shard_params}, request_delegation=True
        )
        queued.append(str(result.result["id"]))
    return {"queued_shards": len(queued), "operation_ids": queued, "id_ranges": ranges, "job": job}


def shard_view(view, params):
    """The part of ``view`` this run covers: its shard when it is one, else all of it."""
    shard = params.get("shard")
    return shards.shard(view, *shard) if shard else view
