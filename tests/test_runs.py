"""core.store.runs: the suite's provenance records on a dataset."""

import pytest

from core.store import runs


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
