"""Scale-out: one request split into delegated operations over disjoint id ranges of the target view, or into the
tasks of FiftyOne's distributed execution (FiftyOne Enterprise orchestrators give each task its share of the
view as ``ctx.target_view()``).

The parts of one request are one job: one run record and one lease on the output field (see ``core.store.jobs``).
"""

import uuid

import fiftyone.operators as foo
from fiftyone.operators.delegated import DelegatedOperationService

from ..core.prelabel import shards
from ..core.store import jobs


def queue_shards(operator, view, params, num_shards):
    """Queues one delegated run of ``operator`` per id range of ``view``; returns their operation ids and job id."""
    ranges = shards.id_ranges(view, num_shards)
    job = uuid.uuid4().hex
    queued = []
    for index, (low, high) in enumerate(ranges):
        shard_params = {**params, "num_shards": 1, "shard": [low, high], "view_target": None}
        shard_params.update(job=job, part=index, parts=len(ranges))
        result = foo.execute_operator(
            operator.uri, ctx={"view": shards.as_view(view), "params": shard_params}, request_delegation=True
        )
        queued.append(str(result.result["id"]))
    return {"queued_shards": len(queued), "operation_ids": queued, "id_ranges": ranges, "job": job}


def shard_view(view, params):
    """The part of ``view`` this run covers: its shard when it is one, else all of it."""
    shard = params.get("shard")
    return shards.shard(view, *shard) if shard else view


def part(ctx) -> jobs.Part | None:
    """The part of a job this run is: a shard queued by ``queue_shards``, or one task of FiftyOne's distributed
    execution; None when it is the whole request."""
    params = ctx.params
    if params.get("job"):
        return jobs.Part(params["job"], str(params.get("part", 0)), int(params.get("parts") or 1))
    tasks = ctx.num_distributed_tasks or (ctx.pipeline.num_distributed_tasks if ctx.pipeline else 0)
    operation = ctx._delegated_operation_id
    return _distributed_part(operation, tasks) if tasks and tasks > 1 and operation else None


def _distributed_part(operation_id, total):
    """The part delegated operation ``operation_id`` is of its parent's job of ``total`` distributed tasks."""
    parent = DelegatedOperationService().get(operation_id).parent_id
    return jobs.Part(str(parent or operation_id), str(operation_id), total)
