"""Reading a saved comparison back: counts for any view (one MongoDB aggregation), the worst-regressed samples
and the objects of a class and category, the CI gate's verdict, JSON / Markdown reports; tagging the regressed
samples (a run).

"Broken" counts broken objects (or samples) and class flips; classification samples wrong before and after with
another label (``wrong_to_wrong``) only when asked, and samples without ground truth (``no_ground_truth``) never."""

import json

import fiftyone as fo

from ..store import runs
from ..store.fields import label_path, label_type
from . import semantic
from .compare import BASELINE_FP, CLS_CATEGORIES, GT_CATEGORIES, KIND, NO_LABEL, UNCLASSED, Totals

F = fo.ViewField
BROKEN, FIXED, WRONG_TO_WRONG = ("broken", "class_flip"), ("fixed",), "wrong_to_wrong"
APART = (WRONG_TO_WRONG, *UNCLASSED)  # reported apart from fixed and broken
CHARTED = {
    "classification": ("fixed", "broken", WRONG_TO_WRONG),
    "detections": ("fixed", "broken", "class_flip", "new_fp", "removed_fp"),
    semantic.SUMMARY_KIND: ("fixed", "broken", "new_fp", "removed_fp"),
}
"""The categories a per-class chart shows, by kind of comparison: classifications have no false positives."""


def comparisons(samples: fo.core.collections.SampleCollection) -> list[dict]:
    """The comparisons saved on the dataset, newest first: dicts of run key, comparison key and fields."""
    return [
        {"run_key": r["key"], "started_at": r["started_at"], **r["params"]}
        for r in runs.list_suite_runs(samples)
        if r["kind"] == KIND and r["status"] == runs.COMPLETED
    ]


def summarize(samples: fo.core.collections.SampleCollection, params: dict) -> dict:
    """Counts per category overall and per class for ``samples`` (any view) of the comparison ``params``, as
    ``compare.Totals.summary`` saves them for the whole dataset."""
    key, gt = params["key"], params["gt_field"]
    if _is_semantic(samples, gt):
        return semantic.summarize(samples, params)
    classification = _is_classification(samples, gt)
    if classification:
        rows = _group(samples, [], {"role": "gt", "label": f"${gt}.label", "category": f"${key}"})
    else:
        rows = _object_groups(samples, key, {role: params[f"{role}_field"] for role in COUNTED})
    overall, per_class = {}, {}
    for row in rows:
        role, category, label = (row["_id"].get(k) for k in ("role", "category", "label"))
        counted, renamed = COUNTED[role] if not classification else (CLS_CATEGORIES, {})
        if category not in counted:
            continue
        category = renamed.get(category, category)
        overall[category] = overall.get(category, 0) + row["n"]
        if category not in UNCLASSED:
            counts = per_class.setdefault(label if label is not None else NO_LABEL, {})
            counts[category] = counts.get(category, 0) + row["n"]
    regressed = samples.count_values(F(f"{key}_score") > 0).get(True, 0)
    summary = {
        "kind": "classification" if classification else "detections",
        "samples": len(samples),
        "regressed_samples": regressed,
        "overall": overall,
        "per_class": per_class,
    }
    if classification:
        _add_predictions(samples, params, summary)
    return summary


COUNTED = {
    "gt": (GT_CATEGORIES, {}),
    "candidate": (("new_fp", "unchanged_fp"), {}),
    "baseline": (("removed_fp", "unchanged_fp"), BASELINE_FP),
}
"""Per role of a detection comparison's fields: the object categories counted, and their names when counted."""


def _object_groups(samples, key, fields: dict) -> list[dict]:
    """How many objects of each (role, label, category) the fields ``{role: field}`` hold, in one pass over the
    samples (one ``$unwind`` of all three fields' objects)."""
    objects = [
        {
            "$map": {
                "input": {"$ifNull": [f"${label_path(field, label_type(samples, field))}", []]},
                "as": "d",
                "in": {"role": role, "label": "$$d.label", "category": f"$$d.{key}"},
            }
        }
        for role, field in fields.items()
    ]
    unwind = [{"$project": {"o": {"$concatArrays": objects}}}, {"$unwind": "$o"}]
    return _group(samples, unwind, {k: f"$o.{k}" for k in ("role", "label", "category")})


def _add_predictions(samples, params, summary) -> None:
    """Adds what ``compare.Totals.add_predictions`` counts: each model's predicted classes and the transitions."""
    labels = {role: f"${params[f'{role}_field']}.label" for role in ("gt", "baseline", "candidate")}
    totals = Totals()
    for row in _group(samples, [], labels):
        ids = row["_id"]
        truth, base, cand = ([ids.get(role)] * row["n"] for role in ("gt", "baseline", "candidate"))
        totals.add_predictions(truth, base, cand)
    predicted = totals.summary("classification")
    for label, counts in predicted["per_class"].items():
        summary["per_class"].setdefault(label, {}).update(counts)
    summary["transitions"] = predicted["transitions"]


