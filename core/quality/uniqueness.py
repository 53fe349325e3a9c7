"""Uniqueness and near duplicates from an embeddings field, by cosine nearest neighbours (``neighbors``: exact
below ``neighbors.APPROXIMATE_FROM`` samples, a faiss index from there, or as the ``neighbors`` option forces).

Uniqueness of a sample: the weighted mean of the cosine distances (``1 - cos``) to its ``k`` nearest other
samples, nearest first, with weights proportional to the triangular numbers T(k), ..., T(2), T(1) (6, 3, 1, i.e.
``0.6, 0.3, 0.1`` for the default k = 3: fiftyone-brain's weights, which brain 0.25 applies to the 2nd-4th
neighbours), divided by the largest value in the view: in [0, 1], 1 for the most isolated sample; a sample with
k exact duplicates scores 0. Never an N x N matrix (see ``core.quality.neighbors``). The run records the search
asked for (``neighbors``) and the one used (``neighbors_method``, ``neighbors_index``).

Near duplicates: samples at cosine distance <= ``threshold`` are linked, and linked samples (directly or through
others) form a group. The default 0.05 (similarity >= 0.95) catches re-encoded, resized or lightly edited copies
of an image with typical image embeddings; raise it for crops and heavier edits.
"""

from collections.abc import Callable

import numpy as np
from bson import ObjectId

import fiftyone as fo

from ..exceptions import refuse
from ..store import declared, runs, schema, views, writes
from ..store.fields import field_name_problems
from . import embeddings as E
from . import neighbors as near

DEFAULT_K = 3
DEFAULT_THRESHOLD = 0.05
GROUP_FIELD, COUNT_FIELD = "near_dup_group", "near_dup_count"
DUPLICATE_FIELDS = {GROUP_FIELD: fo.IntField, COUNT_FIELD: fo.IntField}
MAX_REPORTED = 100  # groups listed in a result (all are written)
DEFAULT_OUTPUT_FIELD = "uniqueness"
CHUNK = 5000  # samples per write, each checked for a deletion of the field (``core.store.declared``)


def check(
    samples: fo.core.collections.SampleCollection,
    embeddings_field: str | None,
    k: int | None = None,
    threshold: float | None = None,
    read_vectors: bool = True,
    neighbors: str = near.DEFAULT_METHOD,
) -> list[str]:
    """Every problem with running on ``samples``, as messages. ``read_vectors``: also read every vector to check
    that they have one length (else only what the schema and counts show)."""
    problems = check_settings(samples, k, threshold, neighbors)
    if not problems and embeddings_field is not None:
        problems = E.check(samples, embeddings_field, read_vectors=read_vectors)
    return problems


def check_settings(
    samples: fo.core.collections.SampleCollection,
    k: int | None = None,
    threshold: float | None = None,
    neighbors: str = near.DEFAULT_METHOD,
) -> list[str]:
    """Problems with the view (its kind, its size), ``k``, ``threshold`` (given for near duplicates only) and the
    ``neighbors`` search."""
    problems = views.problems(samples, "find_near_duplicates" if threshold is not None else "compute_uniqueness")
    if problems:
        return problems
    problems += near.method_problems(neighbors)
    if k is not None and not 1 <= k <= near.MAX_K:
        problems.append(f"k = {k}: the number of neighbours must be between 1 and {near.MAX_K}.")
    if threshold is not None and not 0.0 <= threshold < 2.0:
        problems.append(f"Threshold {threshold} is not a cosine distance: choose a value in [0, 2), e.g. 0.05.")
    needed = (k or 1) + 1
    count = len(samples)
    if count == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    elif count < needed:
        problems.append(f"The target view has {count} samples; it needs at least {needed} (k + 1): add samples.")
    return problems


def check_uniqueness_output(samples: fo.core.collections.SampleCollection, output_field: str) -> list[str]:
    """Problems with writing uniqueness scores to ``output_field``: a view that hides the field, a name that
    cannot be a field, or a field there of another type."""
    return (
        views.field_problems(samples, "compute_uniqueness", writes=[output_field])
        or field_name_problems(output_field)
        or _check_types(samples, {output_field: fo.FloatField}, "choose another output field")
    )


