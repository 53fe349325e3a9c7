"""Embedding maps: UMAP (umap-learn), t-SNE and PCA (scikit-learn) of an embeddings field, saved as a FiftyOne
visualization run so that the App's Embeddings panel shows them (coloured by any field, e.g. mistakenness)."""

import time

import numpy as np

import fiftyone as fo

from ..exceptions import refuse
from ..store import runs, views, writes
from ..store.fields import key_problems
from . import embeddings

METHODS = ("umap", "tsne", "pca")
DEFAULT_METHOD = "umap"
DEFAULT_BRAIN_KEY = "labelloop_map"
MIN_SAMPLES = 5


def check(
    samples: fo.core.collections.SampleCollection, embeddings_field: str, method: str, brain_key: str
) -> list[str]:
    """Every problem with the request, as messages."""
    problems = views.problems(samples, "compute_embedding_map", reads=[embeddings_field])
    if problems:
        return problems
    if method not in METHODS:
        problems.append(f"Unknown method '{method}': choose one of {', '.join(METHODS)}.")
    key_issues = key_problems(brain_key or "", "Brain key")
    if key_issues:
        problems += key_issues
    elif brain_key in samples._root_dataset.list_brain_runs():
        problems.append(f"Brain key '{brain_key}' exists already: choose another key or delete that run.")
    problems += embeddings.check(samples, embeddings_field, MIN_SAMPLES)
    return problems


def compute(
    samples: fo.core.collections.SampleCollection,
    *,
    embeddings_field: str = embeddings.DEFAULT_FIELD,
    method: str = DEFAULT_METHOD,
    brain_key: str = DEFAULT_BRAIN_KEY,
    seed: int = 51,
    user: str | None = None,
) -> dict:
    """Reduces the embeddings to 2-d with ``method`` and saves a visualization run ``brain_key``; returns counts."""
    import fiftyone.brain as fob

    refuse(check(samples, embeddings_field, method, brain_key))
    view = samples.exists(embeddings_field)
    params = {"embeddings_field": embeddings_field, "method": method, "brain_key": brain_key, "seed": seed}
    model = runs.writer_model(view, embeddings_field)
    key = runs.start_run(view, "embedding_map", params=params, model=model, fields=[embeddings_field], user=user)
    with writes.rolled_back_on_failure(view, key, [], {}, "embedding map") as (rollback, run):
        started = time.perf_counter()
        points = reduce(np.stack(view.values(embeddings_field)).astype(np.float32), method, seed)
        rollback.steps.append(lambda: _delete_brain_run(view._root_dataset, brain_key))
        fob.compute_visualization(view, points=points, brain_key=brain_key)
        counts = {"samples": len(view), "skipped_without_embeddings": len(samples) - len(view)}
        counts["seconds"] = round(time.perf_counter() - started, 2)
        run.counts = counts
    return {"run_key": key, "brain_key": brain_key, "method": method, **counts}


def _delete_brain_run(dataset, brain_key):
    """Deletes brain run ``brain_key`` when it was saved (``check`` refused a key in use, so it is this run's)."""
    if dataset.has_brain_run(brain_key):
        dataset.delete_brain_run(brain_key)


def reduce(vectors: np.ndarray, method: str, seed: int = 51) -> np.ndarray:
    """2-d points of ``vectors``: t-SNE runs on a 50-d PCA projection (the usual speed-up)."""
    from sklearn.decomposition import PCA

    n, dims = vectors.shape
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(vectors)
    if method == "tsne":
        from sklearn.manifold import TSNE

        reduced = PCA(n_components=min(50, dims, n), random_state=seed).fit_transform(vectors)
        perplexity = min(30.0, (n - 1) / 3)
        return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    import umap

    return umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), random_state=seed).fit_transform(vectors)
