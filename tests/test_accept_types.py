"""accept_prelabels for instance masks, polylines, keypoints and semantic masks: the rules of boxes and tags
(threshold, never replacing a human label, provenance stamps, idempotence, revert, all-or-nothing rollback) per
label type, and labels that cannot be ground truth skipped and counted, never half-written."""

import math
import uuid

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo
import fiftyone.operators as foo

from core.prelabel import accept as A
from core.store import lease, runs
from harness import injection as I
from harness import operators as ops

COUNT = 6
MODEL = {"model_version": "hf:tiny@1", "prelabel_run": "prelabel_x"}


def _instance(label, confidence, **extra):
    mask = np.zeros((4, 5), dtype=bool)
    mask[1:3, 1:4] = True
    return fo.Detection(label=label, bounding_box=[0.1, 0.2, 0.3, 0.4], mask=mask, confidence=confidence, **extra)


def _polyline(label, confidence, **extra):
    points = [[(0.1, 0.1), (0.5, 0.1), (0.3, 0.6)]]
    return fo.Polyline(label=label, points=points, closed=True, filled=True, confidence=confidence, **extra)


def _keypoint(label, confidence, **extra):
    points = [(0.2, 0.3), (math.nan, math.nan), (0.6, 0.7)]
    scores = None if confidence is None else [confidence, 0.0, confidence]
    return fo.Keypoint(label=label, points=points, confidence=scores, **extra)


OBJECTS = {"instances": (fo.Detections, _instance), "polylines": (fo.Polylines, _polyline)}
OBJECTS["keypoints"] = (fo.Keypoints, _keypoint)


def _objects(kind, confidences, **extra):
    container, make = OBJECTS[kind]
    return container(**{container._LABEL_LIST_FIELD: [make("thing", c, **extra) for c in confidences]})


@pytest.fixture
def dataset(tmp_path):
    """``COUNT`` samples with model predictions of every type (``pred_<kind>``; semantic masks inline and on disk)
    and human ground truth (``gt_<kind>``) on the first two samples."""
    ds = fo.Dataset(f"accept-types-{uuid.uuid4().hex[:10]}")
    ds.add_samples([fo.Sample(filepath=str(tmp_path / f"{i}.png")) for i in range(COUNT)])
    for kind in OBJECTS:
        ds.set_values(f"pred_{kind}", [_objects(kind, [0.9, 0.3], **MODEL) for _ in range(COUNT)])
        ds.set_values(f"gt_{kind}", [_objects(kind, [None]) if i < 2 else None for i in range(COUNT)])
    ds.set_values("pred_segmentation", [_segmentation(tmp_path, i, **MODEL) for i in range(COUNT)])
    ds.set_values("gt_segmentation", [_segmentation(tmp_path, 99) if i < 2 else None for i in range(COUNT)])
    yield ds
    ds.delete()


def _segmentation(tmp_path, i, **extra):
    mask = np.full((8, 8), i % 3, dtype=np.uint8)
    if i % 2:
        return fo.Segmentation(mask=mask, **extra)
    path = tmp_path / f"mask_{i}.png"
    Image.fromarray(mask).save(path)
    return fo.Segmentation(mask_path=str(path), **extra)


@pytest.fixture
def accept_op():
    return foo.get_operator(ops.uri("accept_prelabels"))


def _snapshot(dataset, field):
    """The labels of ``field``, comparable although keypoints hold NaNs (NaN != NaN, 'nan' == 'nan')."""
    return [repr(label.to_dict()) if label is not None else None for label in dataset.values(field)]


def _state(dataset):
    """``injection.state``, comparable although keypoints hold NaNs."""
    return repr(I.state(dataset))


def _ids(label, objects):
    return [o.id for o in label[objects]] if label is not None else []


@pytest.mark.parametrize("kind", list(OBJECTS))
def test_objects_are_added_next_to_human_ones_with_provenance(dataset, accept_op, kind):
    human = _snapshot(dataset, f"gt_{kind}")
    objects = OBJECTS[kind][0]._LABEL_LIST_FIELD
    human_ids = [_ids(gt, objects) for gt in dataset.values(f"gt_{kind}")]
    result = accept_op(dataset, f"pred_{kind}", gt_field=f"gt_{kind}", threshold=0.5)
    assert result["promoted"] == COUNT and result["kept_human"] == 2 and result["skipped_invalid"] == 0
    for i, (gt, pred) in enumerate(zip(dataset.values(f"gt_{kind}"), dataset.values(f"pred_{kind}"), strict=True)):
        assert _ids(gt, objects)[: len(human_ids[i])] == human_ids[i]  # human labels stay first, as they were
        [new] = gt[objects][len(human_ids[i]) :]
        source = pred[objects][0]  # the confident one
        assert new.accepted_source_id == source.id and new.id != source.id and new.accepted_run == result["run_key"]
        assert new.accepted_from == f"pred_{kind}" and new.model_version == MODEL["model_version"]
        assert new.accepted_by and new.accepted_at
        if kind == "instances":
            assert np.array_equal(new.mask, source.mask)
        if kind == "polylines":
            assert new.points == source.points and new.closed
        if kind == "keypoints":  # invisible points stay NaN
            assert new.points[0] == source.points[0] and all(math.isnan(v) for v in new.points[1])
    again = accept_op(dataset, f"pred_{kind}", gt_field=f"gt_{kind}", threshold=0.5)
    assert again["promoted"] == 0  # idempotent
    everything = accept_op(dataset, f"pred_{kind}", gt_field=f"gt_{kind}", threshold=0.0)
    assert everything["promoted"] == COUNT  # the less confident ones, once
    assert A.revert(dataset, everything["run_key"]) == COUNT
    assert A.revert(dataset, result["run_key"]) == COUNT
    assert _snapshot(dataset, f"gt_{kind}")[:2] == human[:2]
    assert all(gt is None or gt[objects] == [] for gt in dataset.values(f"gt_{kind}")[2:])


