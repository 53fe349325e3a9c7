"""Embedding maps: UMAP (umap-learn), t-SNE and PCA (scikit-learn) of an embeddings field, saved as a FiftyOne
visualization run so that the App's Embeddings panel shows them (coloured by any field, e.g. mistakenness).

PCA uses every sample (from the covariance matrix: memory flat in N beyond the vectors). Above ``SAMPLE_SIZE``
samples, UMAP and t-SNE are fitted on a random ``SAMPLE_SIZE`` of them (seeded) and the others are placed on that
map: UMAP with its ``transform``, t-SNE (which has none) at the mean position of the ``PLACED_BY`` nearest fitted
samples (scikit-learn's ``KNeighborsRegressor`` in the 50-d PCA space t-SNE runs on). The trade-off (``SCALE_NOTE``):
placed samples follow the map of the sample but do not shape it, so a structure rarer than about one in
``SAMPLE_SIZE`` samples may not get an island of its own.
"""

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
SAMPLE_SIZE = 20_000  # UMAP / t-SNE are fitted on at most this many samples; the others are placed on the map
PLACED_BY = 5  # t-SNE: a placed sample goes to the mean position of its 5 nearest fitted samples
SCALE_NOTE = (
    f"Above {SAMPLE_SIZE:,} samples, UMAP and t-SNE are fitted on a random {SAMPLE_SIZE:,} and the others are placed "
    f"on that map (UMAP: its transform; t-SNE: the mean position of the {PLACED_BY} nearest fitted samples): fast "
    "and memory-flat, but structures rarer than the sample resolves may not get an island of their own. PCA "
    "always uses every sample."
)


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
    sample_size: int = SAMPLE_SIZE,
    user: str | None = None,
) -> dict:
    """Reduces the embeddings to 2-d with ``method`` (UMAP and t-SNE: fitted on at most ``sample_size`` samples,
    see the module docstring) and saves a visualization run ``brain_key``; returns counts (``fitted``: how many
    samples the map was fitted on)."""
    import fiftyone.brain as fob

    refuse(check(samples, embeddings_field, method, brain_key))
    view = samples.exists(embeddings_field)
    params = {"embeddings_field": embeddings_field, "method": method, "brain_key": brain_key, "seed": seed}
    params["sample_size"] = sample_size
    model = runs.writer_model(view, embeddings_field)
    key = runs.start_run(view, "embedding_map", params=params, model=model, fields=[embeddings_field], user=user)
    with writes.rolled_back_on_failure(view, key, [], {}, "embedding map") as (rollback, run):
        started = time.perf_counter()
        _, vectors, _ = embeddings.read_matrix(view, embeddings_field)
        points = reduce(vectors, method, seed, sample_size)
        rollback.steps.append(lambda: _delete_brain_run(view._root_dataset, brain_key))
        fob.compute_visualization(view, points=points, brain_key=brain_key)
        counts = {"samples": len(view), "skipped_without_embeddings": len(samples) - len(view)}
        counts["fitted"] = len(points) if method == "pca" else min(len(points), sample_size)
        counts["seconds"] = round(time.perf_counter() - started, 2)
        run.counts = counts
    return {"run_key": key, "brain_key": brain_key, "method": method, **counts}


def _delete_brain_run(dataset, brain_key):
    """Deletes brain run ``brain_key`` when it was saved (``check`` refused a key in use, so it is this run's)."""
    if dataset.has_brain_run(brain_key):
        dataset.delete_brain_run(brain_key)


def reduce(vectors: np.ndarray, method: str, seed: int = 51, sample_size: int = SAMPLE_SIZE) -> np.ndarray:
    """2-d points of ``vectors``: PCA of all; UMAP and t-SNE fitted on at most ``sample_size`` of them (t-SNE on a
    50-d PCA projection, the usual speed-up), the others placed on the map."""
    from sklearn.decomposition import PCA

    if method == "pca":
        return PCA(n_components=2, svd_solver="covariance_eigh", random_state=seed).fit_transform(vectors)
    fitted = np.sort(np.random.default_rng(seed).permutation(len(vectors))[:sample_size])
    rest = np.setdiff1d(np.arange(len(vectors)), fitted)
    points = np.empty((len(vectors), 2), np.float32)
    points[fitted], placed = (_tsne if method == "tsne" else _umap)(vectors, fitted, rest, seed)
    points[rest] = placed
    return points


def _umap(vectors, fitted, rest, seed):
    """The UMAP of the ``fitted`` rows and its transform of the ``rest``."""
    import umap

    model = umap.UMAP(n_components=2, n_neighbors=min(15, len(fitted) - 1), random_state=seed)
    points = model.fit_transform(vectors[fitted])
    return points, model.transform(vectors[rest]) if len(rest) else np.empty((0, 2))


def _tsne(vectors, fitted, rest, seed):
    """The t-SNE of the ``fitted`` rows, and the ``rest`` at the mean position of their nearest fitted rows."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from sklearn.neighbors import KNeighborsRegressor

    pca = PCA(n_components=min(50, vectors.shape[1], len(fitted)), random_state=seed).fit(vectors[fitted])
    reduced = pca.transform(vectors[fitted])
    perplexity = min(30.0, (len(fitted) - 1) / 3)
    points = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(reduced)
    if not len(rest):
        return points, np.empty((0, 2))
    placer = KNeighborsRegressor(n_neighbors=min(PLACED_BY, len(fitted))).fit(reduced, points)
    return points, placer.predict(pca.transform(vectors[rest]))
