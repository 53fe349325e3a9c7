"""compute_uniqueness and find_near_duplicates: exact kNN on known vectors, groups, tags, models, bad input."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.quality import neighbors
from core.quality import uniqueness as U
from core.store import runs
from harness import operators as ops


@pytest.fixture
def uniqueness_op():
    return foo.get_operator(ops.uri("compute_uniqueness"))


@pytest.fixture
def duplicates_op():
    return foo.get_operator(ops.uri("find_near_duplicates"))


def vectors(seed=0):
    """Three clusters of 30 (no two members within cosine distance 0.05), three exact duplicates (rows 90-92),
    three near duplicates (93-95) and one far outlier (96)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, 32)) * 2
    clusters = np.concatenate([c + rng.normal(size=(30, 32)) for c in centres])
    exact = np.repeat(clusters[:1] + 2.0, 3, axis=0)
    near = np.repeat(clusters[30:31] - 2.0, 3, axis=0) + rng.normal(size=(3, 32)) * 0.05
    outlier = -np.abs(rng.normal(size=(1, 32))) * 40 - centres.sum(axis=0)
    return np.concatenate([clusters, exact, near, outlier]).astype(np.float32)


def fill(dataset, rows, field="emb"):
    dataset.add_samples([fo.Sample(filepath=f"/img/{i}.png", index=i) for i in range(len(rows))])
    dataset.add_sample_field(field, fo.VectorField)
    dataset.set_values(field, list(rows))
    return dataset


def test_the_outlier_is_most_unique_and_duplicates_least(dataset, uniqueness_op):
    fill(dataset, vectors())
    result = uniqueness_op(dataset, "emb")
    scores = np.array(dataset.values("uniqueness"))
    assert scores.max() == 1.0 and scores.min() >= 0.0
    assert np.argmax(scores) == 96 and result["most_unique"][0] == dataset.values("id")[96]
    assert set(np.argsort(scores)[:6]) == set(range(90, 96))  # duplicates are the least unique
    assert scores[90] == scores[91] == scores[92]
    [run] = runs.list_suite_runs(dataset)
    assert run["kind"] == "uniqueness" and run["status"] == "completed" and run["fields"] == ["uniqueness"]
    assert run["params"]["k"] == 3 and run["counts"]["samples"] == 97
    uniqueness_op(dataset, "emb", k=1, output_field="uniqueness_1")  # k = 1: a duplicate's nearest is at 0
    assert dataset.values("uniqueness_1")[90:93] == [0.0] * 3 and max(dataset.values("uniqueness_1")[93:96]) < 0.01


@pytest.mark.parametrize(("n", "k"), [(300, 3), (700, 5), (129, 1)])
def test_knn_equals_brute_force(n, k, monkeypatch):
    monkeypatch.setattr(neighbors, "ROWS", 64)  # several row and column tiles, and ragged last tiles
    monkeypatch.setattr(neighbors, "COLUMNS", 128)
    rng = np.random.default_rng(n)
    unit = neighbors.normalise(rng.normal(size=(n, 24)))
    unit[5] = unit[7]  # a tie
    found = neighbors.knn(unit, k)
    distances = 1.0 - unit.astype(np.float64) @ unit.T.astype(np.float64)
    np.fill_diagonal(distances, np.inf)
    reference = np.sort(distances, axis=1)[:, :k]
    np.testing.assert_allclose(found.distances, reference, atol=1e-5)
    picked = np.take_along_axis(distances, found.indices, axis=1)
    np.testing.assert_allclose(picked, reference, atol=1e-5)
    assert (found.indices != np.arange(n)[:, None]).all()


def test_groups_equal_brute_force_components(monkeypatch):
    monkeypatch.setattr(neighbors, "ROWS", 32)
    monkeypatch.setattr(neighbors, "COLUMNS", 64)
    unit = neighbors.normalise(np.random.default_rng(3).normal(size=(200, 3)))
    labels = neighbors.groups_within(unit, 0.01)
    close = 1.0 - unit @ unit.T <= 0.01
    for i in range(200):  # linked rows share a group, and a group is exactly the closure of its links
        assert (labels[close[i]] == labels[i]).all()
    sizes = np.bincount(labels)
    assert sizes.max() > 2 and (sizes == 1).sum() > 10