def check_duplicate_outputs(samples: fo.core.collections.SampleCollection) -> list[str]:
    """Problems with writing the near-duplicate fields: a view that hides them, fields of those names of another
    type."""
    remedy = f"rename or delete it first (near duplicates are always written to '{GROUP_FIELD}' and '{COUNT_FIELD}')"
    return views.field_problems(samples, "find_near_duplicates", writes=DUPLICATE_FIELDS) or _check_types(
        samples, DUPLICATE_FIELDS, remedy
    )


def _check_types(samples, fields, remedy):
    """Messages for the fields of ``fields`` ({name: field class}) that exist with another type."""
    problems = []
    for name, kind in fields.items():
        existing = samples._root_dataset.get_field(name)
        if existing is not None and not isinstance(existing, kind):
            found = getattr(existing, "document_type", None) or type(existing)
            problems.append(
                f"Field '{name}' holds {found.__name__}, another type than the {kind.__name__} this run writes "
                f"there: {remedy}."
            )
    return problems


def read(
    samples: fo.core.collections.SampleCollection, embeddings_field: str
) -> tuple[list[str], np.ndarray | None, list[str]]:
    """``(sample ids, normalised float32 matrix or None, problems)`` of the vectors of ``samples``."""
    return E.read_matrix(samples, embeddings_field, near.normalise)