def test_keypoint_confidence_is_the_mean_of_its_visible_points(dataset, accept_op):
    # points 0.9, NaN (score 0), 0.9: mean over visible points 0.9, over all points 0.6
    result = accept_op(dataset, "pred_keypoints", gt_field="new_keypoints", threshold=0.85)
    assert result["promoted"] == COUNT


def test_semantic_masks_fill_only_empty_ground_truth_and_reference_their_files(dataset, accept_op):
    human = _snapshot(dataset, "gt_segmentation")
    result = accept_op(dataset, "pred_segmentation", gt_field="gt_segmentation", threshold=1.0)
    assert result["promoted"] == COUNT - 2 and result["kept_human"] == 2  # the threshold does not apply to masks
    values = dataset.values("gt_segmentation")
    assert _snapshot(dataset, "gt_segmentation")[:2] == human[:2]  # never merged into a human mask
    for gt, pred in zip(values[2:], dataset.values("pred_segmentation")[2:], strict=True):
        assert gt.accepted_source_id == pred.id and gt.accepted_run == result["run_key"]
        assert gt.mask_path == pred.mask_path  # referenced, not copied
        assert np.array_equal(gt.get_mask(), pred.get_mask())
    assert accept_op(dataset, "pred_segmentation", gt_field="gt_segmentation")["promoted"] == 0
    assert A.revert(dataset, result["run_key"]) == COUNT - 2
    assert _snapshot(dataset, "gt_segmentation") == human


def test_labels_that_cannot_be_ground_truth_are_skipped_and_counted(dataset, accept_op, tmp_path):
    short = fo.Polyline(label="thing", points=[[(0.1, 0.1), (0.2, 0.2)]], closed=True, confidence=0.9, **MODEL)
    line = fo.Polyline(label="thing", points=[[(0.1, 0.1), (0.2, 0.2)]], closed=False, confidence=0.9, **MODEL)
    hidden = fo.Keypoint(label="thing", points=[(math.nan, math.nan)] * 2, confidence=[0.9, 0.9], **MODEL)
    missing = fo.Segmentation(mask_path=str(tmp_path / "gone.png"), **MODEL)
    gone = fo.Detection(label="thing", bounding_box=[0, 0, 1, 1], mask_path=missing.mask_path, confidence=1, **MODEL)
    first = dataset.first()
    first["pred_polylines"] = fo.Polylines(polylines=[short, line])
    first["pred_keypoints"] = fo.Keypoints(keypoints=[hidden])
    first["pred_instances"] = fo.Detections(detections=[gone])
    first["pred_segmentation"] = None
    first["gt_segmentation"] = None
    first.save()
    second = dataset.skip(1).first()
    second["pred_segmentation"] = missing
    second.save()
    expected = {"polylines": 1, "keypoints": 1, "instances": 1, "segmentation": 1}
    for kind, skipped in expected.items():
        result = accept_op(dataset, f"pred_{kind}", gt_field=f"new_{kind}", threshold=0.5)
        assert result["skipped_invalid"] == skipped, kind
    assert [p.closed for p in dataset.first().new_polylines.polylines] == [False]  # the open line is accepted
    assert dataset.first().new_keypoints is None and dataset.first().new_instances is None
    assert dataset.skip(1).first().new_segmentation is None


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pred_field": "pred_keypoints", "gt_field": "gt_polylines"}, "holds Polylines, but 'pred_keypoints'"),
        ({"pred_field": "pred_segmentation", "gt_field": "gt_instances"}, "holds Detections, but"),
        ({"pred_field": "heatmap"}, "holds Heatmap: only Classification"),
    ],
)
def test_mismatched_types_are_refused_before_anything_is_written(dataset, params, expected):
    dataset.set_values("heatmap", [fo.Heatmap(map=np.zeros((2, 2)))] * COUNT)
    before = _state(dataset)
    message = ops.validation_error("accept_prelabels", dataset, params)
    assert expected in message
    assert _state(dataset) == before


