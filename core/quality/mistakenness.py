"""Mistakenness: which ground-truth labels are likely wrong, judged by a model's predictions.

Classification: ``mistakenness = 1 - p(ground-truth label)``, with ``p = softmax(logits)`` over the model's class
list (unlike fiftyone-brain's score, which ignores the probability of the given label). Predictions without logits
tell only the confidence ``c`` of the predicted label: agreeing, ``1 - c``; disagreeing, the ground truth has at
most ``1 - c``, taken as spread evenly over the ``K - 1`` other classes: ``1 - (1 - c) / (K - 1)`` (at least ``c``
and ``1 - 1/K``, so every disagreement ranks above every agreement, as with fiftyone-brain's default scorer). The
class list of the logits is ``classes`` when given, else the class list of the model of the pre-labelling run that
wrote the predictions (a transformers model's ``id2label`` order, through its class map), else the dataset's
``default_classes``, else the sorted labels of both fields; each only when its length equals the number of logits.
``K`` is the length of the first of these lists (at least 2).

Detections (predictions matched to ground truth with ``core.matching`` at the IoU threshold):
- ``possible_missing`` (on predictions, and counted per sample): a prediction with confidence >= the threshold that
  overlaps no ground-truth object of any class at IoU >= the threshold: an object the annotators may have missed;
- ``possible_spurious`` (on ground truth, and counted per sample): a ground-truth object that no prediction of any
  class overlaps at IoU >= the threshold: an object the annotators may have made up;
- ``mistakenness`` on ground-truth objects: matched to a prediction of its class, ``confidence x (1 - IoU) /
  (1 - threshold)`` (a confident model disagrees with its box, in [0, confidence]); unmatched but overlapped by
  predictions (another class, or a duplicate box), the highest confidence among them (a confident model disagrees
  with its label); spurious objects get none. A sample's ``mistakenness`` is the highest of its objects (0: none).

Scores cover whole samples: labels a view filters out still count. Fields are written with one unordered bulk
write per chunk (label attributes by label id, see ``core.store.writes``), after every score of a classification run is
known (so a bad class list writes nothing); a failed run's writes are taken back. The run is recorded with kind
``mistakenness``.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

import fiftyone as fo
import fiftyone.core.utils as fou

from ..exceptions import ModelError, refuse
from ..matching import Objects, crowd_flags, ious, match
from ..models import source as models
from ..store import runs, schema, views
from ..store.declared import FieldGuards
from ..store.fields import GROUND_TRUTH, MAX_KEY, PROVENANCE_ATTRIBUTE, label_path, label_type
from ..store.writes import bulk_set, label_values, rolled_back_on_failure

KIND = "mistakenness"
SUPPORTED = (fo.Classification, fo.Detections)
CHUNK = 5000
NO_LOGITS = "No logits: scores use confidence only."


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

    def name(self, what: str) -> str:
        """The name of result ``what`` (``mistakenness``, ``possible_missing`` or ``possible_spurious``)."""
        return f"{self.prefix}{what}"


def check(samples: fo.core.collections.SampleCollection, request: MistakennessRequest) -> list[str]:
    """Every problem with ``request`` on ``samples``, as messages (empty when it can run)."""
    reads = [request.pred_field, request.gt_field]
    problems = views.problems(samples, "compute_mistakenness", reads, written_fields(request, True))
    if problems:
        return problems
    problems = _check_values(samples, request)
    if problems:
        return problems
    if label_type(samples, request.gt_field) is fo.Detections:
        return _check_confidences(samples, request, f"{request.pred_field}.detections")
    problems = _check_confidences(samples, request, request.pred_field, or_logits=True)
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
    path = f"{request.pred_field}.logits"
    first = samples.exists(path).limit(1).values(path)
    if not first:
        return None, []
    size = len(first[0])
    if request.classes:
        if len(request.classes) != size:
            return None, [
                f"{len(request.classes)} classes were given but the logits have {size} values: give the model's "
                f"{size} classes in its output order."
            ]
        return list(request.classes), _check_predicted_labels(samples, request, request.classes)
    for candidate in _class_lists(samples, request)[1:]:
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
    refuse(check(samples, request))
    detections = label_type(samples, request.gt_field) is fo.Detections
    classes = None if detections else resolve_classes(samples, request)[0]
    dataset = samples._root_dataset
    fields = written_fields(request, detections)
    params = {**asdict(request), "classes": classes}
    counts = Counter(samples=len(samples))
    n_classes = None if detections else class_count(samples, request, classes)
    key = runs.start_run(samples, KIND, params=params, model=_model(samples, request), fields=fields, user=user)
    with rolled_back_on_failure(samples, key, fields, counts, "mistakenness run") as (rollback, _):
        ids = samples.values("id")
        chunks = [dataset.select(ids[i : i + CHUNK], ordered=True) for i in range(0, len(ids), CHUNK)]
        if detections:
            results = (_detections_chunk(chunk, request, counts) for chunk in chunks)
        else:
            results = _classification_results(chunks, request, (classes, n_classes), counts)
        _declare_fields(dataset, request, detections)
        guards = FieldGuards(dataset, fields)
        with fou.ProgressBar(total=len(ids), progress=progress) as bar:
            for done, (chunk_ids, updates) in enumerate(results, 1):
                rollback.save(chunk_ids)
                bulk_set(dataset, chunk_ids, updates)
                guards.check(chunk_ids)
                bar.set_iteration(min(done * CHUNK, len(ids)))
    return {"run_key": key, "classes": classes, **counts}


def written_fields(request: MistakennessRequest, detections: bool) -> list[str]:
    """The sample fields (and label attributes) a run writes."""
    score, missing, spurious = (request.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious"))
    if not detections:
        return [score]
    gt, pred = f"{request.gt_field}.detections", f"{request.pred_field}.detections"
    return [score, missing, spurious, f"{gt}.{score}", f"{gt}.{spurious}", f"{pred}.{missing}"]


def class_count(
    samples: fo.core.collections.SampleCollection, request: MistakennessRequest, classes: list[str] | None = None
) -> int:
    """``K``, the number of classes a prediction's confidence is weighed against: those of the logits
    (``classes``), else the first class list known (see the module docstring), at least 2."""
    found = classes or next((c for c in _class_lists(samples, request) if c), [])
    return max(2, len(found))


def _class_lists(samples, request):
    """The candidate class lists, in order: given, the pre-labelling model's, the dataset's, both fields' labels."""
    dataset = samples._root_dataset
    labels = dataset.distinct(f"{request.gt_field}.label") + dataset.distinct(f"{request.pred_field}.label")
    return request.classes, _run_classes(samples, request.pred_field), dataset.default_classes, sorted(set(labels))


