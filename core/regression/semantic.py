"""Comparing two models' semantic masks (``Segmentation`` fields) against ground truth, pixel by pixel.

Pixel values name classes through the fields' shared mask targets; value 0, when it is a target, is the
background, which FiftyOne's ``evaluate_segmentations`` leaves out of precision and recall (its "missing" class):
background pixels are neither ground-truth objects nor predictions. Every pixel of a class gets the category the
object categories of ``compare`` give a whole object:

- ground truth of class ``c``: ``fixed`` (the baseline predicted another value, the candidate ``c``), ``broken``
  (right before, wrong now), ``unchanged_tp``, ``unchanged_fn``;
- a candidate pixel of class ``c`` whose ground truth is not ``c``: ``new_fp`` (the baseline did not predict ``c``
  there) or ``unchanged_fp``; a baseline pixel of class ``c`` whose ground truth is not ``c``: ``removed_fp`` (the
  candidate no longer predicts ``c`` there) or ``baseline_unchanged_fp``.

So each model's per-class pixel tp / fp / fn follow from the categories as for objects (``metrics``), and the
comparison's counts have the shape of a detection comparison's (kind ``segmentation``; no ``class_flip`` and no
localisation or confidence changes). Pixels with a value that is no mask target are left out, as FiftyOne does, and
counted (``unlisted_pixels``); a missing mask counts as such pixels (FiftyOne skips it).

Written per sample under the comparison key: ``<key>_fixed``, ``_broken``, ``_new_fp``, ``_removed_fp`` (pixels),
``_score`` (``broken + new_fp - fixed - removed_fp``, as ``compare``'s score), per model ``_<model>_tp/_fp/_fn``
(pixels, micro over the classes) and ``_<model>_accuracy/_precision/_recall`` (equal to ``evaluate_segmentations``'
per-sample numbers; None without ground-truth pixels of a class), and ``<key>_classes``: per class with any pixel
counted, ``{"label": class, <category>: pixels, ...}``. Masks are read chunk by chunk from the documents (``mask``) or
their files (``mask_path``); their shapes are checked from headers before anything is written.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

import fiftyone as fo

from ..exceptions import refuse
from ..store import masks, reads, runs, schema, views
from ..store.chunk_writes import write_chunks
from ..store.fields import key_problems
from ..store.writes import rolled_back_on_failure
from . import compare as detections
from .compare import GAIN, HARM, KIND, ROLES, CompareRequest, Totals, _fields

SUMMARY_KIND = "segmentation"
GT_PIXELS = ("fixed", "broken", "unchanged_tp", "unchanged_fn")
FP_PIXELS = ("new_fp", "unchanged_fp", "removed_fp", "baseline_unchanged_fp")
SAMPLE_COUNTS = ("fixed", "broken", "new_fp", "removed_fp")
MODEL_COUNTS, MODEL_RATES = ("tp", "fp", "fn"), ("accuracy", "precision", "recall")
CHUNK = 200  # samples per read: three masks each
DENSE = 1 << 18  # value triples counted with one bincount up to this many (else np.unique)


def check(samples: fo.core.collections.SampleCollection, request: CompareRequest) -> list[str]:
    """Every problem with ``request`` on ``samples`` that the fields' schema and mask targets tell, as messages
    (the masks' shapes are checked by ``compare``, before it writes)."""
    names = _fields(request)
    problems = views.problems(samples, KIND, names, written_fields(request))
    if problems:
        return problems
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    if request.use_masks or request.keypoint_sigmas:
        problems.append("use_masks and keypoint_sigmas apply to Detections and Keypoints: leave them unset.")
    problems += key_problems(request.key, "Comparison key")
    if len(set(names)) < 3:
        problems.append("Ground truth, baseline and candidate must be three different fields.")
    problems += masks.field_problems(samples, names, "compare three Segmentation fields")
    if problems:
        return problems
    return masks.target_problems(samples._root_dataset, names)[1] or _key_problems(samples._root_dataset, request)


def _key_problems(dataset, request):
    """A problem when ``request.key`` is reserved or its result fields would overwrite fields that no earlier
    comparison of this key wrote."""
    if request.key.startswith("_"):
        return [f"Comparison key '{request.key}' is reserved (it starts with '_'): choose another key."]
    records = runs.list_suite_runs(dataset)
    owned = {n for r in records if detections._is_comparison(r, request.key) for n in r["fields"] or []}
    clashes = [name for name in written_fields(request) if name not in owned and detections._taken(dataset, name)]
    if not clashes:
        return []
    named = ", ".join(f"the field '{name}'" for name in clashes)
    return [f"Comparison key '{request.key}' would overwrite {named}, which exists already: choose another key."]


def written_fields(request: CompareRequest) -> list[str]:
    """The sample fields a comparison of semantic masks writes."""
    key = request.key
    fields = [f"{key}_score", *(f"{key}_{name}" for name in SAMPLE_COUNTS), f"{key}_classes"]
    return fields + [f"{key}_{role}_{m}" for role in ROLES[1:] for m in MODEL_COUNTS + MODEL_RATES]


def compare(
    samples: fo.core.collections.SampleCollection,
    request: CompareRequest,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Runs the comparison, writes per-sample counts back, saves the run; returns the summary (``Totals``' shape,
    kind ``segmentation``, plus ``unlisted_pixels``)."""
    refuse(check(samples, request))
    dataset = samples._root_dataset
    targets = masks.target_problems(dataset, _fields(request))[0]
    refuse(masks.shape_problems(samples, dict(zip(ROLES, _fields(request), strict=True)), CHUNK))
    classes = Classes(targets)
    fields = written_fields(request)
    totals, unlisted = Totals(), Counter()
    model = detections._models(samples, request)
    key = runs.start_run(samples, KIND, params=asdict(request), model=model, fields=fields, user=user)
    with rolled_back_on_failure(samples, key, fields, totals.overall, "comparison") as (rollback, run):
        _declare_fields(dataset, request)
        projection = {role: masks.projection(field) for role, field in zip(ROLES, _fields(request), strict=True)}
        documents = reads.chunks(samples, projection, CHUNK)
        results = (_chunk_results(chunk, request, classes, totals, unlisted) for chunk in documents)
        write_chunks(samples, fields, rollback, results, progress)
        run.counts = {**totals.summary(kind=SUMMARY_KIND), "unlisted_pixels": int(unlisted["pixels"])}
    return {"run_key": key, "key": request.key, **run.counts}


class Classes:
    """The mask targets as class indices: value -> index (``other``, one past the last class, for any other value),
    the class names, and which indices are classes judged by precision and recall (not the background 0)."""

    def __init__(self, targets: dict[int, str]) -> None:
        values = sorted(targets)
        self.names, self.other = [targets[v] for v in values], len(values)
        self.top = max(values)
        self.lut = np.full(self.top + 3, self.other, dtype=np.int64)  # [value < 0, 0..top, value > top]
        self.lut[np.asarray(values) + 1] = np.arange(len(values))
        self.judged = np.array([v != 0 for v in values] + [False])

    def indices(self, mask: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
        """Each pixel's class index (``other`` everywhere when there is no mask)."""
        if mask is None:
            return np.full(shape, self.other, dtype=np.int64)
        return self.lut[np.clip(mask.astype(np.int64), -1, self.top + 1) + 1]


def _chunk_results(chunk, request, classes, totals, unlisted):
    ids, updates = [], []
    for doc in chunk:
        found = [masks.read(doc.get(role)) for role in ROLES]
        ids.append(doc["_id"])
        shape = next((m.shape for m in found if m is not None), None)
        if shape is None:
            triples = tuple(np.zeros(0, dtype=np.int64) for _ in range(4))
        else:
            triples = _triples([classes.indices(m, shape) for m in found], classes.other + 1)
        update, per_class, outside = sample_counts(triples, classes, request.key)
        updates.append(update)
        _count(totals, per_class, update[f"{request.key}_score"])
        unlisted["pixels"] += outside
    return ids, updates


def _triples(indices, m):
    """``(g, b, c, n)``: the distinct (ground truth, baseline, candidate) class-index triples of the pixels and how
    many pixels have each (``m``: the number of indices, ``other`` included)."""
    codes = ((indices[0] * m + indices[1]) * m + indices[2]).ravel()
    if m**3 <= DENSE:
        counts = np.bincount(codes, minlength=m**3)
        codes = np.flatnonzero(counts)
        counts = counts[codes]
    else:
        codes, counts = np.unique(codes, return_counts=True)
    return codes // (m * m), (codes // m) % m, codes % m, counts


def sample_counts(triples: tuple[np.ndarray, ...], classes: Classes, key: str) -> tuple[dict, dict, int]:
    """``(update, per-class category counts, pixels left out)`` of one sample from its ``_triples``."""
    g, b, c, n = triples
    other = classes.other
    listed = (g < other) & (b < other) & (c < other)
    judged = classes.judged
    gt = listed & judged[g]
    picks = {
        "fixed": gt & (b != g) & (c == g),
        "broken": gt & (b == g) & (c != g),
        "unchanged_tp": gt & (b == g) & (c == g),
        "unchanged_fn": gt & (b != g) & (c != g),
    }
    wrong_c, wrong_b = listed & judged[c] & (c != g), listed & judged[b] & (b != g)
    by_class = {name: np.bincount(g[pick], n[pick], minlength=other) for name, pick in picks.items()}
    for name, pick, index in (
        ("new_fp", wrong_c & (b != c), c),
        ("unchanged_fp", wrong_c & (b == c), c),
        ("removed_fp", wrong_b & (c != b), b),
        ("baseline_unchanged_fp", wrong_b & (c == b), b),
    ):
        by_class[name] = np.bincount(index[pick], n[pick], minlength=other)
    per_class = {
        classes.names[i]: {name: int(v[i]) for name, v in by_class.items() if v[i]}
        for i in range(other)
        if any(v[i] for v in by_class.values())
    }
    sums = {name: int(v.sum()) for name, v in by_class.items()}
    update = {f"{key}_{name}": sums[name] for name in SAMPLE_COUNTS}
    update[f"{key}_score"] = sum(sums.get(h, 0) for h in HARM) - sum(sums.get(w, 0) for w in GAIN)
    update[f"{key}_classes"] = [{"label": label, **counts} for label, counts in per_class.items()]
    for role, predicted in (("baseline", b), ("candidate", c)):
        keep = (g < other) & (predicted < other)
        confusion = np.zeros((other, other), dtype=np.int64)
        np.add.at(confusion, (g[keep], predicted[keep]), n[keep])
        update.update({f"{key}_{role}_{name}": v for name, v in model_numbers(confusion, judged[:other]).items()})
    return update, per_class, int(n[~listed].sum())


def model_numbers(confusion: np.ndarray, judged: np.ndarray) -> dict:
    """A model's pixel ``tp``, ``fp``, ``fn`` (micro over the ``judged`` classes) and ``accuracy``, ``precision``,
    ``recall`` from its ``confusion`` (rows: ground truth, columns: predictions), as ``evaluate_segmentations``
    computes them per sample: the background is no class, accuracy counts every pixel but those background in both,
    and all three are None without ground-truth pixels of a class."""
    tp = int(np.trace(confusion[np.ix_(judged, judged)]))
    predicted, support = int(confusion[:, judged].sum()), int(confusion[judged, :].sum())
    numbers = {"tp": tp, "fp": predicted - tp, "fn": support - tp}
    if not support:
        return numbers | dict.fromkeys(MODEL_RATES)
    both_background = int(confusion[~judged][:, ~judged].sum())
    accuracy = tp / (int(confusion.sum()) - both_background)
    return numbers | {"accuracy": accuracy, "precision": tp / predicted if predicted else 0.0, "recall": tp / support}


def _count(totals, per_class, score):
    totals.samples += 1
    totals.regressed_samples += score > 0
    for label, counts in per_class.items():
        for category, pixels in counts.items():
            totals.add(category, label, pixels)


def _declare_fields(dataset, request):
    """Declares the fields the bulk writes fill (so the App can filter on them) and indexes the score."""
    rates = {f"{request.key}_{role}_{m}" for role in ROLES[1:] for m in MODEL_RATES}
    with schema.changing(dataset):
        for name in written_fields(request):
            if dataset.has_field(name):
                continue
            if name == f"{request.key}_classes":
                dataset.add_sample_field(name, fo.ListField, subfield=fo.DictField)
            else:
                dataset.add_sample_field(name, fo.FloatField if name in rates else fo.IntField)
    dataset.create_index([(f"{request.key}_score", -1), ("id", 1)])


def summarize(samples: fo.core.collections.SampleCollection, params: dict) -> dict:
    """The counts of comparison ``params`` for ``samples`` (any view), as ``compare`` returns them for the whole
    dataset (without ``unlisted_pixels``): the samples' ``<key>_classes`` summed in one aggregation."""
    key = params["key"]
    sums = {name: {"$sum": f"${key}_classes.{name}"} for name in GT_PIXELS + FP_PIXELS}
    pipeline = [{"$unwind": f"${key}_classes"}, {"$group": {"_id": f"${key}_classes.label", **sums}}]
    rows = samples._root_dataset._sample_collection.aggregate(samples._pipeline() + pipeline, allowDiskUse=True)
    totals = Totals()
    for row in rows:
        for name in GT_PIXELS + FP_PIXELS:
            if row[name]:
                totals.add(name, row["_id"], row[name])
    totals.samples = len(samples)
    totals.regressed_samples = samples.count_values(fo.ViewField(f"{key}_score") > 0).get(True, 0)
    return totals.summary(kind=SUMMARY_KIND)


def samples_with(
    samples: fo.core.collections.SampleCollection, params: dict, label: str, category: str
) -> fo.DatasetView:
    """The samples of ``samples`` with pixels of class ``label`` in ``category`` in comparison ``params``."""
    F, key = fo.ViewField, params["key"]
    pixels = F(f"{key}_classes").filter((F("label") == label) & (F(category) > 0))
    return samples.match(pixels.length() > 0)
