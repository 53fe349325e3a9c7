"""Mistakenness: which ground-truth labels are likely wrong, judged by a model's predictions.

Classification, scorer ``noise_aware`` (the default): how likely the ground-truth label is wrong, given the model's
logits: the posterior of its strongest rival class against it (``core.quality.label_errors``), with the model's
temperature and the annotators' class-conditional noise fitted on the data at
hand (``core.quality.label_errors``); ``ensemble`` adds more prediction fields, whose tempered log-probabilities are
averaged. Scorer ``softmax``: ``1 - p(ground-truth label)`` with ``p = softmax(logits)``. A prediction without
logits tells only the confidence ``c`` of the predicted label: among predictions with logits (or in an ensemble) it
counts as ``c`` on its label and ``(1 - c) / (K - 1)`` on each other class; when no prediction of a single field has
logits, agreeing scores ``1 - c``, disagreeing ``1 - (1 - c) / (K - 1)`` (the ground truth has at most ``1 - c``:
every disagreement ranks above every agreement, as with fiftyone-brain's default scorer). The run records the
scorer, and the fitted ``temperature`` and ``estimated_noise`` with its counts. The
class list of the logits is ``classes`` when given, else the class list of the model of the pre-labelling run that
wrote the predictions (a transformers model's ``id2label`` order, through its class map), else the dataset's
``default_classes``, else the sorted labels of both fields; each only when its length equals the number of logits.
``K`` is the length of the first of these lists (at least 2).

Objects (predictions matched to ground truth with ``core.matching`` at the IoU threshold): Detections by their boxes,
or by their instance masks (``use_masks``; by default when the ground truth has masks), Polylines by their filled
shapes or vertices, Keypoints by OKS (``keypoint_sigmas``; a keypoint's confidence is the mean of its points'):
- ``possible_missing`` (on predictions, and counted per sample): a prediction with confidence >= the threshold that
  overlaps no ground-truth object of any class at IoU >= the threshold: an object the annotators may have missed;
- ``possible_spurious`` (on ground truth, and counted per sample): a ground-truth object that no prediction of any
  class with confidence >= the threshold matches at IoU >= the threshold, one prediction to one object (class-agnostic
  matching): an object the annotators may have made up, or drawn twice;
- ``mistakenness`` on ground-truth objects: matched to a prediction of its class, ``confidence x (1 - IoU) /
  (1 - threshold)`` (a confident model disagrees with its box, in [0, confidence]); unmatched but overlapped by
  predictions (another class, or a duplicate box), the highest confidence among them (a confident model disagrees
  with its label); spurious objects get none. A sample's ``mistakenness`` is the highest of its objects (0: none).

Scores cover whole samples: labels a view filters out still count. Objects are scored a chunk at a time on flat
arrays (``core.matching.batch``). Fields are written with one unordered bulk write per chunk (label attributes by
label id, see ``core.store.positional_writes``), after every score of a classification run is
known (so a bad class list writes nothing); a failed run's writes are taken back. The run is recorded with kind
``mistakenness``.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

import fiftyone as fo

from .. import matching
from ..exceptions import ModelError, refuse
from ..matching import Batch, Pairs, batch, crowd_flags
from ..models import source as models
from ..store import reads, runs, schema, views
from ..store.chunk_writes import write_chunks
from ..store.fields import GROUND_TRUTH, MAX_KEY, PROVENANCE_ATTRIBUTE, label_path, label_type
from ..store.writes import label_values, rolled_back_on_failure
from . import label_errors

KIND = "mistakenness"
SUPPORTED = (fo.Classification, *matching.LIST_FIELDS)
CHUNK = 5000
NO_LOGITS = "No logits: scores use confidence only."
NOISE_AWARE, SOFTMAX = "noise_aware", "softmax"
SCORERS = (NOISE_AWARE, SOFTMAX)


@dataclass
class MistakennessRequest:
    """Score ``gt_field`` with ``pred_field``; result fields are ``<prefix>mistakenness`` etc."""

    pred_field: str
    gt_field: str = GROUND_TRUTH
    prefix: str = ""
    iou: float = 0.5
    confidence_thresh: float = 0.5
    classwise: bool = True
    classes: list | None = None
    scorer: str = NOISE_AWARE
    ensemble: list[str] | None = None
    use_masks: bool | None = None
    keypoint_sigmas: list[float] | None = None

    def __post_init__(self):
        self.keypoint_sigmas = matching.kinds.sigma_list(self.keypoint_sigmas)

    def prediction_fields(self) -> list[str]:
        """``pred_field`` and the ensemble's other prediction fields."""
        return [self.pred_field, *(self.ensemble or [])]

    def name(self, what: str) -> str:
        """The name of result ``what`` (``mistakenness``, ``possible_missing`` or ``possible_spurious``)."""
        return f"{self.prefix}{what}"


