"""Accepting pre-labels: promote confident predictions into a ground-truth field, never removing human labels.

Promoted labels are copies that carry their provenance (``accepted_from``, ``accepted_run``, ``accepted_by``,
``accepted_at`` and the model's ``model_version``), so ``revert`` can take back exactly what a run added.
"""

import fiftyone as fo

from . import runs
from .labels import label_type

SUPPORTED = (fo.Classification, fo.Detections)
CHUNK = 1000


def check(samples, pred_field, gt_field, threshold, tag=None):
    """Every problem with the request, as messages (empty when it can run)."""
    dataset = samples._root_dataset
    problems = []
    if not 0.0 <= threshold <= 1.0:
        problems.append(f"Confidence threshold {threshold} is outside [0, 1].")
    pred_type = label_type(dataset, pred_field)
    if pred_type is None:
        problems.append(f"No label field '{pred_field}' on the dataset: choose the field the model wrote.")
    elif pred_type not in SUPPORTED:
        problems.append(f"Field '{pred_field}' holds {pred_type.__name__}; only Classification and Detections.")
    gt_type = label_type(dataset, gt_field)
    if not gt_field or gt_field == pred_field or "." in gt_field:
        problems.append("Choose a ground-truth field other than the predictions field.")
    elif dataset.has_field(gt_field) and gt_type is not pred_type and pred_type is not None:
        found = gt_type.__name__ if gt_type else "no labels"
        problems.append(f"Field '{gt_field}' holds {found}, but '{pred_field}' holds {pred_type.__name__}.")
    view = samples.match_tags(tag) if tag else samples
    if len(view) == 0:
        where = f" tagged '{tag}'" if tag else ""
        problems.append(f"The target view has no samples{where}: nothing to accept.")
    return problems


def accept(samples, pred_field, gt_field, threshold, tag=None, user=None):
    """Promotes predictions with confidence >= ``threshold``; returns the run key and counts."""
    problems = check(samples, pred_field, gt_field, threshold, tag)
    if problems:
        raise ValueError(" ".join(problems))
    view = samples.match_tags(tag) if tag else samples
    params = {"pred_field": pred_field, "gt_field": gt_field, "threshold": threshold, "tag": tag}
    key = runs.start_run(view, "accept_prelabels", params=params, fields=[gt_field], user=user)
    stamp = {
        "accepted_from": pred_field,
        "accepted_run": key,
        "accepted_by": user or runs.current_user(),
        "accepted_at": runs.now_iso(),
    }
    counts = {"samples": len(view), "promoted": 0, "kept_human": 0}
    try:
        ids = view.values("id")
        for start in range(0, len(ids), CHUNK):
            _accept_chunk(view.select(ids[start : start + CHUNK]), pred_field, gt_field, threshold, stamp, counts)
        view._root_dataset.add_dynamic_sample_fields(fields=[gt_field])
    except BaseException as error:
        runs.finish_run(view, key, counts=counts, error=error)
        raise
    runs.finish_run(view, key, counts=counts)
    return {"run_key": key, **counts}


def revert(samples, run_key):
    """Removes every label that accept run ``run_key`` added to ``samples``; returns how many were removed."""
    dataset = samples._root_dataset
    gt_field = dataset.get_run_info(run_key).config.params["gt_field"]
    added = fo.ViewField("accepted_run") == run_key
    if label_type(dataset, gt_field) is fo.Classification:
        view = samples.match(fo.ViewField(f"{gt_field}.accepted_run") == run_key)
        view.set_values(gt_field, [None] * len(view))
        return len(view)
    kept = samples.filter_labels(gt_field, ~added, only_matches=False)
    removed = samples.count(f"{gt_field}.detections") - kept.count(f"{gt_field}.detections")
    kept.save(gt_field)
    return removed


def _accept_chunk(chunk, pred_field, gt_field, threshold, stamp, counts):
    ids, preds = chunk.values(["id", pred_field])
    gts = chunk.values(gt_field) if chunk._root_dataset.has_field(gt_field) else [None] * len(ids)
    changed = {}
    for sample_id, gt, pred in zip(ids, gts, preds, strict=True):
        new = _promote(gt, pred, threshold, stamp, counts)
        if new is not None:
            changed[sample_id] = new
    if changed:
        chunk.set_values(gt_field, changed, key_field="id", dynamic=True)


def _promote(gt, pred, threshold, stamp, counts):
    """The new ground truth of one sample, or None when it does not change."""
    if pred is None:
        return None
    if isinstance(pred, fo.Classification):
        if gt is not None:
            counts["kept_human"] += 1
            return None
        if (pred.confidence or 0) < threshold:
            return None
        counts["promoted"] += 1
        return _copy(pred, stamp)
    existing = gt.detections if gt is not None else []
    already = {d["accepted_source_id"] for d in existing if d.has_field("accepted_source_id")}
    counts["kept_human"] += sum(1 for d in existing if not d.has_field("accepted_run"))
    new = [_copy(d, stamp) for d in pred.detections if (d.confidence or 0) >= threshold and d.id not in already]
    if not new:
        return None
    counts["promoted"] += len(new)
    return fo.Detections(detections=list(existing) + new)


def _copy(label, stamp):
    copy = label.copy()  # a new id; the prediction it came from is kept as accepted_source_id
    copy["accepted_source_id"] = label.id
    for key, value in stamp.items():
        copy[key] = value
    return copy