def test_exact_and_near_duplicates_are_grouped_and_tagged(dataset, duplicates_op):
    fill(dataset, vectors())
    result = duplicates_op(dataset, "emb", duplicate_tag="duplicate", member_tag="near_duplicate")
    groups = dataset.values(U.GROUP_FIELD)
    assert result["groups"] == 2 and result["duplicates"] == 4 and result["samples_in_groups"] == 6
    assert groups[90:96] == [0, 0, 0, 1, 1, 1] and groups[:90] + groups[96:] == [None] * 91
    assert dataset.values(U.COUNT_FIELD)[89:97] == [0, 2, 2, 2, 2, 2, 2, 0]
    ids = dataset.values("id")
    assert result["group_ids"] == [ids[90:93], ids[93:96]] and not result["truncated"]
    assert dataset.match_tags("duplicate").values("index") == [91, 92, 94, 95]
    assert dataset.match_tags("near_duplicate").values("index") == list(range(90, 96))
    assert len(dataset.match(fo.ViewField(U.GROUP_FIELD) == 0)) == 3  # the App filters on the field
    record = next(r for r in runs.list_suite_runs(dataset) if r["key"] == result["run_key"])
    assert record["kind"] == "near_duplicates" and record["params"]["threshold"] == U.DEFAULT_THRESHOLD


def test_rerun_with_a_tighter_threshold_removes_stale_tags(dataset, duplicates_op):
    fill(dataset, vectors())
    duplicates_op(dataset, "emb", duplicate_tag="duplicate")
    result = duplicates_op(dataset, "emb", threshold=0.0, duplicate_tag="duplicate")
    assert result["groups"] == 1 and dataset.match_tags("duplicate").values("index") == [91, 92]
    assert dataset.values(U.GROUP_FIELD)[93:96] == [None] * 3 and dataset.count_sample_tags() == {"duplicate": 2}


def test_from_a_model_end_to_end(shapes, tiny_models, uniqueness_op, duplicates_op):
    result = uniqueness_op(shapes, "vectors", model=tiny_models["embedding"], k=2)
    assert shapes.count("vectors") == len(shapes) and result["samples"] == len(shapes)
    scores = shapes.values("uniqueness")
    assert max(scores) == 1.0 and min(scores) >= 0.0 and len(set(scores)) > len(shapes) // 2
    kinds = [r["kind"] for r in runs.list_suite_runs(shapes)]
    assert sorted(kinds) == ["embeddings", "uniqueness"]
    uniqueness_run = next(r for r in runs.list_suite_runs(shapes) if r["kind"] == "uniqueness")
    assert uniqueness_run["model"] and "embedder" in uniqueness_run["model"]
    # the second operator reuses the stored embeddings (nothing recomputed) and finds no duplicates among shapes
    found = duplicates_op(shapes, "vectors", model=tiny_models["embedding"], threshold=0.0)
    embedding_runs = [r for r in runs.list_suite_runs(shapes) if r["kind"] == "embeddings"]
    assert sorted(r["counts"]["written"] for r in embedding_runs) == [0, len(shapes)] and found["groups"] == 0


@pytest.mark.parametrize(
    ("setup", "params", "message"),
    [
        (None, {"embeddings_field": "emb"}, "The target view has no samples"),
        ("filepath", {"embeddings_field": "filepath"}, "holds StringField, not embedding vectors"),
        ("vectors", {"embeddings_field": "nothing"}, "No embeddings field 'nothing'"),
        ("ragged", {"embeddings_field": "emb"}, "have different lengths (3, 4)"),
        ("missing", {"embeddings_field": "emb"}, "1 of 5 samples have no 'emb' embeddings"),
        ("vectors", {"embeddings_field": "emb", "k": 5}, "needs at least 6 (k + 1)"),
    ],
)
def test_bad_inputs_are_refused_and_nothing_is_written(dataset, setup, params, message):
    if setup:
        fill(dataset, np.ones((5, 4)) * np.arange(1, 6)[:, None] + np.eye(5, 4))
    if setup in ("ragged", "missing"):
        sample = dataset.first()
        sample["emb"] = np.ones(3) if setup == "ragged" else None
        sample.save()
    for name in ("compute_uniqueness",) if "k" in params else ("compute_uniqueness", "find_near_duplicates"):
        assert message in ops.validation_error(name, dataset, params)
    assert not dataset.has_field("uniqueness") and not dataset.has_field(U.GROUP_FIELD)
    assert runs.list_suite_runs(dataset) == []


def test_bad_threshold_and_core_raises(dataset):
    fill(dataset, vectors())
    assert "Threshold 3.0 is not a cosine distance" in ops.validation_error(
        "find_near_duplicates", dataset, {"embeddings_field": "emb", "threshold": 3.0}
    )
    assert "not a cosine distance" in U.check(dataset, "emb", threshold=-0.1)[0]
    with pytest.raises(ValueError, match="between 1 and 64"):
        U.compute_uniqueness(dataset, "emb", k=0)
    assert not dataset.has_field("uniqueness")


def test_delegated_uniqueness(dataset):
    fill(dataset, vectors())
    queued = ops.run("compute_uniqueness", dataset, {"embeddings_field": "emb"}, delegated=True)
    ops.run_queued_in_child(dataset.name)
    dataset.reload()
    assert ops.delegated_operation(queued.result["id"]).run_state == "completed"
    assert np.argmax(dataset.values("uniqueness")) == 96
