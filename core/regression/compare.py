"""Per-sample model comparison: what a candidate fixed and what it broke relative to a baseline.

Ground-truth objects are matched to each model's predictions with ``evaluate_detections``' rules
(``core.matching``): Detections by their boxes, or by their instance masks (``use_masks``; by default when the ground
truth has masks), Polylines by their filled shapes or vertices, Keypoints by OKS (``keypoint_sigmas``). Every
ground-truth object and prediction then gets a category, every sample counts per category and a regression score,
and the comparison is saved as a run. Data is read and written in bulk, chunk by chunk (no per-sample documents),
each chunk matched and categorised at once on flat arrays (``core.matching.batch``), so memory stays bounded and a
million samples take minutes. Categories are written to the objects by label id (edits made meanwhile survive), a
failed run's writes are taken back, and a key whose result fields would overwrite fields or label attributes it did
not write is refused. Masks that cannot be compared are refused before anything is written.

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
from ..matching import Pairs, batch, crowd_flags
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
GT_CODES = {name: code for code, name in enumerate(GT_CATEGORIES)}
FP_NAMES = ("tp", "new_fp", "removed_fp", "unchanged_fp")
FP_CODES = {name: code for code, name in enumerate(FP_NAMES)}
BASELINE_NAMES = tuple(BASELINE_FP.get(name, name) for name in FP_NAMES)
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

    def __post_init__(self):
        self.keypoint_sigmas = matching.kinds.sigma_list(self.keypoint_sigmas)

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
    ids = [doc["_id"] for doc in chunk]
    codes = {}
    gt, base, cand = (
        kind.batch(
            [doc.get(role) for doc in chunk], codes, [doc.get("crowd") for doc in chunk] if role == "gt" else None
        )
        for role in ROLES
    )
    categories = _compare_chunk(gt, base, cand, request, kind)
    _count_chunk(totals, gt, base, cand, categories)
    return ids, _chunk_updates(categories, request, (gt, base, cand), kind)


def _compare_chunk(gt, base, cand, request, kind):
    """The category of every object of a chunk (codes into ``GT_CATEGORIES`` and ``FP_NAMES``), each sample's counts and
    score: ``{"gt", "baseline", "candidate": codes, "counts": {name: per sample}, "score", "<role>_counts"}``."""
    base_gt, cand_gt, cand_base = Pairs.of(base, gt), Pairs.of(cand, gt), Pairs.of(cand, base)
    classwise, iou = request.classwise, request.iou
    mb = batch.match(base, gt, base_gt, kind.similarities(base, gt, base_gt, classwise=classwise), iou, classwise)
    cand_values = kind.similarities(cand, gt, cand_gt, classwise=classwise)
    mc = batch.match(cand, gt, cand_gt, cand_values, iou, classwise)
    plain = (
        kind.similarities(cand, gt, cand_gt, crowd=False, classwise=classwise) if kind.crowd_matters else cand_values
    )
    between = kind.similarities(cand, base, cand_base, crowd=False, classwise=classwise)
    gt_codes = _gt_categories(gt, base, cand, mb, mc, _flips(gt, cand, mc, cand_gt, plain, iou), request)
    # a false positive is unchanged when the other model has one of the same class on the same spot
    both_fp = (between >= iou) & ~mc.pred_tp[cand_base.a] & ~mb.pred_tp[cand_base.b]
    both_fp &= cand.codes[cand_base.a] == base.codes[cand_base.b]
    cand_codes = _fp_codes(mc.pred_tp, cand_base.a[both_fp], "new_fp")
    base_codes = _fp_codes(mb.pred_tp, cand_base.b[both_fp], "removed_fp")
    samples = len(gt.counts)
    counts = {name: np.zeros(samples, dtype=int) for name in GT_CATEGORIES + FP_CATEGORIES}
    for name, k in GT_CODES.items():
        counts[name] = np.bincount(gt.samples[gt_codes == k], minlength=samples)
    for name in ("new_fp", "unchanged_fp"):
        counts[name] = np.bincount(cand.samples[cand_codes == FP_CODES[name]], minlength=samples)
    counts["removed_fp"] = np.bincount(base.samples[base_codes == FP_CODES["removed_fp"]], minlength=samples)
    score = sum(counts[c] for c in HARM) - sum(counts[c] for c in GAIN)
    result = {"gt": gt_codes, "baseline": base_codes, "candidate": cand_codes, "counts": counts, "score": score}
    return result | {"baseline_counts": mb.counts(base, gt), "candidate_counts": mc.counts(cand, gt)}


def _gt_categories(gt, base, cand, mb, mc, flips, request):
    """The code of each ground-truth object's category (``GT_CATEGORIES``)."""
    before, after = mb.gt_tp, mc.gt_tp
    moved = np.abs(mc.gt_iou - mb.gt_iou) > request.iou_tolerance
    conf_b = base.confidences[np.maximum(mb.gt_match, 0)] if len(base.codes) else np.full(len(gt.codes), np.nan)
    conf_c = cand.confidences[np.maximum(mc.gt_match, 0)] if len(cand.codes) else np.full(len(gt.codes), np.nan)
    with np.errstate(invalid="ignore"):
        surer = np.abs(conf_c - conf_b) > request.confidence_tolerance  # NaN (no confidence): False
    conditions = [~before & after, ~before, ~after & flips, ~after, moved, surer]
    names = ("fixed", "unchanged_fn", "class_flip", "broken", "localisation_change", "confidence_change")
    return np.select(conditions, [GT_CODES[n] for n in names], GT_CODES["unchanged_tp"])


