"""Merging reviewed labels back into the ground truth, label by label, with the previous state kept aside.

For each reviewed sample: ground-truth labels that were sent take their reviewed form (edited, or gone when the
annotator deleted them); labels drawn in CVAT and predictions the annotator kept become ground truth (model markers
removed: a person has checked them); labels added to the ground truth in FiftyOne after the send are kept. The
previous ground truth is written to the backup field first, so ``restore`` can put it back.
"""

from collections.abc import Mapping, Sequence

import numpy as np

import fiftyone as fo

from ..store import schema
from ..store.declared import FieldGuards
from . import review_field as cvat_review

CHUNK = 1000
EDITABLE = {
    fo.Classification: ("label",),
    fo.Detections: ("label", "bounding_box", "mask"),
    fo.Polylines: ("label", "points", "closed", "filled"),
}
"""What people edit in CVAT, per label class (besides the attributes sent)."""
COUNTS = ("edited", "deleted", "unchanged", "drawn", "accepted_predictions", "rejected_predictions", "kept_local")


def merge(
    samples: fo.core.collections.SampleCollection,
    gt_field: str,
    review_field: str,
    *,
    backup_field: str,
    sent_ids: Mapping[str, str | list[str]],
    attributes: Sequence[str] = (),
) -> dict[str, int]:
    """Merges ``review_field`` into ``gt_field`` on ``samples`` (``sent_ids``: sample id -> label ids sent;
    ``attributes``: the label attributes people could edit in CVAT)."""
    dataset = samples._root_dataset
    label_cls = dataset.get_field(review_field).document_type
    editable = (*EDITABLE[label_cls], *attributes)
    with schema.changing(dataset):
        dataset.add_sample_field(backup_field, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)
    counts = dict.fromkeys(COUNTS, 0)
    ids, guards = samples.values("id"), FieldGuards(dataset, [backup_field, gt_field])
    for start in range(0, len(ids), CHUNK):
        chunk = samples.select(ids[start : start + CHUNK], ordered=True)
        chunk_ids, current, reviewed = chunk.values(["id", gt_field, review_field])
        merged = [
            _merge(gt, new, set(_as_list(sent_ids.get(sample_id))), counts, editable)
            for sample_id, gt, new in zip(chunk_ids, current, reviewed, strict=True)
        ]
        chunk.set_values(backup_field, current)
        chunk.set_values(gt_field, merged)
        guards.check(chunk_ids)
    return counts


def restore(samples: fo.core.collections.SampleCollection, gt_field: str, backup_field: str) -> int:
    """Puts the backed-up ground truth back on ``samples``; returns how many samples were restored."""
    ids = samples.values("id")
    for start in range(0, len(ids), CHUNK):
        chunk = samples.select(ids[start : start + CHUNK], ordered=True)
        chunk.set_values(gt_field, chunk.values(backup_field))
    return len(ids)


def _merge(current, reviewed, sent, counts, editable):
    if isinstance(reviewed, fo.Classification) or isinstance(current, fo.Classification):
        return _merge_classification(current, reviewed, sent, counts, editable)
    return _merge_objects(current, reviewed, sent, counts, editable)


def _merge_classification(current, reviewed, sent, counts, editable):
    if current is not None and current.id not in sent:
        counts["kept_local"] += 1  # labelled in FiftyOne after the send: a person's newer work wins
        return current
    if reviewed is None:
        if sent:
            counts["deleted" if current is not None else "rejected_predictions"] += 1
        return None
    before = current if current is not None and current.id == reviewed.id else None
    _count(before, reviewed, sent, counts, editable)
    return _updated(before, reviewed, editable)


def _merge_objects(current, reviewed, sent, counts, editable):
    """Detections or Polylines, label by label."""
    label_cls = type(current if current is not None else reviewed)
    name = label_cls._LABEL_LIST_FIELD
    old = {d.id: d for d in (current[name] if current is not None else [])}
    new = list(reviewed[name]) if reviewed is not None else []
    new_ids = {d.id for d in new}
    local = [d for label_id, d in old.items() if label_id not in sent and label_id not in new_ids]
    counts["kept_local"] += len(local)
    counts["deleted"] += sum(1 for label_id in old if label_id in sent and label_id not in new_ids)
    counts["rejected_predictions"] += len(sent - new_ids - set(old))
    for label in new:
        _count(old.get(label.id), label, sent, counts, editable)
    if current is None and not new:
        return None
    return label_cls(**{name: [_updated(old.get(d.id), d, editable) for d in new] + local})


def _updated(before, after, editable):
    """The reviewed label: ``before`` (keeping attributes written in FiftyOne meanwhile) with what people could
    edit in CVAT taken from ``after`` (or ``after`` itself when it is new); model markers removed."""
    if before is None:
        return cvat_review.reviewed_copy(after)
    before = type(before).from_dict(before.to_dict())  # same id; the original goes to the backup field
    for name in editable:
        if after.has_field(name):
            before[name] = after[name]
    return cvat_review.reviewed_copy(before)


def _count(before, after, sent, counts, editable):
    if after.id not in sent:
        counts["drawn"] += 1
    elif cvat_review.is_from_model(after):
        counts["accepted_predictions"] += 1
    elif before is not None and _same(before, after, editable):
        counts["unchanged"] += 1
    else:
        counts["edited"] += 1


def _same(a, b, editable):
    return all(_close(_value(a, name), _value(b, name)) for name in editable)


def _value(label, name):
    return label.get_field(name) if label.has_field(name) else None


def _close(x, y):
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):  # instance masks
        return x is not None and y is not None and x.shape == y.shape and np.array_equal(x.astype(bool), y.astype(bool))
    if isinstance(x, list) and isinstance(y, list):  # boxes and polyline points: CVAT's pixels round-trip
        return len(x) == len(y) and all(_close(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(x, float | int) and isinstance(y, float | int):
        return abs(x - y) < 1e-6
    return x == y


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