def compute_uniqueness(
    samples: fo.core.collections.SampleCollection,
    embeddings_field: str = E.DEFAULT_FIELD,
    *,
    k: int = DEFAULT_K,
    output_field: str = DEFAULT_OUTPUT_FIELD,
    neighbors: str = near.DEFAULT_METHOD,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Writes each sample's uniqueness to ``output_field`` and records a ``uniqueness`` run; returns the summary
    (run key, counts, the most unique sample ids, the neighbour search used). ``neighbors``: one of
    ``neighbors.METHODS``. Raises ValueError on bad input, writing nothing."""
    ids, unit = _load(samples, embeddings_field, check_uniqueness_output(samples, output_field), neighbors, k=k)
    params = {"embeddings_field": embeddings_field, "k": k, "output_field": output_field}
    params.update(_search(neighbors, unit, k))
    key = runs.start_run(
        samples, "uniqueness", params=params, model=_model(samples, embeddings_field), fields=[output_field], user=user
    )
    with writes.rolled_back_on_failure(samples, key, [output_field], {}, "uniqueness run") as (rollback, run):
        scores = scores_from(near.nearest(unit, k, neighbors, progress=progress).distances)
        _declare(samples, {output_field: fo.FloatField})
        rollback.save(_object_ids(ids))
        values = {_id: {output_field: score} for _id, score in zip(ids, scores.tolist(), strict=True)}
        declared.set_values(samples, values, CHUNK)
        run.counts = {"samples": len(ids), "mean": float(scores.mean()), "median": float(np.median(scores))}
    most = np.argsort(-scores, kind="stable")[:10]
    used = params["neighbors_method"]
    return {
        "run_key": key,
        "field": output_field,
        **run.counts,
        "most_unique": [ids[i] for i in most],
        "neighbors": used,
    }


def scores_from(distances: np.ndarray) -> np.ndarray:
    """Uniqueness in [0, 1] from each row's sorted neighbour distances (see the module docstring)."""
    k = distances.shape[1]
    weights = np.array([(k - i) * (k - i + 1) / 2 for i in range(k)], np.float64)
    raw = distances.astype(np.float64) @ (weights / weights.sum())
    top = raw.max()
    return raw / top if top > 0 else raw


def find_near_duplicates(
    samples: fo.core.collections.SampleCollection,
    embeddings_field: str = E.DEFAULT_FIELD,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    duplicate_tag: str | None = None,
    member_tag: str | None = None,
    neighbors: str = near.DEFAULT_METHOD,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Groups samples at cosine distance <= ``threshold`` and writes ``near_dup_group`` (group id, None alone)
    and ``near_dup_count`` (how many other samples share the group). ``duplicate_tag`` tags all but the first
    sample (in view order) of each group, ``member_tag`` every member; both are first removed from the view, so
    a rerun leaves no stale tags. ``neighbors``: one of ``neighbors.METHODS`` (approximate: see
    ``neighbors.groups``). Records a ``near_duplicates`` run; returns counts, the groups' sample ids and the
    neighbour search used."""
    ids, unit = _load(samples, embeddings_field, check_duplicate_outputs(samples), neighbors, threshold=threshold)
    params = {"embeddings_field": embeddings_field, "threshold": threshold}
    params.update(duplicate_tag=duplicate_tag, member_tag=member_tag, **_search(neighbors, unit, near.DUPLICATE_CAP))
    tags = [t for t in (duplicate_tag, member_tag) if t]
    fields = [GROUP_FIELD, COUNT_FIELD, *(["tags"] if tags else [])]
    key = runs.start_run(
        samples,
        "near_duplicates",
        params=params,
        model=_model(samples, embeddings_field),
        fields=fields,
        user=user,
    )
    counts = {"samples": len(ids)}
    written = [GROUP_FIELD, COUNT_FIELD]  # the tags are taken back one by one, keeping others' tags
    with writes.rolled_back_on_failure(samples, key, written, counts, "near-duplicate search") as (rollback, _):
        groups = _groups(near.groups(unit, threshold, neighbors, progress=progress))
        rollback.save(_object_ids(ids))
        rollback.steps.append(_retagging(samples, tags))
        _write_groups(samples, ids, groups)
        counts.update(_tag(samples, ids, groups, duplicate_tag, member_tag, tags))
        counts.update(groups=len(groups), duplicates=sum(len(g) - 1 for g in groups))
        counts["samples_in_groups"] = counts["groups"] + counts["duplicates"]
    listed = [[ids[i] for i in group] for group in groups[:MAX_REPORTED]]
    truncated = len(groups) > MAX_REPORTED
    return {
        "run_key": key,
        **counts,
        "group_ids": listed,
        "truncated": truncated,
        "neighbors": params["neighbors_method"],
    }


def _groups(labels):
    """The components with more than one row, as sorted row arrays: largest first, then by first row."""
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(labels[order]) != 0])
    members = [m for m in np.split(order, starts[1:]) if len(m) > 1]
    return sorted(members, key=lambda m: (-len(m), m[0]))


def _write_groups(samples, ids, groups):
    """Every sample alone first (group None, count 0), then the groups' members."""
    _declare(samples, DUPLICATE_FIELDS)
    declared.set_all(samples, ids, {GROUP_FIELD: None, COUNT_FIELD: 0})
    members = {
        ids[i]: {GROUP_FIELD: number, COUNT_FIELD: len(rows) - 1} for number, rows in enumerate(groups) for i in rows
    }
    declared.set_values(samples, members, CHUNK)


def _retagging(samples, tags):
    """What puts ``tags`` back on the samples of ``samples`` that have them now (and on no other), other tags
    untouched."""
    had = {tag: samples.match_tags(tag).values("id") for tag in tags}

    def retag():
        if tags:
            samples.untag_samples(tags)
        for tag, tagged in had.items():
            samples.select(tagged).tag_samples(tag)

    return retag


def _tag(samples, ids, groups, duplicate_tag, member_tag, tags):
    if tags:
        samples.untag_samples(tags)
    tagged = {}
    for tag, chosen in ((duplicate_tag, [g[1:] for g in groups]), (member_tag, groups)):
        if tag:
            rows = np.concatenate(chosen) if chosen else []
            samples.select([ids[i] for i in rows]).tag_samples(tag)
            tagged[f"tagged_{tag}"] = len(rows)
    return tagged


def _search(neighbors, unit, k):
    """The run params that say which neighbour search was asked for and which one runs on ``unit``."""
    n, dims = unit.shape
    method = near.resolve(neighbors, n)
    return {"neighbors": neighbors, "neighbors_method": method, "neighbors_index": near.describe(method, n, dims, k)}


def _load(samples, embeddings_field, output_problems, neighbors, k=None, threshold=None):
    problems = check(samples, embeddings_field, k, threshold, read_vectors=False, neighbors=neighbors)
    problems += output_problems
    ids, unit, more = read(samples, embeddings_field) if not problems else (None, None, [])
    refuse(problems + more)
    return ids, unit


def _object_ids(ids):
    return [ObjectId(_id) for _id in ids]


def _declare(samples, fields):
    with schema.changing(samples) as dataset:
        for name, kind in fields.items():
            if not dataset.has_field(name):
                dataset.add_sample_field(name, kind)


def _model(samples, embeddings_field):
    """The model of the latest embeddings run that wrote ``embeddings_field``, when the suite wrote it."""
    for record in runs.list_suite_runs(samples):
        if record["kind"] == "embeddings" and embeddings_field in record["fields"]:
            return record["model"]
    return None