def _classification_results(chunks, request, class_info, counts):
    """Every chunk's ``(ids, updates)``, all scored before any is written; raises when the logits do not fit.
    ``class_info``: the classes of the logits (or None) and ``K``."""
    classes, results, disagreements = class_info[0], [], 0
    for chunk in chunks:
        paths = ["_id", f"{request.gt_field}.label"]
        paths += [f"{request.pred_field}.{name}" for name in ("label", "confidence", "logits")]
        ids, *columns = chunk.values(paths)
        scores = []
        for truth, predicted, confidence, logits in zip(*columns, strict=True):
            score, how = _classification_score(truth, predicted, confidence, logits, class_info)
            disagreements += how == "disagrees"
            counts[how] += 1
            scores.append(score)
        results.append((ids, [{request.name("mistakenness"): s} for s in scores]))
    if disagreements:
        raise ValueError(
            f"On {disagreements} samples the class of the highest logit is not the predicted label, so the class "
            f"list ({', '.join(classes[:10])}{', ...' if len(classes) > 10 else ''}) is not in the model's output "
            "order: give 'classes' in that order."
        )
    return results


def _classification_score(truth, predicted, confidence, logits, class_info):
    """``(score, how)`` of one sample: how is logits, confidence, unscored or disagrees."""
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


def _detections_chunk(chunk, request, counts):
    gt, pred = f"{request.gt_field}.detections", f"{request.pred_field}.detections"
    paths = ["_id", f"{gt}._id", f"{pred}._id", f"{gt}.label", f"{gt}.bounding_box", crowd_flags(gt)]
    paths += [f"{pred}.label", f"{pred}.bounding_box", f"{pred}.confidence"]
    ids, gt_ids, pred_ids, labels, boxes, crowd, *predictions = chunk.values(paths, _allow_missing=True)
    updates = []
    for gt_label_ids, pred_label_ids, *row in zip(gt_ids, pred_ids, labels, boxes, crowd, *predictions, strict=True):
        truth = Objects.of(row[0], row[1], crowd=row[2])
        scores, missing, spurious = score_objects(Objects.of(*row[3:]), truth, request)
        updates.append(_detections_update(request, scores, missing, spurious, gt_label_ids, pred_label_ids))
        counts["possible_missing"] += int(missing.sum())
        counts["possible_spurious"] += int(spurious.sum())
        counts["scored_objects"] += sum(s is not None for s in scores)
    return ids, updates


