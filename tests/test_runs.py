"""core.store.runs: the suite's provenance records on a dataset."""

import pytest

from core.store import lease, runs


def test_a_run_records_who_what_when_and_how_it_ended(shapes):
    key = runs.start_run(shapes, "prelabel", params={"threshold": 0.5}, model="hf:/models/x", fields=["predictions"])
    [running] = runs.list_suite_runs(shapes)
    assert running["key"] == key and running["kind"] == "prelabel" and running["status"] == runs.RUNNING
    assert running["user"] and running["host"] and running["started_at"] and running["finished_at"] is None
    assert running["params"] == {"threshold": 0.5} and running["model"] == "hf:/models/x"
    assert running["fields"] == ["predictions"]

    runs.finish_run(shapes, key, counts={"labels": 12})
    [done] = runs.list_suite_runs(shapes)
    assert done["status"] == runs.COMPLETED and done["counts"] == {"labels": 12} and done["finished_at"]


def test_a_failed_run_keeps_its_error(shapes):
    key = runs.start_run(shapes.limit(3), "quality")
    runs.finish_run(shapes, key, error=ValueError("no logits in field 'predictions'"))
    [failed] = runs.list_suite_runs(shapes)
    assert failed["status"] == runs.FAILED and "no logits" in failed["error"]


def test_only_the_suites_runs_are_listed_newest_first(shapes):
    shapes.register_run("someone_else", shapes.init_run(method="other"))
    first = runs.start_run(shapes, "prelabel")
    second = runs.start_run(shapes, "prelabel")
    assert first != second
    listed = [r["key"] for r in runs.list_suite_runs(shapes)]
    assert set(listed) == {first, second} and "someone_else" not in listed


def test_run_on_a_view_is_visible_from_the_dataset(shapes):
    key = runs.start_run(shapes.take(5, seed=1), "quality")
    assert [r["key"] for r in runs.list_suite_runs(shapes)] == [key]


@pytest.mark.parametrize("kind", ["prelabel", "compare_models"])
def test_run_keys_are_valid_identifiers(kind):
    key = runs.new_run_key(kind)
    assert key.startswith(kind + "_") and key.isidentifier()


def test_recorded_completes_with_the_counts_or_fails_with_the_error_and_releases_the_lease(shapes):
    key = runs.start_run(shapes, "quality", fields=["predictions"])
    with runs.recorded(shapes, key) as run:
        run.counts["labels"] = 3
    [done] = runs.list_suite_runs(shapes)
    assert done["status"] == runs.COMPLETED and done["counts"] == {"labels": 3} and done["error"] is None

    key = runs.start_run(shapes, "quality", fields=["predictions"])
    with pytest.raises(KeyError, match="no logits"), runs.recorded(shapes, key, {"samples": 5}) as run:
        run.counts["scored"] = 2
        raise KeyError("no logits")
    failed = next(r for r in runs.list_suite_runs(shapes) if r["key"] == key)
    assert failed["status"] == runs.FAILED and failed["counts"] == {"samples": 5, "scored": 2}
    assert "no logits" in failed["error"] and lease.live_leases(shapes, ["predictions"]) == []


def test_recorded_cleans_up_before_recording_and_may_raise_another_error_from_the_original(shapes):
    key = runs.start_run(shapes, "quality", fields=["predictions"])
    seen = []

    def taken_back(error: BaseException) -> RuntimeError:
        seen.append((error, lease.live_leases(shapes, ["predictions"]) != []))
        return RuntimeError("taken back")

    with pytest.raises(RuntimeError, match="taken back") as raised, runs.recorded(shapes, key, on_failure=taken_back):
        raise ValueError("bad batch")
    [(error, leased)] = seen
    assert raised.value.__cause__ is error and leased
    [failed] = runs.list_suite_runs(shapes)
    assert failed["status"] == runs.FAILED and failed["error"] == "bad batch"
