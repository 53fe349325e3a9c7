"""Neighbours at scale: the approximate (faiss) search vs exact, forcing and switching methods, what the run records,
bad options, chunked reading of vectors, and embedding maps fitted on a sample and extended to the rest."""

import numpy as np
import pytest
from test_forms import form
from test_uniqueness import fill, vectors

import fiftyone.operators as foo

from core.quality import ann, embedding_map, embeddings, neighbors
from core.quality import uniqueness as U
from core.store import runs
from harness import operators as ops


def clustered(n, dims=48, clusters=20, seed=0):
    """Clusters with a structure of their own, as embeddings have: a centre plus a 4-d spread plus a little noise
    (on structureless noise every neighbour is about as near as any other, and recall means little)."""
    rng = np.random.default_rng(seed)
    centres, bases = rng.normal(size=(clusters, dims)), rng.normal(size=(clusters, 4, dims)) * 0.6
    labels = rng.integers(clusters, size=n)
    spread = np.einsum("nl,nld->nd", rng.normal(size=(n, 4)), bases[labels])
    return (centres[labels] + spread + rng.normal(size=(n, dims)) * 0.1).astype(np.float32)


def test_approximate_neighbours_agree_with_exact():
    unit = neighbors.normalise(clustered(4000))
    exact = neighbors.nearest(unit, 10, "exact")
    approximate = neighbors.nearest(unit, 10, "approximate")
    hits = [len(np.intersect1d(a, e)) for a, e in zip(approximate.indices, exact.indices, strict=True)]
    assert np.mean(hits) / 10 >= 0.95
    true = 1.0 - np.einsum("nd,nkd->nk", unit, unit[approximate.indices])  # the distances reported are exact
    np.testing.assert_allclose(approximate.distances, np.where(true <= neighbors.ROUNDING, 0, true), atol=1e-5)
    assert (approximate.indices != np.arange(len(unit))[:, None]).all()
    assert (np.diff(approximate.distances, axis=1) >= 0).all()  # nearest first


def test_rows_short_of_candidates_and_tiny_sets_are_searched_exactly(monkeypatch):
    monkeypatch.setattr(ann, "MIN_ROWS_PER_LIST", 2)  # 64 lists of about 3 rows,
    monkeypatch.setattr(ann, "SCANNED_ROWS", 1)  # one of them scanned: fewer candidates than k = 10
    unit = neighbors.normalise(clustered(200, dims=16))
    indices, sims = ann.knn(unit, 10)
    exact = neighbors.nearest(unit, 10, "exact")
    np.testing.assert_allclose(1 - sims, exact.distances, atol=1e-5)
    assert neighbors.resolve("approximate", ann.MIN_ROWS - 1) == "exact"


def test_approximate_near_duplicate_groups_equal_exact():
    unit = neighbors.normalise(vectors())
    exact = neighbors.groups(unit, U.DEFAULT_THRESHOLD, "exact")
    approximate = neighbors.groups(unit, U.DEFAULT_THRESHOLD, "approximate")
    same = exact[:, None] == exact[None, :]
    assert (same == (approximate[:, None] == approximate[None, :])).all() and same.sum() > len(unit)


@pytest.mark.parametrize("method", ["exact", "approximate"])
def test_forcing_a_method_is_used_and_recorded(dataset, method):
    fill(dataset, vectors())
    uniqueness = foo.get_operator(ops.uri("compute_uniqueness"))(dataset, "emb", neighbors=method)
    duplicates = foo.get_operator(ops.uri("find_near_duplicates"))(dataset, "emb", neighbors=method)
    assert uniqueness["neighbors"] == duplicates["neighbors"] == method
    for run in runs.list_suite_runs(dataset):
        assert run["params"]["neighbors"] == run["params"]["neighbors_method"] == method
        assert run["params"]["neighbors_index"].startswith("faiss IVF" if method == "approximate" else "exact")
    scores = np.array(dataset.values("uniqueness"))
    assert np.argmax(scores) == 96 and set(np.argsort(scores)[:6]) == set(range(90, 96))
    assert duplicates["groups"] == 2 and duplicates["duplicates"] == 4


@pytest.mark.parametrize(("threshold", "expected"), [(97, "approximate"), (98, "exact")])
def test_auto_switches_at_the_threshold(dataset, monkeypatch, threshold, expected):
    monkeypatch.setattr(neighbors, "APPROXIMATE_FROM", threshold)
    fill(dataset, vectors())  # 97 samples
    result = U.compute_uniqueness(dataset, "emb", progress=False)
    [run] = runs.list_suite_runs(dataset)
    assert result["neighbors"] == run["params"]["neighbors_method"] == expected
    assert run["params"]["neighbors"] == "auto"