def charted(summary: dict) -> tuple[str, ...]:
    """The categories a per-class chart of ``summary`` shows (see ``CHARTED``)."""
    return CHARTED[summary.get("kind", "detections")]


def summary_for(samples: fo.core.collections.SampleCollection, comparison: dict) -> dict:
    """The comparison's counts for ``samples``: saved with the run for the whole dataset, aggregated for a view."""
    if isinstance(samples, fo.Dataset) or not samples._stages:
        saved = samples._root_dataset.get_run_info(comparison["run_key"]).config.counts
        if saved.get("samples") == len(samples._root_dataset):
            return saved
    return summarize(samples, comparison)


def broken_fixed(counts: dict, wrong_to_wrong: bool = False) -> tuple[int, int]:
    """(broken, fixed) of a counts dict: broken includes class flips, and ``wrong_to_wrong`` samples when asked."""
    broken = BROKEN + (WRONG_TO_WRONG,) if wrong_to_wrong else BROKEN
    return sum(counts.get(c, 0) for c in broken), sum(counts.get(c, 0) for c in FIXED)


def gate_failures(
    summary: dict,
    max_broken: int | None = None,
    max_ratio: float | None = None,
    per_class: bool = True,
    wrong_to_wrong: bool = False,
) -> list[str]:
    """Why the candidate fails the gate (empty when it passes): broken > max_broken or broken/fixed > max_ratio;
    broken counts ``wrong_to_wrong`` samples only when asked."""
    scopes = [("overall", summary["overall"])]
    if per_class:
        scopes += [(f"class '{label}'", counts) for label, counts in sorted(summary["per_class"].items())]
    failures = []
    for scope, counts in scopes:
        broken, fixed = broken_fixed(counts, wrong_to_wrong)
        if max_broken is not None and broken > max_broken:
            failures.append(f"{scope}: {broken} broken > {max_broken} allowed")
        if max_ratio is not None and broken and (not fixed or broken / fixed > max_ratio):
            ratio = f"{broken / fixed:.2f}" if fixed else "inf"
            failures.append(f"{scope}: broken/fixed = {broken}/{fixed} = {ratio} > {max_ratio}")
    return failures


def top_regressions(
    samples: fo.core.collections.SampleCollection, key: str, limit: int = 20, skip: int = 0
) -> list[dict]:
    """The worst-regressed samples (highest score first) as dicts, via the score index."""
    fields = ["id", "filepath", f"{key}_score", f"{key}_fixed", f"{key}_broken", f"{key}_class_flip"]
    page = regressed(samples, key).skip(skip).limit(limit)
    rows = zip(*page.values(fields, _allow_missing=True), strict=True)
    return [
        {"id": r[0], "filepath": r[1], "score": r[2], "fixed": r[3], "broken": (r[4] or 0) + (r[5] or 0)} for r in rows
    ]


def regressed(samples: fo.core.collections.SampleCollection, key: str) -> fo.DatasetView:
    """The samples that regressed in comparison ``key``, worst first (via the score index)."""
    return samples.match(F(f"{key}_score") > 0).sort_by([(f"{key}_score", -1), ("id", 1)])


def objects_view(
    samples: fo.core.collections.SampleCollection, comparison: dict, label: str, category: str
) -> fo.DatasetView:
    """The samples (and, for detections, only the objects) of class ``label`` in ``category``."""
    key, gt = comparison["key"], comparison["gt_field"]
    if _is_semantic(samples, gt):
        return semantic.samples_with(samples, comparison, label, category)
    if _is_classification(samples, gt):
        return samples.match(_labelled(F(f"{gt}.label"), label) & (F(key) == category))
    field = {"new_fp": comparison["candidate_field"], "removed_fp": comparison["baseline_field"]}.get(category, gt)
    return samples.filter_labels(field, _labelled(F("label"), label) & (F(key) == category))


CHANGED = ("fixed", "broken", "class_flip", "new_fp", "removed_fp")
"""The object categories a person looks at first in a sample: what the candidate changed."""


def changed_labels(samples: fo.core.collections.SampleCollection, comparison: dict, sample_id: str) -> list[dict]:
    """The objects of sample ``sample_id`` the candidate changed (``CHANGED``), as the App's selected labels
    (``label_id``, ``sample_id``, ``field``); none for a classification or semantic-mask comparison."""
    if _is_classification(samples, comparison["gt_field"]) or _is_semantic(samples, comparison["gt_field"]):
        return []
    key, sample = comparison["key"], samples._root_dataset[sample_id]
    return [
        {"label_id": label.id, "sample_id": sample_id, "field": field}
        for field in (comparison[f"{role}_field"] for role in ("gt", "baseline", "candidate"))
        for label in (sample[label_path(field, label_type(samples, field))] if sample[field] else [])
        if label[key] in CHANGED
    ]


