"""Merging reviewed labels back into the ground truth, label by label, with the previous state kept aside.

For each reviewed sample: ground-truth labels that were sent take their reviewed form (edited, or gone when the
annotator deleted them); labels drawn in CVAT and predictions the annotator kept become ground truth (model markers
removed: a person has checked them); labels added to the ground truth in FiftyOne after the send are kept. The
previous ground truth is written to the backup field first, so ``restore`` can put it back.
"""

import fiftyone as fo

from . import cvat_review

CHUNK = 1000
COUNTS = ("edited", "deleted", "unchanged", "drawn", "accepted_predictions", "rejected_predictions", "kept_local")


def merge(samples, gt_field, review_field, backup_field, sent_ids):
    """Merges ``review_field`` into ``gt_field`` on ``samples`` (``sent_ids``: sample id -> label ids sent)."""
    dataset = samples._root_dataset
    label_cls = dataset.get_field(review_field).document_type
    dataset.add_sample_field(backup_field, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)
    counts = dict.fromkeys(COUNTS, 0)
    ids = samples.values("id")
    for start in range(0, len(ids), CHUNK):
        chunk = samples.select(ids[start : start + CHUNK], ordered=True)
        chunk_ids, current, reviewed = chunk.values(["id", gt_field, review_field])
        merged = [
            _merge(gt, new, set(_as_list(sent_ids.get(sample_id))), counts)
            for sample_id, gt, new in zip(chunk_ids, current, reviewed, strict=True)
        ]
        chunk.set_values(backup_field, current)
        chunk.set_values(gt_field, merged)
    return counts


def restore(samples, gt_field, backup_field):
    """Puts the backed-up ground truth back on ``samples``; returns how many samples were restored."""
    ids = samples.values("id")
    for start in range(0, len(ids), CHUNK):
        chunk = samples.select(ids[start : start + CHUNK], ordered=True)
        chunk.set_values(gt_field, chunk.values(backup_field))
    return len(ids)


def _merge(current, reviewed, sent, counts):
    if isinstance(reviewed, fo.Classification) or isinstance(current, fo.Classification):
        return _merge_classification(current, reviewed, sent, counts)
    return _merge_detections(current, reviewed, sent, counts)


def _merge_classification(current, reviewed, sent, counts):
    if current is not None and current.id not in sent:
        counts["kept_local"] += 1  # labelled in FiftyOne after the send: a person's newer work wins
        return current
    if reviewed is None:
        if sent:
            counts["deleted" if current is not None else "rejected_predictions"] += 1
        return None
    _count(current, reviewed, sent, counts)
    return _updated(current if current is not None and current.id == reviewed.id else None, reviewed)


def _merge_detections(current, reviewed, sent, counts):
    old = {d.id: d for d in (current.detections if current is not None else [])}
    new = list(reviewed.detections) if reviewed is not None else []
    new_ids = {d.id for d in new}
    local = [d for label_id, d in old.items() if label_id not in sent and label_id not in new_ids]
    counts["kept_local"] += len(local)
    counts["deleted"] += sum(1 for label_id in old if label_id in sent and label_id not in new_ids)
    counts["rejected_predictions"] += len(sent - new_ids - set(old))
    for label in new:
        _count(old.get(label.id), label, sent, counts)
    if current is None and not new:
        return None
    return fo.Detections(detections=[_updated(old.get(d.id), d) for d in new] + local)


def _updated(before, after):
    """The reviewed label: ``before`` (keeping attributes written in FiftyOne meanwhile) with the reviewed class
    and box, or ``after`` itself when it is new; model markers removed."""
    if before is None:
        return cvat_review.reviewed_copy(after)
    before = type(before).from_dict(before.to_dict())  # same id; the original goes to the backup field
    before.label = after.label
    if after.has_field("bounding_box"):
        before.bounding_box = after.bounding_box
    return cvat_review.reviewed_copy(before)


def _count(before, after, sent, counts):
    if after.id not in sent:
        counts["drawn"] += 1
    elif cvat_review.is_from_model(after):
        counts["accepted_predictions"] += 1
    elif before is not None and _same(before, after):
        counts["unchanged"] += 1
    else:
        counts["edited"] += 1


def _same(a, b):
    box_a, box_b = getattr(a, "bounding_box", None), getattr(b, "bounding_box", None)
    if box_a is None or box_b is None:
        return a.label == b.label and box_a is box_b
    return a.label == b.label and all(abs(x - y) < 1e-6 for x, y in zip(box_a, box_b, strict=True))


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