def test_a_bad_method_is_refused_before_anything_is_written(dataset):
    fill(dataset, vectors())
    for name in ("compute_uniqueness", "find_near_duplicates"):
        message = ops.validation_error(name, dataset, {"embeddings_field": "emb", "neighbors": "fast"})
        assert "Unknown neighbour search 'fast': choose one of auto, exact, approximate" in message
    with pytest.raises(ValueError, match="Unknown neighbour search"):
        U.find_near_duplicates(dataset, "emb", neighbors="fastest")
    assert not dataset.has_field("uniqueness") and not dataset.has_field(U.GROUP_FIELD)
    assert runs.list_suite_runs(dataset) == []


def test_vectors_are_read_chunk_by_chunk_in_view_order(dataset, monkeypatch):
    monkeypatch.setattr(embeddings, "READ_CHUNK", 7)
    rows = clustered(40, dims=6)
    fill(dataset, rows)
    view = dataset.sort_by("index", reverse=True)
    ids, matrix, problems = embeddings.read_matrix(view, "emb")
    assert problems == [] and ids == view.values("id") and matrix.dtype == np.float32
    np.testing.assert_allclose(matrix, rows[::-1])
    shuffled = dataset.select(ids[::3])  # the database's order, not the ids' order, within a chunk
    ids, matrix, _ = embeddings.read_matrix(shuffled, "emb", neighbors.normalise)
    np.testing.assert_allclose(matrix, neighbors.normalise(rows[dataset.select(ids).values("index")]), atol=1e-6)
    sample = dataset.last()
    sample["emb"] = np.ones(3)
    sample.save()
    assert "different lengths (3, 6)" in embeddings.read_matrix(dataset, "emb")[2][0]


def test_the_index_parameters_follow_the_size():
    assert ann.lists_for(1_000_000) == 2500 and ann.probed(1_000_000) == 30
    assert ann.lists_for(100_000) == 790 and ann.probed(100_000) == 95
    assert ann.lists_for(100) == 2 and ann.probed(100) == 2
    assert ann.describe(1_000_000, 500, 10) == "faiss IVF2500,PQ64x4fs nprobe=30 rerank=100"  # 500 padded to 512


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_embedding_maps_beyond_the_sample_are_fitted_then_extended(dataset, method):
    rows = np.concatenate([clustered(60, dims=16, clusters=3), clustered(60, dims=16, clusters=3)])
    fill(dataset, rows)  # rows 60-119 repeat rows 0-59
    result = embedding_map.compute(dataset, embeddings_field="emb", method=method, brain_key="m", sample_size=40)
    assert result["samples"] == 120 and result["fitted"] == 40
    points = dataset.load_brain_results("m").points
    assert points.shape == (120, 2) and np.isfinite(points).all()
    copies = np.median(np.linalg.norm(points[:60] - points[60:], axis=1))
    others = np.median(np.linalg.norm(points[:60] - points[np.roll(np.arange(60, 120), 7)], axis=1))
    assert copies < 0.3 * others  # a placed copy lands near its fitted original
    [run] = [r for r in runs.list_suite_runs(dataset) if r["kind"] == "embedding_map"]
    assert run["params"]["sample_size"] == 40 and run["counts"]["fitted"] == 40


def test_the_forms_offer_the_search_and_say_what_map_sampling_trades(dataset, monkeypatch):
    monkeypatch.setattr(ops.plugin_module("embedding_map").embedding_map, "SAMPLE_SIZE", 10)  # the plugin's copy
    fill(dataset, clustered(20, dims=4))
    properties = form("compute_uniqueness", dataset, {"embeddings_field": "emb"})
    assert [c.value for c in properties["neighbors"].view.choices] == ["auto", "exact", "approximate"]
    blocked = form("find_near_duplicates", dataset, {"embeddings_field": "emb", "neighbors": "fast"})
    assert blocked["invalid_input_0"].invalid and "Unknown neighbour search" in blocked["invalid_input_0"].error_message
    assert "sampled" in form("compute_embedding_map", dataset, {"embeddings_field": "emb", "method": "tsne"})
    assert "sampled" not in form("compute_embedding_map", dataset, {"embeddings_field": "emb", "method": "pca"})
