"""Reading a saved comparison back: counts for any view (one MongoDB aggregation), the worst-regressed samples,
the CI gate's verdict, and JSON / Markdown reports."""

import fiftyone as fo

from .compare import CLS_CATEGORIES, GT_CATEGORIES

BROKEN, FIXED = ("broken", "class_flip"), ("fixed",)


def comparisons(samples):
    """The comparisons saved on the dataset, newest first: dicts of run key, comparison key and fields."""
    from ..store.runs import list_suite_runs

    return [
        {"run_key": r["key"], "started_at": r["started_at"], **r["params"]}
        for r in list_suite_runs(samples)
        if r["kind"] == "compare_models" and r["status"] == "completed"
    ]


def summarize(samples, params):
    """Counts per category overall and per class for ``samples`` (any view) of the comparison ``params``."""
    key, gt = params["key"], params["gt_field"]
    if samples._root_dataset.get_field(gt).document_type is fo.Classification:
        sources = [([], {"label": f"${gt}.label", "category": f"${key}"}, CLS_CATEGORIES)]
    else:
        sources = [
            (
                [{"$unwind": f"${field}.detections"}],
                {"label": f"${field}.detections.label", "category": f"${field}.detections.{key}"},
                counted,
            )
            for field, counted in (
                (gt, GT_CATEGORIES),
                (params["candidate_field"], ("new_fp", "unchanged_fp")),
                (params["baseline_field"], ("removed_fp",)),
            )
        ]
    overall, per_class = {}, {}
    for unwind, group_id, counted in sources:
        for row in _group(samples, unwind, group_id):
            category, label = row["_id"].get("category"), row["_id"].get("label")
            if category in counted:
                overall[category] = overall.get(category, 0) + row["n"]
                counts = per_class.setdefault(label if label is not None else "(no label)", {})
                counts[category] = counts.get(category, 0) + row["n"]
    regressed = samples.count_values(fo.ViewField(f"{key}_score") > 0).get(True, 0)
    return {"samples": len(samples), "regressed_samples": regressed, "overall": overall, "per_class": per_class}


def broken_fixed(counts):
    """(broken, fixed) of a counts dict: broken includes class flips."""
    return sum(counts.get(c, 0) for c in BROKEN), sum(counts.get(c, 0) for c in FIXED)


def gate_failures(summary, max_broken=None, max_ratio=None, per_class=True):
    """Why the candidate fails the gate (empty when it passes): broken > max_broken or broken/fixed > max_ratio."""
    scopes = [("overall", summary["overall"])]
    if per_class:
        scopes += [(f"class '{label}'", counts) for label, counts in sorted(summary["per_class"].items())]
    failures = []
    for scope, counts in scopes:
        broken, fixed = broken_fixed(counts)
        if max_broken is not None and broken > max_broken:
            failures.append(f"{scope}: {broken} broken > {max_broken} allowed")
        if max_ratio is not None and broken and (not fixed or broken / fixed > max_ratio):
            ratio = f"{broken / fixed:.2f}" if fixed else "inf"
            failures.append(f"{scope}: broken/fixed = {broken}/{fixed} = {ratio} > {max_ratio}")
    return failures


def top_regressions(samples, key, limit=20, skip=0):
    """The worst-regressed samples (highest score first) as dicts, via the score index."""
    view = samples.match(fo.ViewField(f"{key}_score") > 0).sort_by([(f"{key}_score", -1), ("id", 1)])
    fields = ["id", "filepath", f"{key}_score", f"{key}_fixed", f"{key}_broken", f"{key}_class_flip"]
    page = view.skip(skip).limit(limit)
    rows = zip(*page.values(fields, _allow_missing=True), strict=True)
    return [
        {"id": r[0], "filepath": r[1], "score": r[2], "fixed": r[3], "broken": (r[4] or 0) + (r[5] or 0)} for r in rows
    ]


def report(summary, params, failures, top):
    """The JSON-able report of a gate run."""
    return {"comparison": params, "passed": not failures, "failures": failures, "summary": summary, "top": top}


def markdown(report_data):
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
    columns = ("fixed", "broken", "class_flip", "new_fp", "removed_fp")
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


def _group(samples, unwind, group_id):
    pipeline = samples._pipeline() + unwind + [{"$group": {"_id": group_id, "n": {"$sum": 1}}}]
    return list(samples._root_dataset._sample_collection.aggregate(pipeline, allowDiskUse=True))