def check(samples: fo.core.collections.SampleCollection, request: MistakennessRequest) -> list[str]:
    """Every problem with ``request`` on ``samples``, as messages (empty when it can run)."""
    if label_type(samples, request.gt_field) is fo.Segmentation:
        from . import segmentation_errors  # semantic masks: per-pixel probabilities (the module builds on this one)

        return segmentation_errors.check(samples, request)
    reads = [*request.prediction_fields(), request.gt_field]
    problems = views.problems(samples, "compute_mistakenness", reads, written_fields(request, True))
    if problems:
        return problems
    problems = _check_values(samples, request)
    if problems:
        return problems
    kind = _kind(samples, request)
    problems = matching.kinds.option_problems(kind, request.use_masks, request.keypoint_sigmas)
    problems = problems or matching.kinds.problems(samples, _read_fields(request), kind)
    if problems or kind is not None:
        return problems or _check_confidences(samples, request.pred_field, f"{request.pred_field}.{kind.list_field}")
    problems = [p for f in request.prediction_fields() for p in _check_confidences(samples, f, f, or_logits=True)]
    return problems or resolve_classes(samples, request)[1]


def notes(samples: fo.core.collections.SampleCollection, request: MistakennessRequest) -> list[str]:
    """Non-blocking remarks on a valid ``request`` (predictions without logits fall back to their confidence)."""
    if label_type(samples, request.pred_field) is not fo.Classification:
        return []
    with_logits = samples.count(f"{request.pred_field}.logits")
    total = samples.count(request.pred_field)
    if with_logits == 0:
        return [NO_LOGITS]
    if with_logits < total:
        return [f"{total - with_logits} of {total} predictions have no logits: their scores use confidence only."]
    return []


def resolve_classes(
    samples: fo.core.collections.SampleCollection, request: MistakennessRequest
) -> tuple[list[str] | None, list[str]]:
    """``(classes, problems)``: the class list of the logits (None when no prediction has logits)."""
    sizes = {}
    for field in request.prediction_fields():
        first = samples.exists(f"{field}.logits").limit(1).values(f"{field}.logits")
        if first:
            sizes[field] = len(first[0])
    if not sizes:
        return None, []
    if len(set(sizes.values())) > 1:
        found = ", ".join(f"'{f}' {n}" for f, n in sizes.items())
        return None, [f"The prediction fields' logits have different lengths ({found}): ensemble one class list."]
    size = next(iter(sizes.values()))
    if request.classes:
        if len(request.classes) != size:
            return None, [
                f"{len(request.classes)} classes were given but the logits have {size} values: give the model's "
                f"{size} classes in its output order."
            ]
        return list(request.classes), _check_predicted_labels(samples, request, request.classes)
    for candidate in _class_lists(samples, request, next(iter(sizes)))[1:]:
        if candidate and len(candidate) == size:
            return list(candidate), _check_predicted_labels(samples, request, candidate)
    return None, [
        f"Cannot tell which class each of the {size} logits is for: give 'classes' (comma-separated, in the "
        "model's output order)."
    ]


