"""Matching a whole chunk at once (core.matching.batch) gives exactly what per-sample matching (core.matching.rules)
gives, and label attributes written by position (core.store.positional_writes) land on the right labels even when
a list changed after it was read."""

import numpy as np
import pytest
from bson import ObjectId

import fiftyone as fo

from core.matching import Batch, Objects, Pairs, batch, ious, match
from core.store import positional_writes
from core.store.writes import label_values

CLASSES = ("a", "b", "c")


def _sample(rng, n, crowd_rate=0.0, confidences=True):
    """``n`` objects on a coarse grid (so that IoUs tie), some repeated, with coarse confidences (so that they tie)."""
    boxes = rng.integers(0, 5, (n, 4)) / 10 + [0, 0, 0.1, 0.1]
    repeated = rng.random(n) < 0.2
    if n > 1:
        boxes[repeated] = boxes[0]
    labels = [str(v) for v in rng.choice(CLASSES, n)]
    conf = [float(c) for c in rng.integers(0, 5, n) / 4] if confidences else [None] * n
    if confidences and n:
        conf[int(rng.integers(n))] = None
    return Objects.of(labels, boxes, conf, (rng.random(n) < crowd_rate).tolist())


def _rows(objects):
    return [[ObjectId(), label, box, c] for label, box, c in zip(*_columns(objects), strict=True)]


def _columns(objects):
    return objects.labels, objects.boxes.tolist(), objects.confidences


def _chunk(seed, samples=60):
    rng = np.random.default_rng(seed)
    gts = [_sample(rng, int(rng.integers(0, 8)), crowd_rate=0.3, confidences=False) for _ in range(samples)]
    preds = [_sample(rng, int(rng.integers(0, 8))) for _ in range(samples)]
    codes = {}
    gt_batch = Batch.of_rows([_rows(g) for g in gts], codes, [g.crowd for g in gts])
    pred_batch = Batch.of_rows([_rows(p) for p in preds], codes)
    return preds, gts, pred_batch, gt_batch


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("classwise", [True, False])
@pytest.mark.parametrize("iou", [0.3, 0.5])
def test_batch_matches_equal_per_sample_matches(seed, classwise, iou):
    preds, gts, pred_batch, gt_batch = _chunk(seed)
    pairs = Pairs.of(pred_batch, gt_batch)
    values = batch.box_ious(pred_batch, gt_batch, pairs)
    assert np.array_equal(values, batch.raveled([ious(p, g) for p, g in zip(preds, gts, strict=True)]))
    found = batch.match(pred_batch, gt_batch, pairs, values, iou, classwise)
    _assert_same(found, preds, gts, pred_batch, gt_batch, iou, classwise)
    assert sum(found.counts(pred_batch, gt_batch)[0]) == sum(found.pred_tp)


def test_batch_matches_with_nan_similarities_and_a_subset_of_predictions():
    preds, gts, pred_batch, gt_batch = _chunk(7)
    pairs = Pairs.of(pred_batch, gt_batch)
    values = batch.box_ious(pred_batch, gt_batch, pairs)
    values[::7] = np.nan  # FiftyOne's scan order decides where a similarity is NaN
    keep = np.random.default_rng(1).random(len(pred_batch.codes)) < 0.7
    found = batch.match(pred_batch, gt_batch, pairs, values, 0.5, False, keep=keep)
    tables = [
        values[pairs.of_sample(s)].reshape(len(p.labels), len(g.labels))
        for s, (p, g) in enumerate(zip(preds, gts, strict=True))
    ]
    kept = [np.flatnonzero(k) for k in pred_batch.per_sample(keep)]
    subsets = [p.subset(k.tolist()) for p, k in zip(preds, kept, strict=True)]
    tables = [t[k] for t, k in zip(tables, kept, strict=True)]
    expected = [match(p, g, 0.5, False, t) for p, g, t in zip(subsets, gts, tables, strict=True)]
    gt_tp = np.concatenate([np.array(m.gt_status) == "tp" for m in expected])
    assert np.array_equal(found.gt_tp, gt_tp)
    pred_tp = np.concatenate([np.array(m.pred_status) == "tp" for m in expected]) if expected else []
    assert np.array_equal(found.pred_tp[keep], pred_tp)
    assert not found.pred_tp[~keep].any()


def _assert_same(found, preds, gts, pred_batch, gt_batch, iou, classwise):
    for s, (p, g) in enumerate(zip(preds, gts, strict=True)):
        expected = match(p, g, iou, classwise)
        prows = slice(pred_batch.starts[s], pred_batch.starts[s] + len(p.labels))
        grows = slice(gt_batch.starts[s], gt_batch.starts[s] + len(g.labels))
        assert (np.array(expected.pred_status) == "tp").tolist() == found.pred_tp[prows].tolist()
        assert (np.array(expected.gt_status) == "tp").tolist() == found.gt_tp[grows].tolist()
        local = np.where(found.pred_match[prows] >= 0, found.pred_match[prows] - gt_batch.starts[s], -1)
        assert expected.pred_match.tolist() == local.tolist()
        assert np.array_equal(expected.gt_iou, found.gt_iou[grows], equal_nan=True)


def _labels_xyz(dataset, tmp_path):
    """A sample with labels x, y, z in ``gt``: its document and their ids."""
    dataset.add_sample(
        fo.Sample(filepath=str(tmp_path / "a.png"), gt=fo.Detections(detections=[fo.Detection(label=x) for x in "xyz"]))
    )
    document = dataset._sample_collection.find_one({})
    return document, [d["_id"] for d in document["gt"]["detections"]]


def test_positional_writes_follow_labels_that_moved(dataset, tmp_path):
    document, ids = _labels_xyz(dataset, tmp_path)
    update = {"score": 1, **label_values("gt.detections", ids, "seen", list("xyz"))}
    positional_writes.bulk_set(dataset, [document["_id"]], [update])
    stored = dataset._sample_collection.find_one({})
    assert stored["score"] == 1 and [d["seen"] for d in stored["gt"]["detections"]] == ["x", "y", "z"]
    # someone removes the first label and adds one: the values still follow the ids
    dataset._sample_collection.update_one({}, {"$pop": {"gt.detections": -1}})
    dataset._sample_collection.update_one({}, {"$push": {"gt.detections": {"_id": ObjectId(), "label": "w"}}})
    update = label_values("gt.detections", ids, "seen", list("XYZ"))
    positional_writes.bulk_set(dataset, [document["_id"]], [update])
    stored = dataset._sample_collection.find_one({})["gt"]["detections"]
    assert [(d["label"], d.get("seen")) for d in stored] == [("y", "Y"), ("z", "Z"), ("w", None)]


def test_positional_writes_of_attributes_for_some_labels_only(dataset, tmp_path):
    document, ids = _labels_xyz(dataset, tmp_path)
    for first, second in (("last", "n"), ("n", "last")):  # the partial attribute before or after the whole one
        values = {"last": label_values("gt.detections", ids[2:], "last", [first]), "n": {}}
        values["n"] = label_values("gt.detections", ids, "n", [first] * 3)
        positional_writes.bulk_set(dataset, [document["_id"]], [values[first] | values[second]])
        stored = dataset._sample_collection.find_one({})["gt"]["detections"]
        assert [(d["label"], d["n"], d.get("last")) for d in stored] == [
            ("x", first, None),
            ("y", first, None),
            ("z", first, first),
        ]
