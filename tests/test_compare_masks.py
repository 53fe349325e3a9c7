"""compare_models on instance masks, polylines and keypoints: per-sample tp/fp/fn equal FiftyOne's own
``evaluate_detections`` (``use_masks=True`` for masks), masks' IoUs equal FiftyOne's, and bad objects are refused
before anything is written."""

import cv2
import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.utils import iou as foui

from core.matching import Objects, masks
from core.regression import compare as R
from core.store import runs
from harness import operators as ops
from testing import synthetic_masks

SAMPLES = 320
ROLES = ("baseline", "candidate")


def request(**kwargs):
    return R.CompareRequest("ground_truth", "baseline", "candidate", **kwargs)


def evaluated(name, kind, mask_dir=None, **options):
    dataset = synthetic_masks.build(name, kind, SAMPLES, seed=7, mask_dir=mask_dir)
    for field in ROLES:
        dataset.evaluate_detections(field, gt_field="ground_truth", eval_key=f"eval_{field}", progress=False, **options)
    return dataset


@pytest.fixture(scope="module")
def mask_data(tmp_path_factory):
    dataset = evaluated("compare-masks", "masks", str(tmp_path_factory.mktemp("masks")), use_masks=True)
    yield dataset
    dataset.delete()


def counts(dataset, prefix):
    return list(zip(*(dataset.values(f"{prefix}_{m}") for m in ("tp", "fp", "fn")), strict=True))


def assert_same_as_evaluate_detections(dataset, key):
    for field in ROLES:
        assert counts(dataset, f"{key}_{field}") == counts(dataset, f"eval_{field}"), field


def assert_categories_follow_the_evaluations(dataset, key, objects):
    for obj in dataset.values(f"ground_truth.{objects}", unwind=True):
        before, after = obj["eval_baseline"] == "tp", obj["eval_candidate"] == "tp"
        expected = {(False, True): {"fixed"}, (False, False): {"unchanged_fn"}, (True, False): {"broken", "class_flip"}}
        assert obj[key] in expected.get((before, after), {"unchanged_tp", "localisation_change", "confidence_change"})
    for obj in dataset.values(f"candidate.{objects}", unwind=True):
        assert (obj[key] == "tp") == (obj["eval_candidate"] == "tp")


def test_masks_per_sample_tp_fp_fn_equal_evaluate_detections_with_masks(mask_data):
    dataset = mask_data
    assert dataset.count("ground_truth.detections") > 1000 and dataset.count("ground_truth.detections.iscrowd") > 5
    assert dataset.count("ground_truth.detections.mask_path") > 50
    result = R.compare(dataset, request())
    assert_same_as_evaluate_detections(dataset, "compare")
    assert_categories_follow_the_evaluations(dataset, "compare", "detections")
    record = next(r for r in runs.list_suite_runs(dataset) if r["key"] == result["run_key"])
    assert record["status"] == "completed" and result["overall"]["fixed"] > 0


def test_masks_differ_from_boxes_and_use_masks_false_matches_boxes(mask_data):
    """use_masks=False is box matching, which gives other per-sample counts here: the masks matter."""
    dataset = mask_data
    for field in ROLES:
        dataset.evaluate_detections(field, gt_field="ground_truth", eval_key=f"box_{field}", progress=False)
    R.compare(dataset, request(key="boxes", use_masks=False))
    for field in ROLES:
        assert counts(dataset, f"boxes_{field}") == counts(dataset, f"box_{field}")
        boxes, masks_ = counts(dataset, f"box_{field}"), counts(dataset, f"eval_{field}")
        differ = sum(a != b for a, b in zip(boxes, masks_, strict=True))
        assert differ > 20, differ


def test_mask_ious_equal_fiftyones_across_frames_and_non_binary_masks():
    """Each IoU equals FiftyOne's ``_dense_iou``, for masks at other resolutions (other frames) and values."""
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(300):
        gt, pred = (_random_detection(rng) for _ in range(2))
        ours = masks.tables([_objects(pred)], [_objects(gt)])[0][0, 0]
        theirs = foui._dense_iou(gt, pred) if _touching(gt, pred) else 0.0
        assert ours == pytest.approx(theirs, abs=1e-12)
        checked += theirs > 0
    assert checked > 50