def compute(
    samples: fo.core.collections.SampleCollection,
    request: MistakennessRequest,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Scores ``samples``, writes the results back, records the run; returns the run key and counts."""
    if label_type(samples, request.gt_field) is fo.Segmentation:
        from . import segmentation_errors

        return segmentation_errors.compute(samples, request, progress, user)
    refuse(check(samples, request))
    kind = _kind(samples, request)
    if kind is not None and kind.geometry == matching.MASKS:
        refuse(matching.kinds.bad_masks(samples, _read_fields(request), whole=True))
    objects = kind is not None
    classes = None if objects else resolve_classes(samples, request)[0]
    dataset = samples._root_dataset
    fields = written_fields(request, kind)
    params = {**asdict(request), "classes": classes}
    counts = Counter(samples=len(samples))
    class_info = None if objects else _class_info(samples, request, classes)
    key = runs.start_run(samples, KIND, params=params, model=_model(samples, request), fields=fields, user=user)
    with rolled_back_on_failure(samples, key, fields, counts, "mistakenness run") as (rollback, _):
        if objects:
            documents = reads.whole_chunks(samples, _projection(request, kind), kind.chunk(CHUNK))
            results = (_detections_chunk(chunk, request, counts, kind) for chunk in documents)
        else:
            ids = samples.values("id")
            chunks = [dataset.select(ids[i : i + CHUNK], ordered=True) for i in range(0, len(ids), CHUNK)]
            results = _classification_results(chunks, request, class_info, counts)
        _declare_fields(dataset, request, kind)
        write_chunks(samples, fields, rollback, results, progress)
    return {"run_key": key, "classes": classes, **counts}


def written_fields(request: MistakennessRequest, kind: matching.Kind | bool | None) -> list[str]:
    """The sample fields (and label attributes) a run on objects of ``kind`` writes (None or False:
    classifications; True: detections)."""
    score, missing, spurious = (request.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious"))
    if not kind:
        return [score]
    gt, pred = _lists(request, kind)
    return [score, missing, spurious, f"{gt}.{score}", f"{gt}.{spurious}", f"{pred}.{missing}"]


def _class_info(samples, request, classes):
    """``(classes of the logits or None, K, class list)``: ``K``, the number of classes a prediction's confidence is
    weighed against, is the length of the class list: ``classes``, else the first known (see the module
    docstring), at least 2."""
    found = classes or next((c for c in _class_lists(samples, request) if c), [])
    return classes, max(2, len(found)), list(found)


def _class_lists(samples, request, logits_field=None):
    """The candidate class lists, in order: given, the pre-labelling model's (of ``logits_field``, by default
    ``pred_field``), the dataset's, the labels of the ground truth and the predictions."""
    dataset = samples._root_dataset
    labels = [v for f in (request.gt_field, *request.prediction_fields()) for v in dataset.distinct(f"{f}.label")]
    model = _run_classes(samples, logits_field or request.pred_field)
    return request.classes, model, dataset.default_classes, sorted(set(labels))


def _classification_results(chunks, request, class_info, counts):
    """Every chunk's ``(ids, updates)``, all scored before any is written; raises when the logits do not fit.
    ``class_info``: the classes of the logits (or None), ``K`` and the class list of the ground truth."""
    softmax = request.scorer == SOFTMAX or (class_info[0] is None and not request.ensemble)
    index = {name: i for i, name in enumerate(class_info[0] or class_info[2])}
    ids, truth, parts, disagreements = [], [], [], 0
    for chunk in chunks:
        paths = ["_id", f"{request.gt_field}.label"]
        paths += [f"{f}.{name}" for f in request.prediction_fields() for name in ("label", "confidence", "logits")]
        chunk_ids, chunk_truth, *columns = chunk.values(paths)
        ids.append(chunk_ids)
        truth += chunk_truth
        if softmax:
            part, wrong = _softmax_scores(chunk_truth, columns, class_info, counts)
        else:
            members = [_log_probabilities(*columns[i : i + 3], index) for i in range(0, len(columns), 3)]
            part, wrong = [m[:2] for m in members], sum(m[2] for m in members)
        parts.append(part)
        disagreements += wrong
    if disagreements:
        classes = list(index)
        raise ValueError(
            f"On {disagreements} samples the class of the highest logit is not the predicted label, so the class "
            f"list ({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''}) is not in the model's output "
            "order: give 'classes' in that order."
        )
    scores = [s for part in parts for s in part] if softmax else _noise_aware_scores(truth, parts, index, counts)
    results, start = [], 0
    for chunk_ids in ids:
        part = scores[start : start + len(chunk_ids)]
        results.append((chunk_ids, [{request.name("mistakenness"): s} for s in part]))
        start += len(chunk_ids)
    return results


def _softmax_scores(truth, columns, class_info, counts):
    """``(scores, disagreements)`` of one chunk by the ``softmax`` scorer (see the module docstring)."""
    scores, disagreements = [], 0
    for row in zip(truth, *columns[:3], strict=True):
        score, how = _classification_score(*row, class_info[:2])
        disagreements += how == "disagrees"
        counts[how] += 1
        scores.append(score)
    return scores, disagreements


