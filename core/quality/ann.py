"""Approximate nearest neighbours of every row of a unit-vector matrix, with a faiss inverted-file index.

The index is ``IVF<lists>,PQ<m>x4fs`` on inner products: the rows are clustered into ``lists`` (about
``LISTS_PER_ROOT * sqrt(N)``), each query scans the ``probed(N)`` lists nearest to it with 4-bit
product-quantised codes (32 bytes a row for 512-d: the index is small next to the matrix), and its
``candidates(k)`` best candidates are re-ranked exactly against the float32 matrix itself. So the distances
returned are exact; what is approximate is which rows are found: a true neighbour in a list that is not scanned,
or ranked out of the candidates by its code, is missed. Recall@10 is measured in
``benchmarks/scale_jobs/neighbours.py``; it is high on embeddings with structure (clusters of a low intrinsic
dimension) and low on structureless noise, where every neighbour is about as near as any other. Rows with fewer
than ``k`` candidates get their neighbours by exact search; sets of fewer than ``MIN_ROWS`` rows are searched
exactly altogether.
"""

from collections.abc import Callable, Iterator

import numpy as np

import fiftyone.core.utils as fou

LISTS_PER_ROOT = 2.5  # lists = 2.5 sqrt(N): 2500 at 1M (k-means costs lists^2: 0.37x of 4 sqrt(N)). Recall@10 at
# 100k / 200k x 512-d (clustered): 2 sqrt(N): 0.954 / 0.971, 2.5 sqrt(N): 0.970 / 0.985; sqrt(N) at 200k: 0.865
MIN_ROWS_PER_LIST = 39  # faiss's k-means wants at least 39 training rows per centroid
TRAINING_ROWS_PER_LIST = 64  # k-means on a seeded sample of 64 rows per list (160k at 1M): recall@10 at 100k
# was 0.905 with 20, 0.962 with 39, 0.984 with 64 rows per list (25 k-means iterations instead of 10: no gain)
KMEANS_ITERATIONS = 10  # of the lists' k-means (faiss's default is 25)
MIN_TRAINING_ROWS = 65_536  # and at least this many (or all rows): the product quantiser trains on them too
MIN_ROWS = 64  # fewer rows are searched exactly (``neighbors.resolve``): too few to train an index on
SCANNED_ROWS = 12_000  # a query scans the lists holding about this many rows: 30 of 2500 at 1M, 95 of 790 at 100k
EXTRA_CANDIDATES = 90  # candidates re-ranked exactly: k + 90 (100 for recall@10)
QUERY_BATCH = 8192  # queries per faiss search call
RERANK_BATCH = 512  # queries re-ranked at once: 512 x candidates x d float32 gathered
SEED = 51
SERIAL_TRAINING_BELOW = 20_000  # training rows: smaller k-means run on one thread (on a busy machine, OpenMP
# threads spin against each other: 3x slower at 8k rows on 2 shared cores)


