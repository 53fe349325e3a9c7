"""Embeddings fields: which fields hold vectors, the one check of a field as embeddings (for uniqueness, near
duplicates, embedding maps and active learning), and computing the missing embeddings with a model first."""

from collections.abc import Callable, Sequence

import numpy as np

import fiftyone as fo

from ..prelabel import run as prelabel
from ..store import views

DEFAULT_FIELD = "embeddings"
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
    return length_problems(field_name, samples.exists(field_name).values(field_name), minimum) if read_vectors else []


def length_problems(field_name: str, vectors: Sequence, minimum: int | None = None) -> list[str]:
    """A problem when ``vectors`` (of ``field_name``) are not all one-dimensional of one length; ``minimum`` as
    in ``check``."""
    shapes = sorted({np.shape(v) for v in vectors})
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