def score_objects(
    preds: Objects, gts: Objects, request: MistakennessRequest
) -> tuple[list[float | None], np.ndarray, np.ndarray]:
    """``(gt scores, missing flags of preds, spurious flags of gts)`` of one sample (see the module docstring)."""
    matches = match(preds, gts, request.iou, request.classwise)
    covered = ious(preds, gts) >= min(request.iou, 1 - 1e-10)
    confidence = np.array(preds.confidences, dtype=float)
    missing = (confidence >= request.confidence_thresh) & ~covered.any(axis=1)
    spurious = ~covered.any(axis=0)
    scores = []
    for j, status in enumerate(matches.gt_status):
        if status == "tp":
            ratio = (1.0 - matches.gt_iou[j]) / (1.0 - request.iou)
            scores.append(float(np.clip(confidence[matches.gt_match[j]] * ratio, 0.0, 1.0)))
        else:
            scores.append(float(confidence[covered[:, j]].max()) if covered[:, j].any() else None)
    return scores, missing, spurious


def _detections_update(request, scores, missing, spurious, gt_ids, pred_ids):
    """One sample's update: its score and counts, and every object's flags by label id (stale ones too)."""
    score, n_missing, n_spurious = (request.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious"))
    gt, pred = f"{request.gt_field}.detections", f"{request.pred_field}.detections"
    update = {score: max((s for s in scores if s is not None), default=0.0)}
    update.update({n_missing: int(missing.sum()), n_spurious: int(spurious.sum())})
    update.update(label_values(gt, gt_ids, score, scores))
    update.update(label_values(gt, gt_ids, n_spurious, [bool(s) for s in spurious]))
    update.update(label_values(pred, pred_ids, n_missing, [bool(m) for m in missing]))
    return update


def _declare_fields(dataset, request, detections):
    """Declares the written fields (so the App can filter on them) and indexes the sample score."""
    with schema.changing(dataset):
        for name, kind in _field_types(request, detections).items():
            if not dataset.has_field(name):
                dataset.add_sample_field(name, kind)
    dataset.create_index([(request.name("mistakenness"), -1), ("id", 1)])


def _field_types(request, detections):
    kinds = (fo.FloatField, fo.IntField, fo.IntField, fo.FloatField, fo.BooleanField, fo.BooleanField)
    return dict(zip(written_fields(request, detections), kinds, strict=False))


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
            problems.append(f"'{name}' {held}: choose a Classification or Detections field.")
    if request.pred_field == request.gt_field:
        problems.append("Choose two different fields for predictions and ground truth.")
    elif not problems and len(set(types.values())) > 1:
        found = ", ".join(f"'{n}' holds {t.__name__}" for n, t in types.items())
        problems.append(f"Predictions and ground truth must hold the same label type: {found}.")
    return problems or _check_existing_fields(samples._root_dataset, request, types[request.gt_field])


def _check_existing_fields(dataset, request, gt_type):
    problems = []
    for name, kind in _field_types(request, gt_type is fo.Detections).items():
        field = dataset.get_field(name) if dataset.has_field(name) else None
        if field is not None and not isinstance(field, kind):
            problems.append(f"Field '{name}' exists with another type: choose another prefix.")
    return problems


def _check_confidences(samples, request, path, or_logits=False):
    """A problem when some predictions have no confidence (nor logits, for classifications)."""
    total, scored = samples.count(path), samples.count(f"{path}.confidence")
    if or_logits:
        scored = max(scored, samples.count(f"{path}.logits"))
    if scored < total:
        what = "confidence nor logits" if or_logits else "confidence"
        return [f"{total - scored} of {total} predictions in '{request.pred_field}' have no {what}: score them first."]
    return []


def _check_predicted_labels(samples, request, classes):
    unknown = sorted(set(samples.distinct(f"{request.pred_field}.label")) - set(classes))
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