def _noise_aware_scores(truth, parts, index, counts):
    """Each ground-truth label's noise-aware error score (``label_errors``), None where unscored. ``parts``:
    each chunk's ``(log-probabilities, which rows come from logits)``, one per prediction field."""
    matrices = [np.concatenate([part[i][0] for part in parts]) for i in range(len(parts[0]))]
    with_logits = np.any([np.concatenate([part[i][1] for part in parts]) for i in range(len(parts[0]))], axis=0)
    labels = np.array([index.get(t, -1) for t in truth], dtype=int)
    combined = label_errors.ensemble_logits(matrices, labels)
    scored = ~np.isnan(combined).any(axis=1) & np.array([t is not None for t in truth], dtype=bool)
    noise = label_errors.fit(combined[scored], labels[scored])
    errors = label_errors.error_probability(combined[scored], labels[scored], noise)
    counts["logits"] += int((scored & with_logits).sum())
    counts["confidence"] += int((scored & ~with_logits).sum())
    counts["unscored"] += int((~scored).sum())
    counts["temperature"] = round(noise.temperature, 4)
    counts["estimated_noise"] = round(noise.noise_rate(labels[scored]), 4)
    scores = np.full(len(truth), None, dtype=object)
    scores[scored] = errors.tolist()
    return scores.tolist()


def _log_probabilities(predicted, confidences, logits, index):
    """One field's ``(N x K log-probabilities, NaN rows where no prediction; which rows come from logits; how many
    logits disagree with their predicted label)``: from the logits, else from the confidence
    (``label_errors.spread_logits``)."""
    matrix = np.full((len(predicted), len(index)), np.nan)
    from_logits = np.array([row is not None for row in logits], dtype=bool)
    disagreements = 0
    for i, (label, confidence, row) in enumerate(zip(predicted, confidences, logits, strict=True)):
        if label is None or label not in index:
            continue
        if row is not None:
            row = np.asarray(row, dtype=float)
            if len(row) != len(index):
                raise ValueError(f"A prediction has {len(row)} logits but there are {len(index)} classes.")
            disagreements += bool(row[index[label]] < row.max() - 1e-6)
            matrix[i] = row
        elif confidence is not None:
            matrix[i] = label_errors.spread_logits(np.array([index[label]]), np.array([confidence]), len(index))[0]
    return matrix, from_logits, disagreements


def _classification_score(truth, predicted, confidence, logits, class_info):
    """``(score, how)`` of one sample by the ``softmax`` scorer: how is logits, confidence, unscored or disagrees."""
    classes, n_classes = class_info
    if truth is None or predicted is None:
        return None, "unscored"
    if logits is not None and classes:
        logits = np.asarray(logits, dtype=float)
        if len(logits) != len(classes):
            raise ValueError(f"A prediction has {len(logits)} logits but there are {len(classes)} classes.")
        if predicted not in classes or logits[classes.index(predicted)] < logits.max() - 1e-6:
            return None, "disagrees"
        probs = np.exp(logits - logits.max())
        p_truth = probs[classes.index(truth)] / probs.sum() if truth in classes else 0.0
        return float(1.0 - p_truth), "logits"
    if confidence is None:
        return None, "unscored"
    if predicted == truth:
        return float(1.0 - confidence), "confidence"
    return float(1.0 - (1.0 - confidence) / (n_classes - 1)), "confidence"


def _kind(samples, request):
    """How the fields' labels are compared: the one place where mistakenness dispatches on the label type (None:
    classifications, else the ``matching.Kind`` of their objects)."""
    return matching.kind_of(samples, request.gt_field, request.use_masks, request.keypoint_sigmas)


def _read_fields(request):
    return [request.gt_field, request.pred_field]


def _lists(request, kind):
    """The paths of the lists of objects of the ground truth and the predictions."""
    objects = kind.list_field if isinstance(kind, matching.Kind) else "detections"
    return f"{request.gt_field}.{objects}", f"{request.pred_field}.{objects}"


def _projection(request, kind):
    """What a chunk of objects reads of each sample: each object's row (``Kind.rows``) of both fields, the ground
    truth's crowd flags."""
    gt, pred = _lists(request, kind)
    return {"gt": kind.rows(gt), "pred": kind.rows(pred), "crowd": crowd_flags(gt).to_mongo()}


