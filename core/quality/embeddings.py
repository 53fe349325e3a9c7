"""Embeddings fields: which fields hold vectors, the one check of a field as embeddings (for uniqueness, near
duplicates, embedding maps and active learning), reading them into one float32 matrix, and computing the missing
embeddings with a model first.

FiftyOne stores a vector as zlib-compressed ``numpy.save`` bytes per sample; ``read_matrix`` reads them raw and
decodes them ``READ_CHUNK`` samples at a time into one preallocated matrix, so reading N x d costs the matrix
(4 N d bytes) plus one chunk, not a list of N arrays and a stacked copy of it. The ``numpy.save`` header of a
vector is read by ``store.arrays`` (``numpy.load`` per vector costs 3x the read).
"""

import zlib
from collections.abc import Callable, Iterator

import numpy as np

import fiftyone as fo

from ..prelabel import run as prelabel
from ..store import arrays, views

DEFAULT_FIELD = "embeddings"
READ_CHUNK = 20_000  # samples decoded at once (40 MB of 512-d float32 besides the matrix)
VECTOR_FIELDS = (fo.VectorField, fo.ArrayField)

# The two kinds of consumer keep their established wording (users and tests rely on it), keyed by whether every
# sample needs a vector (uniqueness, near duplicates) or enough samples do (maps, active learning).
_MISSING = {
    True: "No embeddings field '{field}' on the dataset: choose a vector field (e.g. written by compute_embeddings) "
    "or compute embeddings with a model.",
    False: "No embeddings field '{field}': compute embeddings first (Compute embeddings) or pick a model.",
}
_RAGGED = {
    True: "The '{field}' embeddings have different lengths ({lengths}): recompute them all with one model "
    "(compute_embeddings with overwrite).",
    False: "Embeddings in '{field}' have different lengths ([{lengths}]): recompute them with one model.",
}


def vector_fields(samples: fo.core.collections.SampleCollection) -> list[str]:
    """The fields of ``samples`` that hold vectors (embeddings), sorted."""
    return sorted(samples.get_field_schema(ftype=VECTOR_FIELDS))


def check(
    samples: fo.core.collections.SampleCollection,
    field_name: str | None,
    minimum: int | None = None,
    read_vectors: bool = True,
) -> list[str]:
    """Problems with ``field_name`` as the embeddings of ``samples``: missing, not vectors, too few, different
    lengths. ``minimum``: how many samples need a vector (the others are skipped); None: every sample.
    ``read_vectors=False`` leaves out the length check (it reads every vector)."""
    every = minimum is None
    field = samples.get_field(field_name) if field_name else None
    if field is None:
        hidden = views.field_problems(samples, "this run", reads=[field_name])
        return hidden or [_MISSING[every].format(field=field_name)]
    if not isinstance(field, VECTOR_FIELDS):
        return [f"Field '{field_name}' holds {type(field).__name__}, not embedding vectors: choose a vector field."]
    count, total = samples.count(field_name), len(samples)
    if every and count < total:
        return [
            f"{total - count} of {total} samples have no '{field_name}' embeddings: compute them (compute_"
            "embeddings skips the samples that have them) or target a view without them."
        ]
    if not every and count < minimum:
        return [f"Only {count} samples of the view have '{field_name}': at least {minimum} are needed."]
    if not read_vectors:
        return []
    shapes, view = set(), samples.exists(field_name)
    for _, _, vectors in _chunks(view, field_name, view.values("id")):
        shapes.update(np.shape(v) for v in vectors)
    return _shape_problems(field_name, shapes, minimum)


def read_matrix(
    samples: fo.core.collections.SampleCollection,
    field_name: str,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[list[str], np.ndarray | None, list[str]]:
    """``(sample ids, (N, d) float32 matrix or None, problems)`` of the vectors of ``samples`` (each sample has
    one), read chunk by chunk into one matrix; ``transform`` (e.g. normalising) is applied to each chunk."""
    ids = samples.values("id")
    matrix, shapes, rows_of = None, set(), _Rows(ids)
    for start, chunk_ids, vectors in _chunks(samples, field_name, ids):
        shapes.update(np.shape(v) for v in vectors)
        if _shape_problems(field_name, shapes):
            continue  # keep reading shapes, for the message
        block = np.stack(vectors).astype(np.float32, copy=False)
        if matrix is None:
            matrix = np.empty((len(ids), block.shape[1]), np.float32)
        matrix[rows_of(start, chunk_ids)] = transform(block) if transform else block
    problems = _shape_problems(field_name, shapes)
    return ids, None if problems else matrix, problems


def _chunks(samples, field_name, ids) -> Iterator[tuple[int, list[str], list]]:
    """``(first position in ids, ids, vectors)`` of ``READ_CHUNK`` samples of ``ids`` at a time (in the order the
    database returns them)."""
    for start in range(0, len(ids), READ_CHUNK):
        chunk_ids, raw = samples.select(ids[start : start + READ_CHUNK]).values(["id", field_name], _raw=True)
        yield start, [str(_id) for _id in chunk_ids], _decoded(raw)


def _decoded(raw: list) -> list:
    """The vectors of stored values ``raw`` (zlib-compressed ``numpy.save`` bytes, or lists)."""
    return [
        arrays.decoded(zlib.decompress(value))
        if isinstance(value, bytes)
        else None
        if value is None
        else np.asarray(value)
        for value in raw
    ]


class _Rows:
    """Where the samples of a chunk go in the matrix: the chunk's rows in ``ids`` order when the database kept
    that order, else looked up by id (the lookup is built once, when first needed)."""

    def __init__(self, ids):
        self.ids, self.position = ids, None

    def __call__(self, start, chunk_ids):
        if chunk_ids == self.ids[start : start + len(chunk_ids)]:
            return slice(start, start + len(chunk_ids))
        if self.position is None:
            self.position = {sample_id: row for row, sample_id in enumerate(self.ids)}
        return [self.position[sample_id] for sample_id in chunk_ids]


def _shape_problems(field_name, shapes, minimum=None):
    """A problem when the ``shapes`` of the vectors of ``field_name`` are not all one-dimensional of one length;
    ``minimum`` as in ``check``."""
    shapes = sorted(shapes)
    if len(shapes) <= 1 and all(len(s) == 1 for s in shapes):
        return []
    lengths = ", ".join(str(s[0]) if len(s) == 1 else str(s) for s in shapes)
    return [_RAGGED[minimum is None].format(field=field_name, lengths=lengths)]


def compute_missing(
    samples: fo.core.collections.SampleCollection,
    request: prelabel.PrelabelRequest,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> str:
    """Writes the embeddings of ``request`` (an embedding task) for the samples without them (all of them with
    ``overwrite``), recorded as an ``embeddings`` run; returns the embeddings field."""
    prelabel.prelabel(samples, request, progress=progress, user=user)
    return request.output_field
