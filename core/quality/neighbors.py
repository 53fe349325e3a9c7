"""Nearest neighbours and near-duplicate groups by cosine distance: exact below ``APPROXIMATE_FROM`` rows,
approximate (``core.quality.ann``, a faiss index) from there, unless the caller forces a method (``METHODS``).

Exact search computes it block by block: vectors are L2-normalised to float32 once. Each block of query rows is
multiplied with the whole matrix, its top-k (or its pairs within a distance) is kept and the block is dropped, so
memory is O(N * block) instead of the O(N^2) of a full distance matrix. Cosine distance is ``1 - cos`` in [0, 2]
(up to float32 rounding, ``ROUNDING``); a zero vector is at distance 1 from everything.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

import fiftyone.core.utils as fou

from . import ann

ROWS, COLUMNS = 1024, 8192  # one tile of similarities: 32 MB of float32, reused
CHUNK = 64  # top-k looks inside the k chunks of 64 columns with the highest maxima only
MAX_K = CHUNK
ROUNDING = 1e-6  # float32 dot products of equal unit vectors are 1 only to about this: such distances count as 0
METHODS = ("auto", "exact", "approximate")
DEFAULT_METHOD = "auto"
APPROXIMATE_FROM = 50_000  # rows: "auto" searches exactly below, approximately from here (measured: at 512-d
# exact takes 3 s at 10k, 16 s at 20k, 83 s at 50k and grows as N^2; approximate 15 s at 50k, growing as N)
DUPLICATE_CAP = 32  # approximate near duplicates: each row is linked to at most its 32 nearest within the threshold


@dataclass
class Neighbors:
    """The ``k`` nearest other rows of every row, nearest first, and their cosine distances."""

    indices: np.ndarray  # (N, k) int64
    distances: np.ndarray  # (N, k) float32


def normalise(vectors: np.ndarray) -> np.ndarray:
    """The rows of ``vectors`` as a float32 matrix of unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def method_problems(method: str) -> list[str]:
    """A problem when ``method`` is not one of ``METHODS``."""
    if method in METHODS:
        return []
    return [
        f"Unknown neighbour search '{method}': choose one of {', '.join(METHODS)} (auto: exact below "
        f"{APPROXIMATE_FROM:,} samples, approximate from there)."
    ]


def resolve(method: str, n: int) -> str:
    """``exact`` or ``approximate``: the search ``method`` means for ``n`` rows (always exact below
    ``ann.MIN_ROWS``, too few rows to train an index on)."""
    if method == "auto":
        method = "approximate" if n >= APPROXIMATE_FROM else "exact"
    return "exact" if n < ann.MIN_ROWS else method


def describe(method: str, n: int, dims: int, k: int) -> str:
    """What ``nearest`` (``k`` neighbours) or ``groups`` searches with for ``n`` rows of ``dims``, for the run."""
    return ann.describe(n, dims, k) if resolve(method, n) == "approximate" else "exact (blockwise brute force)"


def nearest(
    unit: np.ndarray, k: int, method: str = DEFAULT_METHOD, progress: Callable[..., None] | bool | None = None
) -> Neighbors:
    """The ``k`` nearest other rows of each row of ``unit``, exactly or approximately as ``method`` says."""
    if resolve(method, len(unit)) == "exact":
        return knn(unit, k, progress)
    indices, sims = ann.knn(unit, k, progress)
    return Neighbors(indices, _distances(sims))


def groups(
    unit: np.ndarray, threshold: float, method: str = DEFAULT_METHOD, progress: Callable[..., None] | bool | None = None
) -> np.ndarray:
    """A component id per row as in ``groups_within``; approximate: from each row's ``DUPLICATE_CAP`` approximate
    nearest neighbours, so a pair is missed when the index misses it, and a row links directly to at most
    ``DUPLICATE_CAP`` others (larger groups still join through their members)."""
    if resolve(method, len(unit)) == "exact":
        return groups_within(unit, threshold, progress)
    found = nearest(unit, min(DUPLICATE_CAP, len(unit) - 1), "approximate", progress)
    i, j = np.nonzero(found.distances <= threshold)
    return _components(*_spanning_links(i, found.indices[i, j]), len(unit))


