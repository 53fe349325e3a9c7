"""Accepting pre-labels: promote confident predictions into a ground-truth field, never removing human labels.

Promoted labels are copies that carry their provenance (``accepted_from``, ``accepted_run``, ``accepted_by``,
``accepted_at`` and the model's ``model_version``), so ``revert`` can take back exactly what a run added. They are
added with atomic per-sample updates, so labels that people add or delete meanwhile stay as they left them. A run
that fails takes back the labels it added (and the field or label attributes it declared) the same way.

Whole labels (``Classification``, ``Segmentation``) are set only where the sample has no ground truth; the objects of
a list (``Detections`` with or without instance masks, ``Polylines``, ``Keypoints``) are added next to the ones
there, each once. A label's confidence is its ``confidence`` (none counts as 0: accepted only at threshold 0); a
keypoint's is the mean confidence of its visible points; a semantic mask has none, and the threshold does not apply
to it. A mask on disk (``mask_path``) is referenced, not copied, as FiftyOne's own field clones do. Labels that cannot
be ground truth are skipped and counted (``skipped_invalid``): a polygon shape of fewer than 3 points (a line of
fewer than 2), a keypoint with no visible point, a ``mask_path`` to a missing file, an instance mask that is not a
2-D array with a pixel set, a semantic mask that is not a 2-D (or RGB) array of at least one pixel. Other values of a
mask (e.g. 0/255 rather than booleans) are kept as they are: FiftyOne reads a non-zero pixel as set.

What the labels need to be read as the model meant them goes with them: the predictions field's keypoint skeleton
and semantic mask targets (its own or the dataset's default) are given to the ground-truth field when it has none,
and a ground-truth field whose skeleton or targets say something else is refused (its labels would be misread).
"""

import math
import os
from datetime import UTC, datetime

from pymongo import UpdateOne

import fiftyone as fo

from ..exceptions import refuse
from ..store import runs, schema, views, writes
from ..store.declared import FieldGuard
from ..store.fields import ACCEPTED_RUN, GROUND_TRUTH, label_type, remove_run_labels

WHOLE = (fo.Classification, fo.Segmentation)
"""The label types accepted whole, only where a sample has no ground truth."""
LISTS = (fo.Detections, fo.Polylines, fo.Keypoints)
"""The label types whose objects are accepted one by one, next to the ground truth's."""
SUPPORTED = WHOLE + LISTS
CHUNK = 1000
DEFAULT_THRESHOLD = 0.5


def check(
    samples: fo.core.collections.SampleCollection,
    pred_field: str,
    gt_field: str,
    threshold: float,
    tag: str | None = None,
) -> list[str]:
    """Every problem with the request, as messages (empty when it can run)."""
    refused = views.problems(samples, "accept_prelabels", reads=[pred_field], writes=[gt_field])
    if refused:
        return refused
    dataset = samples._root_dataset
    problems = []
    if not 0.0 <= threshold <= 1.0:
        problems.append(f"Confidence threshold {threshold} is outside [0, 1].")
    pred_type = label_type(dataset, pred_field)
    if pred_type is None:
        problems.append(f"No label field '{pred_field}' on the dataset: choose the field the model wrote.")
    elif pred_type not in SUPPORTED:
        names = ", ".join(t.__name__ for t in SUPPORTED)
        problems.append(f"Field '{pred_field}' holds {pred_type.__name__}: only {names} can be accepted.")
    gt_type = label_type(dataset, gt_field)
    if not gt_field or gt_field == pred_field:
        problems.append("Choose a ground-truth field other than the predictions field.")
    elif "." in gt_field:
        problems.append(f"'{gt_field}' is a nested field name: choose a top-level ground-truth field (no dots).")
    elif dataset.has_field(gt_field) and gt_type is not pred_type and pred_type is not None:
        found = gt_type.__name__ if gt_type else "no labels"
        problems.append(f"Field '{gt_field}' holds {found}, but '{pred_field}' holds {pred_type.__name__}.")
    elif pred_type is not None:
        problems += _metadata_conflicts(dataset, pred_field, gt_field)
    view = samples.match_tags(tag) if tag else samples
    if len(view) == 0:
        where = f" tagged '{tag}'" if tag else ""
        problems.append(f"The target view has no samples{where}: nothing to accept.")
    return problems


