"""Merging reviewed labels back into the ground truth, label by label, with the previous state kept aside.

For each reviewed sample: ground-truth labels that were sent take their reviewed form (edited, or gone when the
annotator deleted them); labels drawn in CVAT and predictions the annotator kept become ground truth (model markers
removed: a person has checked them); labels added to the ground truth in FiftyOne after the send are kept. The
previous ground truth is written to the backup field first, so ``restore`` can put it back. Semantic masks merge
pixel by pixel (see ``segmentation``), their class regions counted as labels.
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np

import fiftyone as fo

from ..store import schema
from ..store.declared import FieldGuards
from ..store.fields import label_type
from . import review_field as cvat_review
from . import segmentation

CHUNK = 1000
EDITABLE = {
    fo.Classification: ("label",),
    fo.Detections: ("label", "bounding_box", "mask"),
    fo.Polylines: ("label", "points", "closed", "filled"),
    fo.Keypoints: ("label", "points"),
}
"""What people edit in CVAT, per label class (besides the attributes sent)."""
COUNTS = ("edited", "deleted", "unchanged", "drawn", "accepted_predictions", "rejected_predictions", "kept_local")
REGION_EDITABLE = ("label", "bounding_box", "mask")  # a semantic mask's class region: its class and its pixels


def merge(
    samples: fo.core.collections.SampleCollection,
    gt_field: str,
    review_field: str,
    *,
    backup_field: str,
    sent_ids: Mapping[str, str | list[str]],
    attributes: Sequence[str] = (),
    review_key: str = "",
) -> dict[str, int]:
    """Merges ``review_field`` into ``gt_field`` on ``samples`` (``sent_ids``: sample id -> label ids sent;
    ``attributes``: the label attributes people could edit in CVAT; ``review_key`` names new mask files)."""
    dataset = samples._root_dataset
    label_cls = label_type(dataset, gt_field)
    editable = (*EDITABLE.get(label_cls, ()), *attributes)
    with schema.changing(dataset):
        dataset.add_sample_field(backup_field, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)
    counts = dict.fromkeys(COUNTS, 0)
    ids, guards = samples.values("id"), FieldGuards(dataset, [backup_field, gt_field])
    masks = _MaskMerge(dataset, gt_field, review_field, review_key) if label_cls is fo.Segmentation else None
    for start in range(0, len(ids), CHUNK):
        chunk = samples.select(ids[start : start + CHUNK], ordered=True)
        chunk_ids, current, reviewed = chunk.values(["id", gt_field, review_field])
        if masks:
            merged = masks.merge(chunk, [set(_as_list(sent_ids.get(i))) for i in chunk_ids], counts)
        else:
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


class _MaskMerge:
    """The pixel-by-pixel merge of semantic masks reviewed as class regions (see ``segmentation``)."""

    def __init__(self, dataset, gt_field, review_field, review_key):
        self.fields = [gt_field, review_field, review_field + segmentation.SENT_SUFFIX]
        self.targets, self.review_key = segmentation.mask_targets(dataset, gt_field), review_key

    def merge(self, chunk, sent_ids, counts):
        """The merged Segmentation of each sample of ``chunk`` (``sent_ids``: each one's region ids sent)."""
        current, reviewed, sent = chunk.values(self.fields)
        sizes = zip(*chunk.values(["metadata.height", "metadata.width"]), strict=True)
        rows = zip(current, reviewed, sent, sizes, sent_ids, strict=True)
        return [self._merge(*row, counts) for row in rows]

    def _merge(self, current, reviewed, sent, size, sent_ids, counts):
        new, old = (list(v.detections) if v is not None else [] for v in (reviewed, sent))
        _count_regions({d.id: d for d in old}, new, sent_ids, counts)
        if current is None and not new:
            return None
        values = segmentation.values_of(self.targets, {d.label for d in old + new})
        mask = current.get_mask() if current is not None else None
        dtype = mask.dtype if mask is not None else (np.uint8 if max(values.values(), default=0) < 256 else np.int32)
        human = [d for d in old if not cvat_review.is_from_model(d)]
        layers = (human, old, segmentation.ordered(new, sent_ids))
        ground_truth, sent, reviewed = (segmentation.paint(regions, size, values, dtype) for regions in layers)
        merged, kept = segmentation.merged_mask(mask, (ground_truth, sent), reviewed)
        counts["kept_local"] += bool(kept)
        return segmentation.stored(current, merged, self.review_key)


def _count_regions(old, new, sent, counts):
    """Counts class regions as labels (edited, deleted, drawn, ...; ``old``: the regions as sent, by id)."""
    new_ids = {d.id for d in new}
    for label_id, region in old.items():
        if label_id not in new_ids:
            counts["rejected_predictions" if cvat_review.is_from_model(region) else "deleted"] += 1
    for region in segmentation.ordered(new, sent):
        _count(old.get(region.id), region, sent, counts, REGION_EDITABLE)


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
        return abs(x - y) < 1e-6 or (math.isnan(x) and math.isnan(y))  # NaN: a keypoint not visible
    return x == y


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