def _detections_chunk(chunk, request, counts, kind):
    """The ``(sample ids, updates)`` of a chunk of objects (detections, polylines or keypoints of ``kind``)."""
    ids, codes = [doc["_id"] for doc in chunk], {}
    truth = kind.batch([doc.get("gt") for doc in chunk], codes, [doc.get("crowd") for doc in chunk])
    preds = kind.batch([doc.get("pred") for doc in chunk], codes)
    pairs = Pairs.of(preds, truth)
    values = kind.similarities(preds, truth, pairs, classwise=request.classwise)
    scores, missing, spurious = score_chunk(preds, truth, pairs, values, request)
    counts["possible_missing"] += int(missing.sum())
    counts["possible_spurious"] += int(spurious.sum())
    counts["scored_objects"] += int((~np.isnan(scores)).sum())
    return ids, _chunk_updates(request, kind, (truth, scores, spurious), (preds, missing))


def score_chunk(
    preds: Batch, gts: Batch, pairs: Pairs, values: np.ndarray, request: MistakennessRequest
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(gt scores (NaN: none), missing flags of preds, spurious flags of gts)`` of a chunk's objects (see the
    module docstring); ``values``: the similarities of their ``pairs``."""
    matches = batch.match(preds, gts, pairs, values, request.iou, request.classwise)
    covered = values >= min(request.iou, 1 - 1e-10)
    confidence = preds.confidences
    with np.errstate(invalid="ignore"):
        confident = confidence >= request.confidence_thresh
    missing = confident.copy()
    missing[pairs.a[covered]] = False
    # spurious: no confident prediction of any class matches it, one to one
    spurious = batch.match(preds, gts, pairs, values, request.iou, classwise=False, keep=confident).gt_match == -1
    overlapped = np.full(len(gts.codes), -np.inf)
    np.maximum.at(overlapped, pairs.b[covered], confidence[pairs.a[covered]])
    ratio = (1.0 - matches.gt_iou) / (1.0 - request.iou)
    matched = np.clip(confidence[np.maximum(matches.gt_match, 0)] * ratio, 0.0, 1.0) if len(confidence) else ratio
    scores = np.where(matches.gt_tp, matched, np.where(np.isneginf(overlapped), np.nan, overlapped))
    return scores, missing, spurious


def _chunk_updates(request, kind, truth, preds):
    """Each sample's update: its score and counts, and every object's flags by label id (stale ones too);
    ``truth``: the ground truth's ``(Batch, scores, spurious flags)``, ``preds``: the predictions' ``(Batch, missing
    flags)``."""
    score, n_missing, n_spurious = (request.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious"))
    (gts, scores, spurious), (predictions, missing) = truth, preds
    gt_path, pred_path = _lists(request, kind)
    highest = np.full(len(gts.counts), -np.inf)
    scored = ~np.isnan(scores)
    np.maximum.at(highest, gts.samples[scored], scores[scored])
    columns = {
        score: np.where(np.isneginf(highest), 0.0, highest).tolist(),
        n_missing: np.bincount(predictions.samples[missing], minlength=len(gts.counts)).tolist(),
        n_spurious: np.bincount(gts.samples[spurious], minlength=len(gts.counts)).tolist(),
    }
    updates = [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]
    gt_scores = [None if s != s else s for s in scores.tolist()]  # NaN: no score
    per_gt = zip(gts.per_sample(gts.ids), gts.per_sample(gt_scores), gts.per_sample(spurious.tolist()), strict=True)
    per_pred = zip(predictions.per_sample(predictions.ids), predictions.per_sample(missing.tolist()), strict=True)
    for update, (gt_ids, gt_scores, gt_spurious), (pred_ids, pred_missing) in zip(
        updates, per_gt, per_pred, strict=True
    ):
        update.update(label_values(gt_path, gt_ids, score, gt_scores))
        update.update(label_values(gt_path, gt_ids, n_spurious, gt_spurious))
        update.update(label_values(pred_path, pred_ids, n_missing, pred_missing))
    return updates


def _declare_fields(dataset, request, objects):
    """Declares the written fields (so the App can filter on them) and indexes the sample score."""
    with schema.changing(dataset):
        for name, kind in _field_types(request, objects).items():
            if not dataset.has_field(name):
                dataset.add_sample_field(name, kind)
    dataset.create_index([(request.name("mistakenness"), -1), ("id", 1)])


def _field_types(request, objects):
    kinds = (fo.FloatField, fo.IntField, fo.IntField, fo.FloatField, fo.BooleanField, fo.BooleanField)
    return dict(zip(written_fields(request, objects), kinds, strict=False))


def _check_values(samples, request):
    problems = []
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    if not request.name("mistakenness").isidentifier():
        problems.append(f"Prefix '{request.prefix}' must be letters, digits and underscores.")
    elif len(request.prefix) > MAX_KEY:
        problems.append(
            f"Prefix '{request.prefix[:40]}...' has {len(request.prefix)} characters: give at most {MAX_KEY}."
        )
    if not 0 < request.iou < 1:
        problems.append(f"IoU threshold {request.iou} must be between 0 and 1.")
    if not 0 <= request.confidence_thresh <= 1:
        problems.append(f"Confidence threshold {request.confidence_thresh} must be between 0 and 1.")
    types = {name: label_type(samples, name) for name in (request.pred_field, request.gt_field)}
    for name, found in types.items():
        if found not in SUPPORTED:
            held = f"holds {found.__name__}" if found else "is not a label field of the dataset"
            problems.append(f"'{name}' {held}: choose a Classification or Detections field (or Polylines, Keypoints).")
    problems += _check_scoring(samples, request, types[request.gt_field])
    problems += matching.kinds.parse_sigmas(request.keypoint_sigmas)[1]
    if request.pred_field == request.gt_field:
        problems.append("Choose two different fields for predictions and ground truth.")
    elif not problems and len(set(types.values())) > 1:
        found = ", ".join(f"'{n}' holds {t.__name__}" for n, t in types.items())
        problems.append(f"Predictions and ground truth must hold the same label type: {found}.")
    return problems or _check_existing_fields(samples._root_dataset, request, _kind(samples, request))


def _check_scoring(samples, request, gt_type):
    """Problems with the scorer and the ensemble's fields."""
    problems = [] if request.scorer in SCORERS else [f"Scorer '{request.scorer}' is not one of {', '.join(SCORERS)}."]
    if not request.ensemble:
        return problems
    if gt_type in matching.LIST_FIELDS:
        return [*problems, "An ensemble of prediction fields applies to classifications: leave 'ensemble' empty."]
    if request.scorer != NOISE_AWARE:
        problems.append(f"An ensemble is scored by the '{NOISE_AWARE}' scorer: choose it or leave 'ensemble' empty.")
    fields = request.prediction_fields()
    if len(set(fields)) < len(fields) or request.gt_field in fields:
        problems.append("The ensemble's fields must differ from each other, the predictions and the ground truth.")
    for name in request.ensemble:
        found = label_type(samples, name)
        if found is not fo.Classification:
            held = f"holds {found.__name__}" if found else "is not a label field of the dataset"
            problems.append(f"Ensemble field '{name}' {held}: choose Classification prediction fields.")
    return problems