def transition_view(
    samples: fo.core.collections.SampleCollection, comparison: dict, baseline: str, candidate: str
) -> fo.DatasetView:
    """The samples with ground truth whose baseline predicted ``baseline`` and candidate ``candidate`` (class
    names; ``NO_LABEL``: no label), as counted in a classification comparison's transitions."""
    base, cand = (F(f"{comparison[f'{role}_field']}.label") for role in ("baseline", "candidate"))
    judged = F(f"{comparison['gt_field']}.label").exists()
    return samples.match(judged & _labelled(base, baseline) & _labelled(cand, candidate))


def _is_classification(samples: fo.core.collections.SampleCollection, gt_field: str) -> bool:
    return samples._root_dataset.get_field(gt_field).document_type is fo.Classification


def _is_semantic(samples: fo.core.collections.SampleCollection, gt_field: str) -> bool:
    return samples._root_dataset.get_field(gt_field).document_type is fo.Segmentation


def _labelled(path: fo.ViewExpression, label: str) -> fo.ViewExpression:
    """Whether the label at ``path`` is ``label`` (``NO_LABEL``: has none)."""
    return ~path.exists() if label == NO_LABEL else path == label


def tag_regressed(
    samples: fo.core.collections.SampleCollection, comparison_key: str, tag: str, user: str | None = None
) -> dict:
    """Tags the samples that regressed in comparison ``comparison_key`` with ``tag``, as a run that holds the lease
    on the tags; returns its key and how many samples it tagged."""
    params = {"comparison_key": comparison_key, "tag": tag}
    key = runs.start_run(samples, "tag_regressed", params=params, fields=["tags"], user=user)
    untagged = []

    def untag(_error: BaseException) -> None:
        samples._root_dataset.select(untagged).untag_samples(tag)

    with runs.recorded(samples, key, on_failure=untag) as run:
        view = regressed(samples, comparison_key)
        count = len(view)  # before tagging: the view may exclude the tag
        untagged += view.match_tags(tag, bool=False).values("id")
        view.tag_samples(tag)
        run.counts = {"tagged": count}
    return {"run_key": key, **run.counts}


def report(summary: dict, params: dict, failures: list[str], top: list[dict]) -> dict:
    """The JSON-able report of a gate run."""
    return {"comparison": params, "passed": not failures, "failures": failures, "summary": summary, "top": top}


def markdown(report_data: dict) -> str:
    """A Markdown rendering of ``report``: verdict, overall and per-class table, top regressions."""
    params, summary = report_data["comparison"], report_data["summary"]
    lines = [
        f"# Model comparison: `{params['candidate_field']}` vs `{params['baseline_field']}`",
        "",
        f"**{'PASSED' if report_data['passed'] else 'FAILED'}** on {summary['samples']} samples "
        f"(ground truth `{params['gt_field']}`, IoU {params.get('iou')}); "
        f"{summary['regressed_samples']} samples regressed.",
        "",
    ]
    lines += [f"- {failure}" for failure in report_data["failures"]] + [""]
    apart = tuple(c for c in APART if c in summary["overall"])
    columns = ("fixed", "broken", "class_flip", "new_fp", "removed_fp", *apart)
    lines += ["| scope | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    scopes = [("overall", summary["overall"])] + sorted(summary["per_class"].items())
    lines += [f"| {name} | " + " | ".join(str(c.get(k, 0)) for k in columns) + " |" for name, c in scopes]
    lines += [
        "",
        "## Top regressions",
        "",
        "| sample id | score | broken | fixed | filepath |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['id']} | {t['score']} | {t['broken']} | {t['fixed']} | {t['filepath']} |" for t in report_data["top"]
    ]
    return "\n".join(lines) + "\n"


def export_files(samples: fo.core.collections.SampleCollection, comparison: dict) -> list[tuple[str, str, str]]:
    """The report of ``comparison`` for ``samples`` (the App's view) as ``(file name, media type, text)``: Markdown
    and JSON, each saying which samples it covers."""
    dataset = samples._root_dataset
    summary = summarize(samples, comparison)
    data = report(summary, comparison, [], top_regressions(samples, comparison["key"], limit=50))
    data["scope"] = f"{summary['samples']} of {len(dataset)} samples of dataset '{dataset.name}' (the view shown)"
    stem = f"{dataset.name}-{comparison['key']}"
    text = markdown(data).replace("\n", f"\n\nScope: {data['scope']}.\n", 1)
    return [(f"{stem}.md", "text/markdown", text), (f"{stem}.json", "application/json", json.dumps(data, default=str))]


def _group(samples, unwind, group_id):
    pipeline = samples._pipeline() + unwind + [{"$group": {"_id": group_id, "n": {"$sum": 1}}}]
    return list(samples._root_dataset._sample_collection.aggregate(pipeline, allowDiskUse=True))
