"""Active learning: choose the next samples to annotate — uncertain for the model, and not near duplicates.

Uncertainty comes from stored logits (softmax) or, without logits, from confidences (a two-way distribution
``[c, 1 - c]``): ``entropy`` (normalised to [0, 1]), ``margin`` (1 - gap between the two most likely classes) or
``least_confidence`` (1 - top probability). For detections a sample's uncertainty is the mean over its objects.
With an embeddings field the batch is picked greedily: each pick maximises
``(1 - diversity) * uncertainty + diversity * distance to the nearest already-picked sample`` (cosine, in [0, 1]),
so a cluster of near duplicates yields one pick, not ten. This is exact and linear in the number of samples (one
matrix-vector product per pick, no k-NN search), so no approximate index is needed: at 1M x 512-d a batch of 50
takes seconds (``benchmarks/scale_jobs/neighbours.py``). The vectors are read into one float32 matrix chunk by chunk
(``embeddings.read_matrix``).
"""

import numpy as np

import fiftyone as fo

from ..exceptions import refuse
from ..store import runs, views, writes
from ..store.fields import label_type
from . import embeddings
from .neighbors import normalise

STRATEGIES = ("entropy", "margin", "least_confidence")
DEFAULT_COUNT = 50  # the batch size the forms offer
DEFAULT_STRATEGY = "entropy"
DEFAULT_DIVERSITY = 0.5
DEFAULT_TAG = "to_annotate"
SUPPORTED = (fo.Classification, fo.Detections)


def check(
    samples: fo.core.collections.SampleCollection,
    pred_field: str,
    count: int,
    *,
    strategy: str,
    embeddings_field: str | None = None,
    diversity: float = DEFAULT_DIVERSITY,
    tag: str = DEFAULT_TAG,
) -> list[str]:
    """Every problem with the request, as messages."""
    problems = views.problems(samples, "select_for_annotation", reads=[pred_field, embeddings_field])
    if problems:
        return problems
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    if label_type(samples, pred_field) not in SUPPORTED:
        problems.append(f"No Classification or Detections field '{pred_field}': choose the model's predictions.")
    elif not samples.exists(pred_field).count(_confidence_path(samples, pred_field)):
        problems.append(f"'{pred_field}' has no confidences or logits: pre-label with a model that scores its labels.")
    if strategy not in STRATEGIES:
        problems.append(f"Unknown strategy '{strategy}': choose one of {', '.join(STRATEGIES)}.")
    if count < 1:
        problems.append(f"Choose at least one sample (got {count}).")
    if not 0 <= diversity <= 1:
        problems.append(f"Diversity {diversity} must be between 0 and 1.")
    if not tag:
        problems.append("Give the tag that marks the chosen samples, e.g. to_annotate.")
    if embeddings_field and not problems:
        problems += embeddings.check(samples, embeddings_field, 1)
    return problems


def select(
    samples: fo.core.collections.SampleCollection,
    pred_field: str,
    count: int,
    *,
    strategy: str = DEFAULT_STRATEGY,
    embeddings_field: str | None = None,
    diversity: float = DEFAULT_DIVERSITY,
    tag: str = DEFAULT_TAG,
    user: str | None = None,
) -> dict:
    """Tags the ``count`` most informative samples with ``tag``; returns their ids and scores."""
    problems = check(
        samples, pred_field, count, strategy=strategy, embeddings_field=embeddings_field, diversity=diversity, tag=tag
    )
    refuse(problems)
    params = {
        "pred_field": pred_field,
        "count": count,
        "strategy": strategy,
        "embeddings_field": embeddings_field,
        "diversity": diversity,
        "tag": tag,
    }
    model = runs.writer_model(samples, pred_field)
    key = runs.start_run(samples, "select_for_annotation", params=params, model=model, fields=["tags"], user=user)
    with writes.rolled_back_on_failure(samples, key, [], {}, "selection") as (rollback, run):
        candidates = samples.match_tags(tag, bool=False)  # never pick what is already chosen
        ids, scores = uncertainties(candidates, pred_field, strategy)
        vectors = _vectors(candidates, embeddings_field, ids) if embeddings_field else None
        chosen = pick(scores, count, vectors, diversity)
        picked = samples.select([ids[i] for i in chosen])
        rollback.steps.append(lambda: picked.untag_samples(tag))  # they had no such tag; others' tags stay
        picked.tag_samples(tag)
        run.counts = {"tagged": len(chosen), "mean_uncertainty": float(np.mean(scores[chosen])) if chosen else 0.0}
    return {"run_key": key, "ids": [ids[i] for i in chosen], **run.counts}


def uncertainties(
    samples: fo.core.collections.SampleCollection, pred_field: str, strategy: str
) -> tuple[list[str], np.ndarray]:
    """Sample ids and their uncertainty in [0, 1] under ``strategy``."""
    if label_type(samples, pred_field) is fo.Detections:
        ids, confidences = samples.values(["id", f"{pred_field}.detections.confidence"])
        per_sample = [[_score(_two_way(c), strategy) for c in cs if c is not None] for cs in confidences]
        return ids, np.array([np.mean(s) if s else 0.0 for s in per_sample])
    ids, logits, confidences = samples.values(["id", f"{pred_field}.logits", f"{pred_field}.confidence"])
    distributions = [_softmax(lg) if lg is not None else _two_way(c) for lg, c in zip(logits, confidences, strict=True)]
    return ids, np.array([_score(p, strategy) if p is not None else 0.0 for p in distributions])


def pick(
    scores: np.ndarray, count: int, vectors: np.ndarray | None = None, diversity: float = DEFAULT_DIVERSITY
) -> list[int]:
    """Indices of the batch: the most uncertain, or greedily uncertain-and-far-apart with ``vectors`` (unit
    rows, or zero rows for samples without a vector)."""
    count = min(count, len(scores))
    if vectors is None or diversity == 0:
        return [int(i) for i in np.argsort(-scores, kind="stable")[:count]]
    nearest = np.ones(len(scores))  # cosine distance / 2 to the nearest chosen sample, in [0, 1]
    chosen = []
    for _ in range(count):
        value = (1 - diversity) * scores + diversity * nearest
        value[chosen] = -np.inf
        best = int(np.argmax(value))
        chosen.append(best)
        nearest = np.minimum(nearest, (1 - vectors @ vectors[best]) / 2)
    return chosen


def _vectors(samples, field, ids):
    """The unit vectors of the samples ``ids`` in that order, zero rows for those without one."""
    found, unit, _ = embeddings.read_matrix(samples.exists(field), field, normalise)
    if found == ids:
        return unit
    rows = {sample_id: row for row, sample_id in enumerate(ids)}
    every = np.zeros((len(ids), unit.shape[1]), np.float32)
    every[[rows[sample_id] for sample_id in found]] = unit
    return every


def _score(p, strategy):
    p = np.sort(np.asarray(p, dtype=float))[::-1]
    if strategy == "least_confidence":
        return float(1 - p[0])
    if strategy == "margin":
        return float(1 - (p[0] - (p[1] if len(p) > 1 else 0.0)))
    entropy = -np.sum(p * np.log(np.clip(p, 1e-12, 1)))
    return float(entropy / np.log(len(p))) if len(p) > 1 else 0.0


def _softmax(logits):
    exp = np.exp(np.asarray(logits, dtype=float) - np.max(logits))
    return exp / exp.sum()


def _two_way(confidence):
    return None if confidence is None else [confidence, 1 - confidence]


def _confidence_path(samples, field):
    if label_type(samples, field) is fo.Detections:
        return f"{field}.detections.confidence"
    return f"{field}.confidence"