def accept(
    samples: fo.core.collections.SampleCollection,
    pred_field: str,
    *,
    gt_field: str = GROUND_TRUTH,
    threshold: float = DEFAULT_THRESHOLD,
    tag: str | None = None,
    user: str | None = None,
) -> dict:
    """Promotes predictions with confidence >= ``threshold``; returns the run key and counts."""
    refuse(check(samples, pred_field, gt_field, threshold, tag))
    view = samples.match_tags(tag) if tag else samples
    params = {"pred_field": pred_field, "gt_field": gt_field, "threshold": threshold, "tag": tag}
    model = runs.writer_model(view, pred_field)
    key = runs.start_run(view, "accept_prelabels", params=params, model=model, fields=[gt_field], user=user)
    stamp = {
        "accepted_from": pred_field,
        ACCEPTED_RUN: key,
        "accepted_by": user or runs.current_user(),
        "accepted_at": runs.now_iso(),
    }
    counts = {"samples": len(view), "promoted": 0, "kept_human": 0, "skipped_invalid": 0}
    added = []  # the samples whose ground truth this run set (they had none)
    with writes.rolled_back_on_failure(view, key, [gt_field], counts, "acceptance") as (rollback, _):
        rollback.steps.append(lambda: _take_back(view._root_dataset, gt_field, key, added))
        given = _give_metadata(view._root_dataset, pred_field, gt_field)
        rollback.steps.append(lambda: _remove_metadata(view._root_dataset, gt_field, given))
        _declare(view._root_dataset, pred_field, gt_field)
        ids, guard = view.values("id"), FieldGuard(view._root_dataset, gt_field)
        for start in range(0, len(ids), CHUNK):
            chunk = view.select(ids[start : start + CHUNK])
            guard.check(_accept_chunk(chunk, pred_field, gt_field, threshold, stamp, counts, added))
        with schema.changing(view) as dataset:
            dataset.add_dynamic_sample_fields(fields=[gt_field])
    return {"run_key": key, **counts}


def revert(samples: fo.core.collections.SampleCollection, run_key: str) -> int:
    """Removes every label that accept run ``run_key`` added to ``samples``; returns how many were removed."""
    gt_field = samples._root_dataset.get_run_info(run_key).config.params["gt_field"]
    return remove_run_labels(samples, gt_field, ACCEPTED_RUN, run_key)


def _declare(dataset, pred_field, gt_field):
    if dataset.has_field(gt_field):
        return
    with schema.changing(dataset):
        if not dataset.has_field(gt_field):
            label_cls = label_type(dataset, pred_field)
            dataset.add_sample_field(gt_field, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)


METADATA = {"skeletons": ("get_skeleton", fo.Keypoints), "mask_targets": ("get_mask_targets", fo.Segmentation)}
"""The dataset's per-field settings that say how labels of a type are read: the attribute of the per-field dict,
its getter (which falls back to the dataset's default) and the label type it is for."""


def _metadata_conflicts(dataset, pred_field, gt_field):
    """Why the ground truth would misread the accepted labels: its skeleton or mask targets differ from the
    predictions'."""
    problems = []
    for attribute in METADATA:
        if _metadata_action(dataset, attribute, pred_field, gt_field) == "conflict":
            what = "keypoint skeleton" if attribute == "skeletons" else "mask targets"
            problems.append(
                f"Field '{gt_field}' has another {what} than '{pred_field}': accepted labels would be misread. "
                f"Accept into a new field, or give both fields the same {what}."
            )
    return problems


def _metadata_action(dataset, attribute, pred_field, gt_field):
    """What accepting needs of setting ``attribute``: "give" the predictions' to the ground truth (it has none, or
    it is a new field that would read the dataset's default otherwise), "conflict" (the ground truth's own reads
    them otherwise) or None."""
    getter, label_cls = METADATA[attribute]
    if label_type(dataset, pred_field) is not label_cls:
        return None
    pred, gt = getattr(dataset, getter)(pred_field), getattr(dataset, getter)(gt_field)
    if pred is None or (gt is not None and _agrees(pred, gt)):
        return None
    new = not dataset.has_field(gt_field) and gt_field not in getattr(dataset, attribute)
    return "give" if gt is None or new else "conflict"


def _agrees(pred, gt):
    """Whether ground-truth settings ``gt`` read the predictions as ``pred`` does: the same skeleton, or mask
    targets naming every predicted value as the predictions' do."""
    if isinstance(pred, dict):
        return all(gt.get(value) == name for value, name in pred.items())
    return pred.to_dict() == gt.to_dict()


def _give_metadata(dataset, pred_field, gt_field):
    """Gives ``gt_field`` the predictions' skeleton and mask targets where it needs them (see
    ``_metadata_action``); returns the attributes it set."""
    with schema.changing(dataset):
        given = [a for a in METADATA if _metadata_action(dataset, a, pred_field, gt_field) == "give"]
        for attribute in given:
            getattr(dataset, attribute)[gt_field] = getattr(dataset, METADATA[attribute][0])(pred_field)
        if given:
            dataset.save()
    return given


def _remove_metadata(dataset, gt_field, given):
    if not given:
        return
    with schema.changing(dataset):
        for attribute in given:
            getattr(dataset, attribute).pop(gt_field, None)
        dataset.save()