def knn(unit: np.ndarray, k: int, progress: Callable[..., None] | bool | None = None) -> Neighbors:
    """The exact ``k`` (<= 64) nearest neighbours of every row of the normalised matrix ``unit``, itself excluded."""
    n = len(unit)
    indices, best = np.zeros((n, k), np.int64), np.full((n, k), -np.inf, np.float32)
    for row, column, sims in _tiles(unit, progress):
        rows = slice(row, row + len(sims))
        _hide_self(sims, row, column)
        cols, values = _top(sims, k)
        merged_cols = np.concatenate([indices[rows], cols + column], axis=1)
        merged = np.concatenate([best[rows], values], axis=1)
        keep = np.argpartition(merged, k, axis=1)[:, k:]
        indices[rows], best[rows] = (np.take_along_axis(m, keep, axis=1) for m in (merged_cols, merged))
    order = np.argsort(-best, axis=1, kind="stable")
    return Neighbors(np.take_along_axis(indices, order, axis=1), _distances(np.take_along_axis(best, order, axis=1)))


def groups_within(unit: np.ndarray, threshold: float, progress: Callable[..., None] | bool | None = None) -> np.ndarray:
    """A component id per row: rows at cosine distance <= ``threshold`` are linked, and linked rows (directly
    or through others) share a component; a row with no close row is a component of its own."""
    n = len(unit)
    cut = np.float32(1.0 - threshold - ROUNDING)
    sources, targets = [np.empty(0, np.int64)], [np.empty(0, np.int64)]
    for row, column, sims in _tiles(unit, progress, upper=True):
        i, j = np.nonzero(sims >= cut)
        i, j = i + row, j + column
        keep = j > i  # each unordered pair once, never a row with itself
        i, j = _spanning_links(i[keep], j[keep])
        sources.append(i)
        targets.append(j)
    return _components(np.concatenate(sources), np.concatenate(targets), n)


def _components(i, j, n):
    return connected_components(_graph(i, j, n), directed=False)[1]


def _distances(sims):
    """Cosine distances of similarities, those within float32 rounding of 0 set to 0."""
    distances = 1.0 - sims
    distances[distances <= ROUNDING] = 0.0
    return distances


def _top(sims, k):
    """Column offsets and values of the ``k`` largest similarities of each row of a tile. They lie in the k
    chunks with the largest maxima, so only those are searched (a full argpartition is 5x slower)."""
    chunks = sims.reshape(len(sims), -1, CHUNK)
    n_chunks = min(k, chunks.shape[1])
    top_chunks = np.argpartition(chunks.max(axis=2), -n_chunks, axis=1)[:, -n_chunks:]
    candidates = np.take_along_axis(chunks, top_chunks[:, :, None], axis=1).reshape(len(sims), -1)
    columns = (top_chunks[:, :, None] * CHUNK + np.arange(CHUNK)).reshape(len(sims), -1)
    keep = np.argpartition(candidates, -k, axis=1)[:, -k:]
    return np.take_along_axis(columns, keep, axis=1), np.take_along_axis(candidates, keep, axis=1)


def _hide_self(sims, row, column):
    """Sets the similarity of each row with itself to -inf where the tile holds it."""
    i = np.arange(max(row, column), min(row + len(sims), column + sims.shape[1]))
    sims[i - row, i - column] = -np.inf


def _spanning_links(i, j):
    """Links with the same components as the pairs ``(i, j)``, at most one per node (node to its component's
    smallest node), so that large groups of duplicates do not pile up pairs."""
    if not len(i):
        return i, j
    nodes, inverse = np.unique(np.concatenate([i, j]), return_inverse=True)
    _, labels = connected_components(_graph(inverse[: len(i)], inverse[len(i) :], len(nodes)), directed=False)
    first = np.full(labels.max() + 1, len(nodes))
    np.minimum.at(first, labels, np.arange(len(nodes)))
    roots = first[labels]
    keep = roots != np.arange(len(nodes))
    return nodes[roots[keep]], nodes[keep]


def _graph(i, j, n):
    return coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))


def _tiles(unit, progress, upper=False):
    """Yields ``(first row, first column, similarities)`` tile by tile, into one reused buffer whose width is a
    multiple of ``CHUNK`` (padding columns hold -inf). ``upper``: only tiles with some column above some row."""
    n = len(unit)
    buffer = np.empty((min(ROWS, n), min(COLUMNS, n + (-n) % CHUNK)), np.float32)
    with fou.ProgressBar(total=n, progress=progress) as bar:
        for row in range(0, n, ROWS):
            queries = unit[row : row + ROWS]
            for column in range(row - row % COLUMNS if upper else 0, n, COLUMNS):
                corpus = unit[column : column + COLUMNS]
                width = len(corpus) + (-len(corpus)) % CHUNK
                sims = buffer[: len(queries), :width]
                np.matmul(queries, corpus.T, out=sims[:, : len(corpus)])
                sims[:, len(corpus) :] = -np.inf
                yield row, column, sims
            bar.set_iteration(min(row + ROWS, n))
