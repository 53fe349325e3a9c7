"""Per-sample model comparison: what a candidate fixed and what it broke relative to a baseline.

Ground-truth objects are matched to each model's predictions with ``evaluate_detections``' rules
(``core.matching``): Detections by their boxes, or by their instance masks (``use_masks``; by default when the ground
truth has masks), Polylines by their filled shapes or vertices, Keypoints by OKS (``keypoint_sigmas``). Every
ground-truth object and prediction then gets a category, every sample counts per category and a regression score,
and the comparison is saved as a run. Data is read and written in bulk, chunk by chunk (no per-sample documents),
so memory stays bounded and 50k samples take seconds. Categories are written to the objects by label id (edits made
meanwhile survive), a failed run's writes are taken back, and a key whose result fields would overwrite fields or
label attributes it did not write is refused. Masks that cannot be compared are refused before anything is written.

Categories
- ground truth (objects: detections, polylines, keypoints): ``fixed`` (missed or wrong before, right now),
  ``broken`` (right before, missed now), ``class_flip`` (right before, now predicted as another class),
  ``localisation_change`` (right in both, IoU or OKS moved by more than the tolerance), ``confidence_change`` (right
  in both, confidence moved by more than the tolerance), ``unchanged_tp``, ``unchanged_fn``;
- predictions: ``new_fp`` (a candidate false positive the baseline did not make), ``removed_fp`` (a baseline false
  positive the candidate no longer makes), ``unchanged_fp``, ``tp``;
- classifications: per sample ``fixed``, ``broken``, ``wrong_to_wrong`` (wrong in both, with another label: not a
  regression), ``confidence_change``, ``unchanged``, ``no_ground_truth`` (no ground-truth label: not judged).

Score: ``broken + class_flip + new_fp - fixed - removed_fp`` (higher is worse). Objects without a label count under
the class ``NO_LABEL``; ``no_ground_truth`` samples count only overall.
"""

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass
from dataclasses import fields as dataclass_fields

import numpy as np

import fiftyone as fo

from .. import matching
from ..exceptions import refuse
from ..matching import crowd_flags, match
from ..store import reads, runs, schema, views
from ..store.chunk_writes import write_chunks
from ..store.fields import GROUND_TRUTH, PROVENANCE_ATTRIBUTE, key_problems, label_path, label_type
from ..store.writes import label_values, rolled_back_on_failure

GT_CATEGORIES = (
    "fixed",
    "broken",
    "class_flip",
    "localisation_change",
    "confidence_change",
    "unchanged_tp",
    "unchanged_fn",
)
FP_CATEGORIES = ("new_fp", "removed_fp", "unchanged_fp")
CLS_CATEGORIES = ("fixed", "broken", "wrong_to_wrong", "confidence_change", "unchanged", "no_ground_truth")
UNCLASSED = ("no_ground_truth",)  # counted overall only: such samples have no class
BASELINE_FP = {"unchanged_fp": "baseline_unchanged_fp"}
"""The baseline's false-positive categories as counted (the candidate's ``unchanged_fp`` keeps its name)."""
NO_LABEL = "(no label)"
HARM, GAIN = ("broken", "class_flip", "new_fp"), ("fixed", "removed_fp")
SAMPLE_COUNTS = ("fixed", "broken", "class_flip", "new_fp", "removed_fp", "localisation_change", "confidence_change")
CHUNK = 5000
KIND = "compare_models"
ROLES = ("gt", "baseline", "candidate")


@dataclass
class CompareRequest:
    """A comparison of ``candidate_field`` against ``baseline_field`` on ``gt_field``, saved under ``key``."""

    gt_field: str
    baseline_field: str
    candidate_field: str
    key: str = "compare"
    iou: float = 0.5
    iou_tolerance: float = 0.1
    confidence_tolerance: float = 0.2
    classwise: bool = True
    use_masks: bool | None = None
    keypoint_sigmas: list[float] | None = None

    @classmethod
    def from_params(cls, params: Mapping) -> "CompareRequest":
        """A request from operator or panel params: the options they leave out (or None) take their defaults."""
        given = {name: params[name] for name in OPTIONS if params.get(name) is not None}
        gt = params.get("gt_field") or GROUND_TRUTH
        return cls(gt, params.get("baseline_field"), params.get("candidate_field"), **given)


OPTIONS = tuple(f.name for f in dataclass_fields(CompareRequest) if f.default is not MISSING)