def _take_back(dataset, gt_field, key, added):
    """Removes the labels that accept run ``key`` added, leaving those people added or changed meanwhile; the
    samples in ``added`` (their ground truth was None) get None again when nothing else was added there."""
    schema.refresh(dataset)
    if not dataset.has_field(gt_field):  # deleted meanwhile: nothing of the run is left there
        return
    collection = dataset._sample_collection
    label_cls = label_type(dataset, gt_field)
    if label_cls in WHOLE:
        collection.update_many({f"{gt_field}.{ACCEPTED_RUN}": key}, {"$set": {gt_field: None}})
        return
    path = f"{gt_field}.{label_cls._LABEL_LIST_FIELD}"
    collection.update_many({f"{path}.{ACCEPTED_RUN}": key}, {"$pull": {path: {ACCEPTED_RUN: key}}})
    collection.update_many({"_id": {"$in": added}, path: {"$size": 0}}, {"$set": {gt_field: None}})


def _accept_chunk(chunk, pred_field, gt_field, threshold, stamp, counts, added):
    """Adds the chunk's promoted labels (noting in ``added`` the samples that had none); returns the ids of the
    samples written."""
    ids, gts, preds = chunk.values(["_id", gt_field, pred_field])
    operations = {}
    for sample_id, gt, pred in zip(ids, gts, preds, strict=True):
        new = _promote(gt, pred, threshold, stamp, counts)
        if new is not None:
            operations[sample_id] = _addition(sample_id, gt_field, gt, new)
            if gt is None:
                added.append(sample_id)
    if operations:
        chunk._root_dataset._sample_collection.bulk_write(list(operations.values()), ordered=False)
    return list(operations)


def _addition(sample_id, gt_field, gt, new):
    """The atomic update that adds ``new`` to a sample whose ground truth was ``gt`` when read, keeping what people
    changed since: a label is set only where there is still none, boxes are appended to the current list."""
    now = {"last_modified_at": datetime.now(UTC)}
    if gt is None:
        return UpdateOne({"_id": sample_id, gt_field: None}, {"$set": {gt_field: new.to_mongo(), **now}})
    objects = new._LABEL_LIST_FIELD
    added = {"$each": [label.to_mongo() for label in new[objects]]}
    return UpdateOne(
        {"_id": sample_id, gt_field: {"$ne": None}}, {"$push": {f"{gt_field}.{objects}": added}, "$set": now}
    )


def _promote(gt, pred, threshold, stamp, counts):
    """What to add to one sample's ground truth (a whole label, or a list of the new objects), or None."""
    if pred is None:
        return None
    if isinstance(pred, WHOLE):
        if gt is not None:
            counts["kept_human"] += 1
            return None
        if _skipped(pred, counts) or _confidence(pred) < threshold:
            return None
        counts["promoted"] += 1
        return _copy(pred, stamp)
    objects = pred._LABEL_LIST_FIELD
    existing = gt[objects] if gt is not None else []
    already = {d["accepted_source_id"] for d in existing if d.has_field("accepted_source_id")}
    counts["kept_human"] += sum(1 for d in existing if not d.has_field(ACCEPTED_RUN))
    candidates = [d for d in pred[objects] if d.id not in already and not _skipped(d, counts)]
    new = [_copy(d, stamp) for d in candidates if _confidence(d) >= threshold]
    if not new:
        return None
    counts["promoted"] += len(new)
    return type(pred)(**{objects: new})


def _confidence(label):
    """A label's confidence for the threshold: its ``confidence`` (none: 0), a keypoint's the mean over its visible
    points, a semantic mask's 1 (it has none: the threshold does not apply)."""
    if isinstance(label, fo.Segmentation):
        return 1.0
    if isinstance(label, fo.Keypoint):
        scores = [c for c, p in zip(label.confidence or [], label.points or [], strict=False) if _visible(p)]
        scores = [c for c in scores if c is not None and math.isfinite(c)]
        return sum(scores) / len(scores) if scores else 0.0
    return label.confidence or 0.0


def _skipped(label, counts):
    """Whether ``label`` cannot be ground truth (see the module's docstring), counted in ``skipped_invalid``."""
    if isinstance(label, fo.Polyline):
        invalid = not label.points or any(len(shape) < (3 if label.closed else 2) for shape in label.points)
    elif isinstance(label, fo.Keypoint):
        invalid = not any(_visible(point) for point in label.points or [])
    else:
        path = label.mask_path if label.has_field("mask_path") else None
        invalid = (bool(path) and not os.path.isfile(path)) or not _drawable(label)
    counts["skipped_invalid"] += invalid
    return invalid


def _drawable(label):
    """Whether a label's inline mask, if it has one, can be drawn: a 2-D instance mask with a pixel set, a 2-D (or
    RGB) semantic mask."""
    mask = label.mask if label.has_field("mask") else None
    if mask is None:
        return True
    if isinstance(label, fo.Segmentation):
        return mask.ndim in (2, 3) and mask.size > 0
    return mask.ndim == 2 and bool(mask.any())


def _visible(point):
    return point is not None and len(point) == 2 and all(v is not None and math.isfinite(v) for v in point)


def _copy(label, stamp):
    copy = label.copy()  # a new id; the prediction it came from is kept as accepted_source_id
    copy["accepted_source_id"] = label.id
    for key, value in stamp.items():
        copy[key] = value
    return copy
