"""Scale-out: one prelabel request split into disjoint delegated shards run by concurrent workers."""

import fiftyone.operators as foo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionContext

from core.prelabel import shards
from core.store import admin, fields, jobs, lease, runs
from harness import operators as ops


def test_id_ranges_partition_the_view(digits):
    view = digits.skip(7)
    ranges = shards.id_ranges(view, 4)
    parts = [set(shards.shard(view, low, high).values("id")) for low, high in ranges]
    assert len(ranges) == 4 and sum(len(p) for p in parts) == len(view)
    assert set().union(*parts) == set(view.values("id"))
    assert shards.id_ranges(digits.limit(2), 5) == [[a, b] for a, b in shards.id_ranges(digits.limit(2), 2)]


def test_a_4_way_split_on_2_workers_labels_each_sample_once_under_one_run(digits, tiny_models):
    coordinator = ops.run("prelabel", digits, {"model": tiny_models["classification"], "num_shards": 4}).result
    assert coordinator["queued_shards"] == 4 and not digits.has_field("predictions")

    ops.run_queued_in_child(digits.name, workers=2)
    digits.reload()

    states = [ops.delegated_operation(op_id) for op_id in coordinator["operation_ids"]]
    assert [s.run_state for s in states] == ["completed"] * 4
    assert sum(s.result.result["written"] for s in states) == len(digits) == digits.count("predictions")
    job_runs = [r for r in runs.list_suite_runs(digits) if r["kind"] == "prelabel"]
    assert len(job_runs) == 1 and job_runs[0]["status"] == "completed" and job_runs[0]["job"] == coordinator["job"]
    assert job_runs[0]["params"]["parts"] == 4 and job_runs[0]["counts"]["written"] == len(digits)
    assert set(digits.distinct(f"predictions.{fields.PRELABEL_RUN}")) == {job_runs[0]["key"]}
    assert {s.result.result["run_key"] for s in states} == {job_runs[0]["key"]} and lease.live_leases(digits) == []


def test_a_shard_covers_only_its_range_when_resumed(digits, tiny_models):
    low, high = shards.id_ranges(digits, 2)[1]
    result = ops.run("prelabel", digits, {"model": tiny_models["classification"], "shard": [low, high]}).result
    assert result["written"] == len(shards.shard(digits, low, high)) < len(digits)


def test_the_job_run_completes_when_a_lost_part_is_rerun(digits, tiny_models):
    coordinator = ops.run("prelabel", digits, {"model": tiny_models["classification"], "num_shards": 4}).result
    service = DelegatedOperationService()
    *done, lost = [ops.delegated_operation(op_id) for op_id in coordinator["operation_ids"]]
    for operation in done:
        service.execute_operation(operation)
    service.set_failed(lost.id, result={"error": "worker lost"})  # what an orchestrator records for a lost worker
    key = jobs.run_key("prelabel", coordinator["job"])
    assert _status(digits, key) == admin.INTERRUPTED and digits.count("predictions") < len(digits)

    service.rerun_operation(lost.id)  # the App's "Re-run", on a healthy worker
    service.execute_queued_operations(dataset_name=digits.name)
    assert _status(digits, key) == runs.COMPLETED and digits.count("predictions") == len(digits)
    assert runs.list_suite_runs(digits)[0]["counts"]["written"] == len(digits)


def test_a_failed_part_fails_the_job_run_and_its_rerun_completes_it(digits):
    for index, error in (("0", None), ("1", RuntimeError("disk full"))):
        try:
            with jobs.recorded_run(digits, "demo", {"n": 1}, part=jobs.Part("job1", index, 2), fields=["f"]):
                if error:
                    raise error
        except RuntimeError:
            pass
    record = runs.list_suite_runs(digits)[0]
    assert record["status"] == runs.FAILED and "disk full" in record["error"] and record["counts"] == {"n": 2}
    with jobs.recorded_run(digits, "demo", {"n": 1}, part=jobs.Part("job1", "1", 2), fields=["f"]):
        pass
    record = runs.list_suite_runs(digits)[0]
    assert record["status"] == runs.COMPLETED and record["error"] is None and lease.live_leases(digits) == []


def test_parts_counts_add_up():
    parts = [{"n": 1, "by": {"a": 2}, "failures": ["x"], "task": "c"}, {"n": 2, "by": {"a": 1, "b": 1}, "failures": []}]
    assert jobs.summed(parts) == {"n": 3, "by": {"a": 3, "b": 1}, "failures": ["x"], "task": "c"}


def test_distributed_tasks_of_one_operation_are_one_job_with_one_run(digits, tiny_models, monkeypatch):
    """FiftyOne Enterprise queues one child operation per task, each on its share of the view, with the parent's
    id; here the children are queued the same way and the context reports the number of tasks as Enterprise's."""
    operators = [foo.get_operator(ops.uri(name)) for name in ("prelabel", "compute_embeddings")]
    assert all(op.config.allow_distributed_execution is False for op in operators)  # FiftyOne forces it off here
    assert all(type(op).distributed for op in operators)  # what the operators declare for FiftyOne Enterprise
    monkeypatch.setattr(ExecutionContext, "num_distributed_tasks", property(lambda ctx: 2))
    service = DelegatedOperationService()
    parent = service.queue_operation(operator=ops.uri("prelabel"), context=_context(digits.view(), {}))
    params = {"model": tiny_models["classification"], "output_field": "predictions"}
    tasks = [
        service.queue_operation(operator=ops.uri("prelabel"), context=_context(half, params))
        for half in (digits.limit(len(digits) // 2), digits.skip(len(digits) // 2))
    ]
    service._repo._collection.update_many({"_id": {"$in": [t.id for t in tasks]}}, {"$set": {"parent_id": parent.id}})
    service.set_completed(parent.id)  # here only the children run

    service.execute_queued_operations(dataset_name=digits.name)

    results = [ops.delegated_operation(t.id).result.result for t in tasks]
    key = jobs.run_key("prelabel", str(parent.id))
    assert [r["run_key"] for r in results] == [key, key] and sum(r["written"] for r in results) == len(digits)
    job_runs = [r for r in runs.list_suite_runs(digits) if r["kind"] == "prelabel"]
    assert [(r["key"], r["status"], r["params"]["parts"]) for r in job_runs] == [(key, runs.COMPLETED, 2)]
    assert digits.count("predictions") == len(digits) and lease.live_leases(digits) == []


def _context(view, params):
    return ExecutionContext({"dataset_name": view._root_dataset.name, "view": view._serialize(), "params": params})


def _status(dataset, key):
    return next(r["status"] for r in admin.list_runs(dataset) if r["key"] == key)