def _check_existing_fields(dataset, request, objects):
    problems = []
    for name, kind in _field_types(request, objects).items():
        field = dataset.get_field(name) if dataset.has_field(name) else None
        if field is not None and not isinstance(field, kind):
            problems.append(f"Field '{name}' exists with another type: choose another prefix.")
    return problems


def _check_confidences(samples, field, path, or_logits=False):
    """A problem when some predictions of ``field`` have no confidence (nor logits, for classifications)."""
    total, scored = samples.count(path), samples.count(f"{path}.confidence")
    if or_logits:
        scored = max(scored, samples.count(f"{path}.logits"))
    if scored < total:
        what = "confidence nor logits" if or_logits else "confidence"
        return [f"{total - scored} of {total} predictions in '{field}' have no {what}: score them first."]
    return []


def _check_predicted_labels(samples, request, classes):
    unknown = sorted({v for f in request.prediction_fields() for v in samples.distinct(f"{f}.label")} - set(classes))
    if unknown:
        return [f"Predicted labels {', '.join(unknown[:10])} are not among the classes: give the model's classes."]
    return []


def _run_classes(samples, pred_field):
    """The class list of the transformers model of the latest pre-labelling run that wrote ``pred_field``."""
    for record in runs.list_suite_runs(samples):
        if record["kind"] == "prelabel" and record["fields"] == [pred_field] and record["status"] == runs.COMPLETED:
            source, class_map = record["params"].get("source") or {}, record["params"].get("class_map") or {}
            if source.get("kind") != models.HF:
                return None
            try:
                id2label = getattr(models.hf_config(source["name"]), "id2label", None) or {}
            except ModelError:
                return None
            return [class_map.get(id2label[i], id2label[i]) for i in sorted(id2label)]
    return None


def _model(samples, request):
    path = f"{label_path(request.pred_field, label_type(samples, request.pred_field))}.{PROVENANCE_ATTRIBUTE}"
    versions = [v for v in samples.distinct(path) if v] if samples.has_field(path) else []
    return ", ".join(versions) or request.pred_field
