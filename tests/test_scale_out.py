"""Scale-out: one prelabel request split into disjoint delegated shards run by concurrent workers."""

from core.prelabel import shards
from core.store import lease, runs
from harness import operators as ops


def test_id_ranges_partition_the_view(digits):
    view = digits.skip(7)
    ranges = shards.id_ranges(view, 4)
    parts = [set(shards.shard(view, low, high).values("id")) for low, high in ranges]
    assert len(ranges) == 4 and sum(len(p) for p in parts) == len(view)
    assert set().union(*parts) == set(view.values("id"))
    assert shards.id_ranges(digits.limit(2), 5) == [[a, b] for a, b in shards.id_ranges(digits.limit(2), 2)]


def test_shards_run_in_parallel_workers_and_label_each_sample_once(digits, tiny_models):
    coordinator = ops.run("prelabel", digits, {"model": tiny_models["classification"], "num_shards": 3}).result
    assert coordinator["queued_shards"] == 3 and not digits.has_field("predictions")

    ops.run_queued_in_child(digits.name, workers=2)
    digits.reload()

    states = [ops.delegated_operation(op_id) for op_id in coordinator["operation_ids"]]
    assert [s.run_state for s in states] == ["completed"] * 3
    assert sum(s.result.result["written"] for s in states) == len(digits) == digits.count("predictions")
    shard_runs = [r for r in runs.list_suite_runs(digits) if r["kind"] == "prelabel"]
    assert len(shard_runs) == 3 and all(r["status"] == "completed" for r in shard_runs)
    assert sorted(r["params"]["shard"][0] for r in shard_runs) == sorted(low for low, _ in coordinator["id_ranges"])
    assert {r["job"] for r in shard_runs} == {coordinator["job"]} and lease.live_leases(digits) == []


def test_a_shard_covers_only_its_range_when_resumed(digits, tiny_models):
    low, high = shards.id_ranges(digits, 2)[1]
    result = ops.run("prelabel", digits, {"model": tiny_models["classification"], "shard": [low, high]}).result
    assert result["written"] == len(shards.shard(digits, low, high)) < len(digits)