def check(samples: fo.core.collections.SampleCollection, request: CompareRequest) -> list[str]:
    """Every problem with ``request`` on ``samples``, as messages."""
    if label_type(samples, request.gt_field) is fo.Segmentation:
        from . import semantic  # semantic masks, compared pixel by pixel (the module builds on this one)

        return semantic.check(samples, request)
    reads = (request.gt_field, request.baseline_field, request.candidate_field)
    problems = views.problems(samples, KIND, reads, [*written_fields(request, True), request.key])
    if problems:
        return problems
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    problems += key_problems(request.key, "Comparison key")
    if not 0 < request.iou < 1:
        problems.append(f"IoU threshold {request.iou} must be between 0 and 1.")
    names = (request.gt_field, request.baseline_field, request.candidate_field)
    if len(set(names)) < 3:
        problems.append("Ground truth, baseline and candidate must be three different fields.")
    types = {name: _label_type(samples, name) for name in names}
    for name, found in types.items():
        if found is None:
            found_none = f"No Detections or Classification field '{name}' on the dataset"
            problems.append(f"{found_none} (nor Polylines, Keypoints).")
    if not problems and len(set(types.values())) > 1:
        found = ", ".join(f"'{n}' holds {t.__name__}" for n, t in types.items())
        problems.append(f"The three fields must hold the same label type: {found}.")
    problems += matching.kinds.parse_sigmas(request.keypoint_sigmas)[1]
    if problems:
        return problems
    kind = _kind(samples, request)
    return _option_problems(samples, request, kind) or _key_problems(samples._root_dataset, request, kind)


def _kind(samples, request):
    """How the fields' labels are compared: the one place where the comparison dispatches on the label type (None:
    classifications, else the ``matching.Kind`` of their objects)."""
    return matching.kind_of(samples, request.gt_field, request.use_masks, request.keypoint_sigmas)


def _option_problems(samples, request, kind):
    """Problems with the options of the label type and with the objects they compare (no mask is read)."""
    problems = matching.kinds.option_problems(kind, request.use_masks, request.keypoint_sigmas)
    return problems or matching.kinds.problems(samples, _fields(request), kind)


def _key_problems(dataset, request, kind):
    """A problem when ``request.key`` is reserved or its result fields would overwrite fields or label attributes
    that no earlier comparison of this key wrote."""
    key = request.key
    if key.startswith("_"):
        return [f"Comparison key '{key}' is reserved (it starts with '_'): choose another key."]
    owned = {name for r in runs.list_suite_runs(dataset) if _is_comparison(r, key) for name in r["fields"] or []}
    clashes = [name for name in written_fields(request, kind) if name not in owned and _taken(dataset, name)]
    if not clashes:
        return []
    named = ", ".join(f"the {'label attribute' if '.' in name else 'field'} '{name}'" for name in clashes)
    return [f"Comparison key '{key}' would overwrite {named}, which exists already: choose another key."]


def _is_comparison(record, key):
    return record["kind"] == KIND and (record["params"] or {}).get("key") == key


def _taken(dataset, name):
    """Whether sample field or label attribute ``name`` is declared or (an undeclared label attribute) holds values."""
    if dataset.has_field(name):
        return True
    return "." in name and dataset._sample_collection.find_one({name: {"$exists": True}}, {"_id": 1}) is not None