def _random_detection(rng):
    """A detection in the top-left 150 x 150 pixels of a 640 x 480 frame or of a random one (so pairs overlap)."""
    frame_w, frame_h = (640, 480) if rng.random() < 0.5 else (int(rng.integers(200, 900)), int(rng.integers(200, 900)))
    w, h = rng.integers(5, 90, 2)
    x, y = rng.integers(0, 150 - w), rng.integers(0, 150 - h)
    box = [x / frame_w, y / frame_h, w / frame_w, h / frame_h]
    mask = (rng.random((h, w)) < 0.6) * rng.choice([1, 255])
    return fo.Detection(label="a", bounding_box=[float(v) for v in box], mask=mask.astype(np.uint8))


def _objects(detection):
    objects = Objects.of(["a"], [detection.bounding_box])
    objects.shapes = [masks.placed(detection.bounding_box, detection.mask)]
    return objects


def _touching(a, b):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a.bounding_box, b.bounding_box
    return ax <= bx + bw and bx <= ax + aw and ay <= by + bh and by <= ay + ah


def test_nearest_neighbour_resize_is_opencvs():
    rng = np.random.default_rng(0)
    for _ in range(200):
        source, target = rng.integers(1, 400, 2), rng.integers(1, 900, 2)
        image = rng.random(tuple(source))
        resized = cv2.resize(image, (int(target[1]), int(target[0])), interpolation=cv2.INTER_NEAREST)
        picked = image[np.ix_(masks._nearest(int(source[0]), int(target[0])), masks._nearest(*source[1:], target[1]))]
        assert np.array_equal(resized, picked)


@pytest.mark.parametrize("kind", ["polylines", "keypoints"])
def test_polylines_and_keypoints_per_sample_tp_fp_fn_equal_evaluate_detections(kind):
    dataset = evaluated(f"compare-{kind}", kind)
    objects = synthetic_masks.LABELS[kind]._LABEL_LIST_FIELD
    try:
        assert dataset.count(f"ground_truth.{objects}") > 1000
        if kind == "polylines":
            assert (
                0
                < dataset.count_values(f"ground_truth.{objects}.filled")[False]
                < dataset.count(f"ground_truth.{objects}")
            )
        R.compare(dataset, request())
        assert_same_as_evaluate_detections(dataset, "compare")
        assert_categories_follow_the_evaluations(dataset, "compare", objects)
    finally:
        dataset.delete()


def test_keypoint_sigmas_as_evaluate_detections(dataset):
    source = synthetic_masks.build("compare-sigmas", "keypoints", 300, seed=2)
    sigmas = [0.3, 0.5, 0.8, 1.0, 1.5]
    for field in ROLES:
        source.evaluate_detections(field, gt_field="ground_truth", eval_key=f"eval_{field}", keypoint_sigmas=sigmas)
    foo.get_operator(ops.uri("compare_models"))(source, "baseline", "candidate", keypoint_sigmas=sigmas)
    assert_same_as_evaluate_detections(source, "compare")
    source.delete()


def _masked(label, box, mask=None, **values):
    mask = np.ones((10, 10), dtype=bool) if mask is None else mask
    return fo.Detection(label=label, bounding_box=box, mask=mask, confidence=0.9, **values)


def _mask_dataset(dataset, gt, base=None):
    box = [0.1, 0.1, 0.1, 0.1]  # 10 x 10 pixels in a 100 x 100 frame
    base = base or [_masked("a", box)]
    dataset.add_samples(
        [
            fo.Sample(
                filepath=f"/{i}.png",
                ground_truth=fo.Detections(detections=gt),
                baseline=fo.Detections(detections=base),
                candidate=fo.Detections(detections=[_masked("a", box)]),
            )
            for i in range(2)
        ]
    )
    return dataset


BOX = [0.1, 0.1, 0.1, 0.1]


NO_MASK = fo.Detection(label="a", bounding_box=BOX)
ELSEWHERE = fo.Detection(label="a", bounding_box=BOX, mask_path="/nowhere/m.png")


@pytest.mark.parametrize(
    ("gt", "error"),
    [
        ([_masked("a", BOX, np.ones((10, 10, 3)))], r"mask has shape \(10, 10, 3\): give 2-D masks"),
        ([_masked("a", [0.95, 0.1, 0.1, 0.1])], r"10x10 mask does not fit its box \[0.95, 0.1, 0.1, 0.1\]"),
        ([_masked("a", BOX, np.ones((0, 10)))], r"mask has no pixels"),
        ([NO_MASK, _masked("a", BOX)], r"2 of 4 objects in 'ground_truth' have no mask"),
        ([_masked("a", BOX), ELSEWHERE], r"1 mask files of 'ground_truth' are missing"),
    ],
    ids=["3d", "outside_frame", "no_pixels", "no_mask", "missing_file"],
)
def test_bad_masks_are_refused_before_anything_is_written(dataset, gt, error):
    _mask_dataset(dataset, gt)
    fields = set(dataset.get_field_schema())
    with pytest.raises(ValueError, match=error):
        R.compare(dataset, request())
    assert set(dataset.get_field_schema()) == fields and not runs.list_suite_runs(dataset)