@pytest.mark.parametrize("kind", [*OBJECTS, "segmentation"])
@pytest.mark.parametrize("gt_field", ["gt", "new"])
def test_a_failure_mid_run_takes_everything_back(dataset, monkeypatch, kind, gt_field):
    monkeypatch.setattr(A, "CHUNK", 2)
    before = _state(dataset)
    stage = (A, "_accept_chunk", 2)
    calls = I.inject(monkeypatch, stage, after=True)  # the second chunk is written, then the run fails
    with pytest.raises(RuntimeError, match="taken back"):
        A.accept(dataset, f"pred_{kind}", gt_field=f"{gt_field}_{kind}", threshold=0.0)
    I.reached(calls, stage)
    assert _state(dataset) == before  # what injection.assert_failed_cleanly checks, NaN-safe
    assert [r["status"] for r in I.new_runs(dataset, [])] == [runs.FAILED] and lease.live_leases(dataset) == []


SKELETON = fo.KeypointSkeleton(labels=["head", "hip", "foot"], edges=[[0, 1], [1, 2]])
TARGETS = {0: "sky", 1: "ground", 2: "sun"}


def _with_model_settings(dataset):
    """The predictions' skeleton and mask targets, as prelabel gives them to the fields it writes."""
    dataset.skeletons["pred_keypoints"] = SKELETON
    dataset.mask_targets["pred_segmentation"] = TARGETS
    dataset.save()


@pytest.mark.parametrize(("kind", "attribute"), [("keypoints", "skeletons"), ("segmentation", "mask_targets")])
def test_the_skeleton_and_mask_targets_go_with_the_accepted_labels(dataset, accept_op, kind, attribute):
    _with_model_settings(dataset)
    expected = getattr(dataset, attribute)[f"pred_{kind}"]
    accept_op(dataset, f"pred_{kind}", gt_field=f"gt_{kind}", threshold=0.0)  # a field without its own
    accept_op(dataset, f"pred_{kind}", gt_field=f"new_{kind}", threshold=0.0)  # a new field
    dataset.reload()
    for field in (f"gt_{kind}", f"new_{kind}"):
        found = getattr(dataset, attribute)[field]
        assert found == expected if isinstance(expected, dict) else found.to_dict() == expected.to_dict()
    if kind == "keypoints":  # what the App draws: the edges between the accepted points
        assert dataset.get_skeleton("new_keypoints").edges == [[0, 1], [1, 2]]
    assert "pred_instances" not in dataset.skeletons and "new_instances" not in dataset.mask_targets


def test_settings_the_ground_truth_has_are_kept_or_refused_when_they_differ(dataset, accept_op):
    _with_model_settings(dataset)
    dataset.mask_targets["gt_segmentation"] = {**TARGETS, 3: "cloud"}  # names every predicted value alike
    dataset.skeletons["gt_keypoints"] = fo.KeypointSkeleton(labels=["a", "b", "c"])
    dataset.save()
    accept_op(dataset, "pred_segmentation", gt_field="gt_segmentation", threshold=0.0)
    dataset.reload()
    assert dataset.mask_targets["gt_segmentation"] == {**TARGETS, 3: "cloud"}  # never overwritten
    before = _state(dataset)
    message = ops.validation_error(
        "accept_prelabels", dataset, {"pred_field": "pred_keypoints", "gt_field": "gt_keypoints"}
    )
    assert "'gt_keypoints' has another keypoint skeleton than 'pred_keypoints'" in message
    dataset.mask_targets["gt_segmentation"] = {0: "sky", 1: "sea"}
    dataset.save()
    message = ops.validation_error(
        "accept_prelabels", dataset, {"pred_field": "pred_segmentation", "gt_field": "gt_segmentation"}
    )
    assert "has another mask targets than 'pred_segmentation'" in message
    dataset.reload()
    assert _state(dataset) == before and dataset.skeletons["gt_keypoints"].labels == ["a", "b", "c"]


def test_a_new_field_reads_the_predictions_settings_not_the_default(dataset, accept_op):
    _with_model_settings(dataset)
    dataset.default_mask_targets = {0: "other", 1: "thing"}
    dataset.save()
    accept_op(dataset, "pred_segmentation", gt_field="new_segmentation", threshold=0.0)
    dataset.reload()
    assert dataset.get_mask_targets("new_segmentation") == TARGETS


def test_a_failed_run_takes_back_the_settings_it_gave(dataset, monkeypatch):
    _with_model_settings(dataset)
    stage = (A, "_accept_chunk", 1)
    calls = I.inject(monkeypatch, stage, after=True)
    with pytest.raises(RuntimeError, match="taken back"):
        A.accept(dataset, "pred_keypoints", gt_field="new_keypoints", threshold=0.0)
    I.reached(calls, stage)
    dataset.reload()
    assert "new_keypoints" not in dataset.skeletons and not dataset.has_field("new_keypoints")