def compare(
    samples: fo.core.collections.SampleCollection,
    request: CompareRequest,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Runs the comparison, writes categories and counts back, saves the run; returns the summary."""
    if label_type(samples, request.gt_field) is fo.Segmentation:
        from . import semantic

        return semantic.compare(samples, request, progress, user)
    refuse(check(samples, request))
    kind = _kind(samples, request)
    if kind is not None and kind.geometry == matching.MASKS:
        refuse(matching.kinds.bad_masks(samples, list(_fields(request))))
    fields = written_fields(request, kind)
    totals = Totals()
    key = runs.start_run(
        samples, KIND, params=asdict(request), model=_models(samples, request), fields=fields, user=user
    )
    with rolled_back_on_failure(samples, key, fields, totals.overall, "comparison") as (rollback, run):
        _declare_fields(samples._root_dataset, request, kind)
        documents = reads.chunks(samples, _projection(request, kind), CHUNK if kind is None else kind.chunk(CHUNK))
        results = (_chunk_results(chunk, request, totals, kind) for chunk in documents)
        write_chunks(samples, fields, rollback, results, progress)
        run.counts = totals.summary(kind="classification" if kind is None else "detections")
    return {"run_key": key, "key": request.key, **run.counts}


def _chunk_results(chunk, request, totals, kind):
    if kind is None:
        return _classifications_chunk(chunk, request, totals)
    return _objects_chunk(chunk, request, totals, kind)


def _declare_fields(dataset, request, kind):
    """Declares the fields the bulk writes fill (so the App can filter on them) and indexes the score."""
    with schema.changing(dataset):
        for name in written_fields(request, kind):
            if not dataset.has_field(name):
                field_type = fo.StringField if name == request.key or "." in name else fo.IntField
                dataset.add_sample_field(name, field_type)
    dataset.create_index([(f"{request.key}_score", -1), ("id", 1)])


def written_fields(request: CompareRequest, kind: matching.Kind | bool | None) -> list[str]:
    """The sample fields (and label attributes) a comparison of ``kind`` writes (None or False: classifications;
    True: detections)."""
    key = request.key
    fields = [f"{key}_{name}" for name in ("score", "fixed", "broken")]
    if kind:
        objects = kind.list_field if isinstance(kind, matching.Kind) else "detections"
        fields += [f"{key}_{name}" for name in SAMPLE_COUNTS[2:]]
        fields += [f"{key}_{role}_{m}" for role in ("baseline", "candidate") for m in ("tp", "fp", "fn")]
        fields += [f"{f}.{objects}.{key}" for f in _fields(request)]
    else:
        fields += [f"{key}_wrong_to_wrong", key]
    return fields


class Totals:
    """Counts overall, per class and per sample-level category, accumulated chunk by chunk."""

    def __init__(self):
        self.overall = Counter()
        self.per_class = defaultdict(Counter)
        self.transitions = defaultdict(Counter)
        self.samples = 0
        self.regressed_samples = 0

    def add_predictions(self, truth, base, cand) -> None:
        """Counts, over samples with ground truth, each model's predicted and correctly predicted classes and the
        baseline -> candidate transitions (classifications; None: ``NO_LABEL``)."""
        for t, b, c in zip(truth, base, cand, strict=True):
            if t is None:
                continue
            for model, label in (("baseline", b), ("candidate", c)):
                if label is not None:
                    self.per_class[label][f"{model}_predicted"] += 1
                    self.per_class[label][f"{model}_correct"] += label == t
            self.transitions[_named(b)][_named(c)] += 1

    def add(self, category: str, label: str | None, n: int = 1) -> None:
        """Counts ``n`` objects (or samples) of class ``label`` (None: ``NO_LABEL``) in ``category``; an
        ``UNCLASSED`` category only overall."""
        self.overall[category] += n
        if category not in UNCLASSED:
            self.per_class[_named(label)][category] += n

    def summary(self, kind: str) -> dict:
        """The counts as plain dicts, as saved with the run; ``kind``: detections or classification."""
        return {
            "kind": kind,
            "samples": self.samples,
            "regressed_samples": self.regressed_samples,
            "overall": {k: int(v) for k, v in self.overall.items()},
            "per_class": {label: {k: int(v) for k, v in c.items()} for label, c in sorted(self.per_class.items())},
            **({"transitions": _plain(self.transitions)} if kind == "classification" else {}),
        }


def _named(label: str | None) -> str:
    return NO_LABEL if label is None else label


def _plain(nested: dict) -> dict:
    return {a: {b: int(n) for b, n in sorted(row.items())} for a, row in sorted(nested.items())}


def _objects_chunk(chunk, request, totals, kind):
    ids, label_ids, gt, base, cand = _read_objects(chunk, kind)
    tables = zip(*_tables(kind, base, cand, gt, request.classwise), strict=True)
    updates = []
    for g, b, c, sample_label_ids, sample_tables in zip(gt, base, cand, label_ids, tables, strict=True):
        categories = _compare_sample(g, b, c, request, sample_tables)
        updates.append(_sample_update(categories, request, sample_label_ids, kind))
        _count_sample(totals, g, b, c, categories)
    return ids, updates


def _tables(kind, base, cand, gt, classwise):
    """Per sample, the similarities of the baseline and the candidate with the ground truth, of the candidate with
    the baseline and with the ground truth, the last two with every object counted as a non-crowd."""
    base_gt, cand_gt = kind.tables(base, gt, classwise=classwise), kind.tables(cand, gt, classwise=classwise)
    between = kind.tables(cand, base, crowd=False, classwise=classwise)
    plain = kind.tables(cand, gt, crowd=False, classwise=classwise) if kind.crowd_matters else cand_gt
    return base_gt, cand_gt, between, plain


def _sample_update(categories, request, label_ids, kind):
    """One sample's update: its counts and score, and each object's category by label id."""
    key = request.key
    update = {f"{key}_score": categories["score"]}
    update.update({f"{key}_{name}": categories[f"n_{name}"] for name in SAMPLE_COUNTS})
    for role in ("baseline", "candidate"):
        tp, fp, fn = categories[f"{role}_counts"]
        update.update({f"{key}_{role}_tp": tp, f"{key}_{role}_fp": fp, f"{key}_{role}_fn": fn})
    for field, name, ids in zip(_fields(request), ("gt", "baseline", "candidate"), label_ids, strict=True):
        update.update(label_values(f"{field}.{kind.list_field}", ids, key, categories[name]))
    return update


def _compare_sample(gt, base, cand, request, tables):
    """The categories of every object of one sample, its counts and its score; ``tables``: its ``_tables``."""
    base_gt, cand_gt, between, cand_boxes_gt = tables
    mb = match(base, gt, request.iou, request.classwise, base_gt)
    mc = match(cand, gt, request.iou, request.classwise, cand_gt)
    flips = _flips(gt, cand, mc, request.iou, cand_boxes_gt)
    gt_categories = [_gt_category(j, base, cand, mb, mc, flips, request) for j in range(len(gt.labels))]
    # between is symmetric: the baseline's side is its transpose
    cand_fp = _fp_categories(cand, mc, base, mb, between, request.iou, "new_fp")
    base_fp = _fp_categories(base, mb, cand, mc, between.T, request.iou, "removed_fp")
    counts = Counter(gt_categories) + Counter(cand_fp) + Counter(c for c in base_fp if c == "removed_fp")
    score = sum(counts[c] for c in HARM) - sum(counts[c] for c in GAIN)
    result = {"gt": gt_categories, "baseline": base_fp, "candidate": cand_fp, "score": int(score)}
    result.update({f"n_{name}": int(counts[name]) for name in GT_CATEGORIES + FP_CATEGORIES})
    result.update(baseline_counts=mb.counts(), candidate_counts=mc.counts())
    return result


def _gt_category(j, base, cand, mb, mc, flips, request):
    before, after = mb.gt_status[j] == "tp", mc.gt_status[j] == "tp"
    if not before:
        return "fixed" if after else "unchanged_fn"
    if not after:
        return "class_flip" if flips[j] else "broken"
    if abs(mc.gt_iou[j] - mb.gt_iou[j]) > request.iou_tolerance:
        return "localisation_change"
    conf_b, conf_c = base.confidences[mb.gt_match[j]], cand.confidences[mc.gt_match[j]]
    if conf_b is not None and conf_c is not None and abs(conf_c - conf_b) > request.confidence_tolerance:
        return "confidence_change"
    return "unchanged_tp"


def _flips(gt, preds, matches, iou, boxes_gt):
    """For each ground-truth object, whether a false positive of another class sits on it (``boxes_gt``: the IoUs
    of ``preds`` with ``gt``, no crowds)."""
    fp = [i for i, s in enumerate(matches.pred_status) if s == "fp"]
    if not fp or not len(gt.labels):
        return [False] * len(gt.labels)
    overlaps = (boxes_gt[fp] >= iou).T.tolist()
    labels = [preds.labels[i] for i in fp]
    return [
        any(hit and label != gt_label for hit, label in zip(row, labels, strict=True))
        for row, gt_label in zip(overlaps, gt.labels, strict=True)
    ]


def _fp_categories(preds, matches, other, other_matches, between, iou, changed):
    """tp / unchanged_fp / ``changed`` for each prediction: a false positive is unchanged when the other model has
    a false positive of the same class on the same spot (``between``: the IoUs of ``preds`` with ``other``)."""
    other_fp = [k for k, s in enumerate(other_matches.pred_status) if s == "fp"]
    overlaps = (between[:, other_fp] >= iou).tolist() if other_fp else [[]] * len(preds.labels)
    labels = [other.labels[k] for k in other_fp]
    return [
        "tp" if status == "tp" else "unchanged_fp" if _same_class_hit(row, labels, label) else changed
        for status, row, label in zip(matches.pred_status, overlaps, preds.labels, strict=True)
    ]


def _same_class_hit(hits, labels, label):
    return any(hit and other == label for hit, other in zip(hits, labels, strict=True))


def _count_sample(totals, gt, base, cand, categories):
    totals.samples += 1
    totals.regressed_samples += categories["score"] > 0
    for label, category in zip(gt.labels, categories["gt"], strict=True):
        totals.add(category, label)
    for label, category in zip(cand.labels, categories["candidate"], strict=True):
        if category != "tp":
            totals.add(category, label)
    for label, category in zip(base.labels, categories["baseline"], strict=True):
        if category in ("removed_fp", "unchanged_fp"):
            totals.add(BASELINE_FP.get(category, category), label)


def _classifications_chunk(chunk, request, totals):
    ids = [doc["_id"] for doc in chunk]
    (truth, _), (base, conf_b), (cand, conf_c) = [
        [[(doc.get(role) or {}).get(k) for doc in chunk] for k in ("label", "confidence")] for role in ROLES
    ]
    categories = _classification_categories(truth, base, cand, conf_b, conf_c, request.confidence_tolerance)
    score = (categories == "broken").astype(int) - (categories == "fixed")
    totals.samples += len(truth)
    totals.regressed_samples += int((score > 0).sum())
    for label, category in zip(truth, categories, strict=True):
        totals.add(category, label)
    totals.add_predictions(truth, base, cand)
    key = request.key
    updates = [
        {key: c, f"{key}_score": int(v), **{f"{key}_{n}": int(c == n) for n in ("fixed", "broken", "wrong_to_wrong")}}
        for c, v in zip(categories, score, strict=True)
    ]
    return ids, updates


def _classification_categories(truth, base, cand, conf_b, conf_c, tolerance):
    """Each sample's category from the three labels and the two confidences (lists)."""
    truth, base, cand = (np.array(v, dtype=object) for v in (truth, base, cand))
    conf_b, conf_c = (np.array([np.nan if c is None else c for c in v], dtype=float) for v in (conf_b, conf_c))
    right_b, right_c = base == truth, cand == truth
    categories = np.full(len(truth), "unchanged", dtype=object)
    categories[~right_b & right_c] = "fixed"
    categories[right_b & ~right_c] = "broken"
    categories[~right_b & ~right_c & (base != cand)] = "wrong_to_wrong"
    categories[right_b & right_c & (np.abs(conf_c - conf_b) > tolerance)] = "confidence_change"
    categories[truth == None] = "no_ground_truth"  # noqa: E711  (elementwise)
    return categories


def _projection(request, kind):
    """What a chunk reads of each sample: per role, each object's row (``Kind.rows``) and the ground truth's crowd
    flags; for classifications, each label and confidence."""
    roles = zip(ROLES, _fields(request), strict=True)
    if kind is None:
        return {role: {k: f"${field}.{k}" for k in ("label", "confidence")} for role, field in roles}
    projection = {role: kind.rows(f"{field}.{kind.list_field}") for role, field in roles}
    return projection | {"crowd": crowd_flags(f"{request.gt_field}.{kind.list_field}").to_mongo()}


def _read_objects(chunk, kind):
    """The sample ids, the label ids (per sample: of each role) and the ``Objects`` of the three roles."""
    ids, label_ids, objects = [], [], []
    for doc in chunk:
        rows = [kind.objects(doc.get(role), doc.get("crowd") if role == "gt" else None) for role in ROLES]
        ids.append(doc["_id"])
        label_ids.append(tuple(r[0] for r in rows))
        objects.append([r[1] for r in rows])
    gt, base, cand = (list(column) for column in zip(*objects, strict=True)) if objects else ([], [], [])
    return ids, label_ids, gt, base, cand


def _fields(request):
    return request.gt_field, request.baseline_field, request.candidate_field


def _models(samples, request):
    names = []
    for role, field in (("baseline", request.baseline_field), ("candidate", request.candidate_field)):
        path = f"{label_path(field, _label_type(samples, field))}.{PROVENANCE_ATTRIBUTE}"
        versions = [v for v in samples.distinct(path) if v] if samples.has_field(path) else []
        names.append(f"{role}: {', '.join(versions) or field}")
    return " | ".join(names)


def _label_type(samples, name):
    label_cls = label_type(samples, name)
    return label_cls if label_cls is fo.Classification or label_cls in matching.LIST_FIELDS else None