def lists_for(n: int) -> int:
    """How many inverted lists index ``n`` rows: ``LISTS_PER_ROOT * sqrt(n)``, with about enough rows per list to
    train (1 for tiny sets)."""
    return int(max(1, min(LISTS_PER_ROOT * np.sqrt(n), n // MIN_ROWS_PER_LIST)))


def probed(n: int) -> int:
    """How many lists a query scans in the index of ``n`` rows: those holding about ``SCANNED_ROWS`` rows, so the
    search costs O(N) and denser data, where neighbours are nearer, is scanned in a smaller share."""
    lists = lists_for(n)
    return min(lists, int(round(max(1.0, SCANNED_ROWS * lists / n))))


def candidates(k: int) -> int:
    """How many candidates of each query are re-ranked exactly."""
    return k + EXTRA_CANDIDATES


def describe(n: int, dims: int, k: int) -> str:
    """The index used for ``n`` rows of ``dims`` and ``k`` neighbours, as recorded in a run."""
    return f"faiss IVF{lists_for(n)},PQ{_padded(dims) // 8}x4fs nprobe={probed(n)} rerank={candidates(k)}"


def knn(unit: np.ndarray, k: int, progress: Callable[..., None] | bool | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, similarities)``, (N, k) each, nearest first: the approximate ``k`` nearest other rows of each
    row of ``unit`` (float32, unit rows) and their exact inner products."""
    n = len(unit)
    index = _index(unit)
    index.nprobe = probed(n)
    wanted = min(candidates(k), n)
    indices, sims = np.zeros((n, k), np.int64), np.full((n, k), -np.inf, np.float32)
    with fou.ProgressBar(total=n, progress=progress) as bar:
        for start, found in _searched(index, unit, wanted):
            for offset in range(0, len(found), RERANK_BATCH):
                first = start + offset
                rows = slice(first, first + len(found[offset : offset + RERANK_BATCH]))
                indices[rows], sims[rows] = _reranked(unit, first, found[offset : offset + RERANK_BATCH], k)
            bar.set_iteration(start + len(found))
    _complete(unit, indices, sims)
    return indices, sims


def _index(unit):
    """The trained index holding every row (padded with zeros to a multiple of 16 dims for the 4-bit codes)."""
    import faiss

    n, dims = unit.shape
    padded, lists = _padded(dims), lists_for(len(unit))
    index = faiss.index_factory(padded, f"IVF{lists},PQ{padded // 8}x4fs", faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(SEED)
    size = min(n, max(lists * TRAINING_ROWS_PER_LIST, MIN_TRAINING_ROWS))
    training = np.sort(rng.choice(n, size=size, replace=False))
    index.cp.seed, index.cp.niter = SEED, KMEANS_ITERATIONS
    index.cp.min_points_per_centroid = index.pq.cp.min_points_per_centroid = 1  # small samples are deliberate
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1 if size < SERIAL_TRAINING_BELOW else threads)
    try:
        index.train(_pad(unit[training], padded))
    finally:
        faiss.omp_set_num_threads(threads)
    for start in range(0, n, QUERY_BATCH):
        index.add(_pad(unit[start : start + QUERY_BATCH], padded))
    return index


def _searched(index, unit, wanted) -> Iterator[tuple[int, np.ndarray]]:
    """``(first row, candidate rows)`` batch by batch (-1 where a query has fewer candidates)."""
    for start in range(0, len(unit), QUERY_BATCH):
        _, found = index.search(_pad(unit[start : start + QUERY_BATCH], index.d), wanted)
        yield start, found


def _reranked(unit, first, found, k):
    """The ``k`` best of each query's candidates ``found`` by exact inner product, itself and missing ones
    excluded."""
    queries = unit[first : first + len(found)]
    sims = np.einsum("qd,qcd->qc", queries, unit[np.maximum(found, 0)])
    sims[(found < 0) | (found == np.arange(first, first + len(found))[:, None])] = -np.inf
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(found, order, axis=1), np.take_along_axis(sims, order, axis=1)


def _complete(unit, indices, sims):
    """Exact neighbours for the rows that got fewer than ``k`` candidates."""
    short = np.flatnonzero(np.isinf(sims[:, -1]))
    k = indices.shape[1]
    for start in range(0, len(short), RERANK_BATCH):
        rows = short[start : start + RERANK_BATCH]
        block = unit[rows] @ unit.T
        block[np.arange(len(rows)), rows] = -np.inf
        top = np.argsort(-block, axis=1, kind="stable")[:, :k]
        indices[rows], sims[rows] = top, np.take_along_axis(block, top, axis=1)


def _padded(dims):
    return dims + (-dims) % 16


def _pad(rows, padded):
    """``rows`` with zero columns up to ``padded`` dims (inner products unchanged), contiguous float32."""
    if rows.shape[1] == padded:
        return np.ascontiguousarray(rows, dtype=np.float32)
    out = np.zeros((len(rows), padded), np.float32)
    out[:, : rows.shape[1]] = rows
    return out