def test_unreadable_mask_file_is_refused(dataset, tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"not an image")
    _mask_dataset(dataset, [fo.Detection(label="a", bounding_box=BOX, mask_path=str(path))])
    with pytest.raises(ValueError, match=r"missing or not an image"):
        R.compare(dataset, request())
    assert not runs.list_suite_runs(dataset)


def test_mask_files_and_non_binary_masks_compare(dataset, tmp_path):
    path = str(tmp_path / "m.png")
    cv2.imwrite(path, np.full((10, 10), 255, dtype=np.uint8))
    gt = [fo.Detection(label="a", bounding_box=BOX, mask_path=path)]
    _mask_dataset(dataset, gt, base=[_masked("a", BOX, np.full((10, 10), 0.7))])
    result = R.compare(dataset, request())
    assert dataset.values("compare_baseline_tp") == [1, 1] and result["overall"]["unchanged_tp"] == 2


@pytest.mark.parametrize(
    ("points", "closed", "filled"),
    [
        ([[[0.1, 0.1], [0.2, 0.2]]], True, True),
        ([[[0.1, 0.1], [0.2, 0.2]]], True, False),
        ([[[0.1, 0.1]]], False, False),
        ([], False, False),
    ],
    ids=["filled_2_points", "closed_2_points", "line_1_point", "no_points"],
)
def test_short_polylines_are_refused(dataset, points, closed, filled):
    good = fo.Polyline(label="a", points=[[[0.1, 0.1], [0.3, 0.1], [0.2, 0.3]]], closed=True, filled=True)
    bad = fo.Polyline(label="a", points=points, closed=closed, filled=filled)
    fields = {"ground_truth": [good, bad], "baseline": [good], "candidate": [good]}
    dataset.add_sample(fo.Sample(filepath="/p.png", **{k: fo.Polylines(polylines=v) for k, v in fields.items()}))
    with pytest.raises(ValueError, match=r"1 polylines in 'ground_truth' have a shape with too few points"):
        R.compare(dataset, request())
    assert not runs.list_suite_runs(dataset)


def test_keypoint_sigmas_must_fit_the_points(dataset):
    point = fo.Keypoint(label="a", points=[[0.1, 0.1], [np.nan, np.nan], [0.2, 0.2]], confidence=[0.9, np.nan, 0.8])
    fields = {f: fo.Keypoints(keypoints=[point.copy()]) for f in ("ground_truth", *ROLES)}
    dataset.add_sample(fo.Sample(filepath="/k.png", **fields))
    assert R.check(dataset, request(keypoint_sigmas=[1, 1])) == [
        f"1 keypoints in '{f}' do not have 2 points, one per sigma: give as many sigmas as the skeleton has points."
        for f in ("ground_truth", *ROLES)
    ]
    assert "must all be positive" in R.check(dataset, request(keypoint_sigmas=[1, 0, 1]))[0]
    assert "must be numbers" in R.check(dataset, request(keypoint_sigmas="1, x"))[0]
    assert "applies to Detections" in R.check(dataset, request(use_masks=True))[0]
    result = R.compare(dataset, request(keypoint_sigmas="1, 1, 1"))  # NaN points are invisible, as in FiftyOne
    assert result["overall"] == {"unchanged_tp": 1}
    [run] = runs.list_suite_runs(dataset)
    assert run["params"]["keypoint_sigmas"] == [1.0, 1.0, 1.0]  # the sigmas recorded, not the text typed


def test_form_offers_masks_and_the_sdk_takes_them(mask_data):
    view = mask_data.limit(20)
    view.evaluate_detections("baseline", gt_field="ground_truth", eval_key="form_box", progress=False)
    params = {"gt_field": "ground_truth", "baseline_field": "baseline", "candidate_field": "candidate", "key": "sdk"}
    result = ops.run("compare_models", view, {**params, "use_masks": False})
    assert result.error is None and view.values("sdk_baseline_tp") == view.values("form_box_tp")
    assert "use_masks: Invalid value type" in ops.validation_error("compare_models", view, {**params, "use_masks": "y"})
    compare = foo.get_operator(ops.uri("compare_models"))
    compare(view, "baseline", "candidate", key="sdk2")
    assert view.values("sdk2_baseline_tp") == view.values("eval_baseline_tp")
