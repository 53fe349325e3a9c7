"""Embedding maps: UMAP (umap-learn), t-SNE and PCA (scikit-learn) of an embeddings field, saved as a FiftyOne
visualization run so that the App's Embeddings panel shows them (coloured by any field, e.g. mistakenness)."""

import time

import numpy as np

import fiftyone as fo

from ..store import runs

METHODS = ("umap", "tsne", "pca")
MIN_SAMPLES = 5


def check(samples, embeddings_field, method, brain_key):
    """Every problem with the request, as messages."""
    problems = []
    if method not in METHODS:
        problems.append(f"Unknown method '{method}': choose one of {', '.join(METHODS)}.")
    if not brain_key or not brain_key.isidentifier():
        problems.append(f"Brain key '{brain_key}' must be letters, digits and underscores.")
    elif brain_key in samples._root_dataset.list_brain_runs():
        problems.append(f"Brain key '{brain_key}' exists already: choose another key or delete that run.")
    problems += embedding_problems(samples, embeddings_field, MIN_SAMPLES)
    return problems


def embedding_problems(samples, field_name, minimum):
    """Problems with ``field_name`` as the embeddings of ``samples``: missing, not vectors, ragged, too few."""
    field = samples.get_field(field_name) if field_name else None
    if field is None:
        return [f"No embeddings field '{field_name}': compute embeddings first (Compute embeddings) or pick a model."]
    if not isinstance(field, (fo.VectorField, fo.ArrayField)):
        return [f"Field '{field_name}' holds {type(field).__name__}, not embedding vectors."]
    with_vectors = samples.exists(field_name)
    if len(with_vectors) < minimum:
        return [f"Only {len(with_vectors)} samples of the view have '{field_name}': at least {minimum} are needed."]
    dims = {len(v) for v in with_vectors.values(field_name)}
    if len(dims) > 1:
        return [f"Embeddings in '{field_name}' have different lengths ({sorted(dims)}): recompute them with one model."]
    return []


def compute(samples, embeddings_field, method, brain_key, seed=51, user=None):
    """Reduces the embeddings to 2-d with ``method`` and saves a visualization run ``brain_key``; returns counts."""
    import fiftyone.brain as fob

    problems = check(samples, embeddings_field, method, brain_key)
    if problems:
        raise ValueError(" ".join(problems))
    view = samples.exists(embeddings_field)
    params = {"embeddings_field": embeddings_field, "method": method, "brain_key": brain_key, "seed": seed}
    model = runs.writer_model(view, embeddings_field)
    key = runs.start_run(view, "embedding_map", params=params, model=model, fields=[embeddings_field], user=user)
    try:
        started = time.perf_counter()
        points = reduce(np.stack(view.values(embeddings_field)).astype(np.float32), method, seed)
        fob.compute_visualization(view, points=points, brain_key=brain_key)
        counts = {"samples": len(view), "skipped_without_embeddings": len(samples) - len(view)}
        counts["seconds"] = round(time.perf_counter() - started, 2)
    except BaseException as error:
        runs.finish_run(view, key, error=error)
        raise
    runs.finish_run(view, key, counts=counts)
    return {"run_key": key, "brain_key": brain_key, "method": method, **counts}


def reduce(vectors, method, seed=51):
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