def _flips(gt, preds, matched, pairs, plain, iou):
    """For each ground-truth object, whether a false positive of another class sits on it (``plain``: the IoUs of
    ``pairs`` of ``preds`` with ``gt``, no crowds)."""
    hit = (plain >= iou) & ~matched.pred_tp[pairs.a] & (preds.codes[pairs.a] != gt.codes[pairs.b])
    flips = np.zeros(len(gt.codes), dtype=bool)
    flips[pairs.b[hit]] = True
    return flips


def _fp_codes(tp, unchanged, changed):
    """tp / unchanged_fp / ``changed`` codes (``FP_NAMES``) of predictions: ``unchanged``, the false positives the
    other model repeats."""
    codes = np.full(len(tp), FP_CODES[changed])
    codes[unchanged] = FP_CODES["unchanged_fp"]
    codes[tp] = FP_CODES["tp"]
    return codes


def _count_chunk(totals, gt, base, cand, categories):
    totals.samples += len(gt.counts)
    totals.regressed_samples += int((categories["score"] > 0).sum())
    tp = FP_CODES["tp"]
    named = [
        (gt, categories["gt"], GT_CATEGORIES, None),
        (cand, categories["candidate"], FP_NAMES, categories["candidate"] != tp),
        (base, categories["baseline"], BASELINE_NAMES, categories["baseline"] != tp),
    ]
    for objects, codes, names, kept in named:
        kept = slice(None) if kept is None else kept
        labels = np.array(objects.labels, dtype=object)[kept].tolist()
        for (label, code), n in Counter(zip(labels, codes[kept].tolist(), strict=True)).items():
            totals.add(names[code], label, n)


def _chunk_updates(categories, request, batches, kind):
    """Each sample's update: its counts and score, and each object's category by label id."""
    key = request.key
    columns = {f"{key}_score": categories["score"]}
    columns.update({f"{key}_{name}": categories["counts"][name] for name in SAMPLE_COUNTS})
    for role in ("baseline", "candidate"):
        for name, values in zip(("tp", "fp", "fn"), categories[f"{role}_counts"], strict=True):
            columns[f"{key}_{role}_{name}"] = values
    rows = [
        dict(zip(columns, values, strict=True)) for values in zip(*(c.tolist() for c in columns.values()), strict=True)
    ]
    kinds = (GT_CATEGORIES, FP_NAMES, FP_NAMES)
    for field, role, names, objects in zip(_fields(request), ROLES, kinds, batches, strict=True):
        path, values = f"{field}.{kind.list_field}", np.array(names, dtype=object)[categories[role]].tolist()
        per_sample = zip(rows, objects.per_sample(objects.ids), objects.per_sample(values), strict=True)
        for row, ids, sample_values in per_sample:
            row.update(label_values(path, ids, key, sample_values))
    return rows


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
