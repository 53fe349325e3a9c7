"""Keypoints through the CVAT loop (the double, then the real server when configured): sent as CVAT points
pre-populated from predictions, edited by a person, merged back label by label; FiftyOne 1.22.1's quirks worked
around (a NaN point crashes its upload; points are rounded to whole pixels); bad keypoints refused before any task."""

import math

import numpy as np
import pytest
from test_cvat_other_process import load_in_child

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError

from testing.cvat_annotator import Annotator

SIZE = 128  # the shapes images' width and height
NUDGE = 0.3 / SIZE  # a third of a pixel: CVAT only takes whole pixels
NODES = ["top", "right", "bottom"]  # the skeleton of the three points


def op(name):
    return foo.get_operator(f"@labelloop/mlops/{name}")


def annotator(server):
    return Annotator(server.url, server.owner.username, server.owner.password)


def pose(detection, hidden):
    """Three points on the detection's box, off the pixel grid; the middle one NaN (not visible) when ``hidden``."""
    x, y, w, h = detection.bounding_box
    middle = (math.nan, math.nan) if hidden else (x + w + NUDGE, y + NUDGE)
    return fo.Keypoint(label=detection.label, points=[(x + NUDGE, y + NUDGE), middle, (x + w / 2, y + h - NUDGE)])


def same_points(a, b):
    return np.allclose(np.array(a, float), np.array(b, float), equal_nan=True, atol=1e-9)


def keypoints_by_id(values):
    return {k.id: k for value in values if value is not None for k in value.keypoints}


def find(person, task_id, label_id):
    return person.find(task_id, "shapes", label_id)


@pytest.fixture
def posed(shapes):
    """Six shapes samples with a Keypoints field (every other keypoint has a NaN point), a confident predicted
    keypoint away from them on the first sample and an unsure one (mean confidence 0.3) on the second."""
    for name in ("pose", "pose_guess"):
        shapes.add_sample_field(name, fo.EmbeddedDocumentField, embedded_doc_type=fo.Keypoints)
    view = shapes.limit(6)
    count = 0
    for index, sample in enumerate(view):
        keypoints = []
        for detection in sample.ground_truth.detections:
            keypoints.append(pose(detection, hidden=count % 2 == 1))
            count += 1
        sample["pose"] = fo.Keypoints(keypoints=keypoints)
        if index < 2:
            guess = fo.Keypoint(
                label="circle",
                points=[(0.01, 0.01), (0.05, 0.02), (math.nan, math.nan)],
                confidence=[0.9, 0.8, math.nan] if index == 0 else [0.2, 0.4, 0.3],
            )
            sample["pose_guess"] = fo.Keypoints(keypoints=[guess])
        sample.save()
    return view


def test_keypoints_round_trip(posed, cvat_env):
    dataset = posed._dataset
    before = keypoints_by_id(posed.values("pose"))
    sent = op("send_to_cvat")(posed, gt_field="pose", pred_field="pose_guess")
    task_id = sent["task_ids"][0]
    cvat_shapes = cvat_env.annotations(task_id)["shapes"]
    assert {s["type"] for s in cvat_shapes} == {"points"} and len(cvat_shapes) == len(before) + 1
    assert sent["prefilled"] == 1  # the unsure guess stays out
    hidden = next(k for k in before.values() if any(math.isnan(v) for p in k.points for v in p))
    person = annotator(cvat_env)
    assert len(find(person, task_id, hidden.id)["points"]) == 4  # the NaN point is not sent: 2 points, 4 numbers

    moved, relabelled, deleted, *_ = [k for k in before if k != hidden.id]
    old_class = before[relabelled].label
    person.move_shape(task_id, find(person, task_id, hidden.id), 4, 0)
    person.move_shape(task_id, find(person, task_id, moved), 0, 2)
    person.relabel_shape(task_id, find(person, task_id, relabelled), "square" if old_class != "square" else "circle")
    person.delete_shape(task_id, find(person, task_id, deleted))
    person.add_shape(task_id, 1, "triangle", "points", [20, 20, 30, 25])
    local = fo.Keypoint(label="square", points=[(0.5, 0.5)])  # drawn in FiftyOne meanwhile
    sample = posed.last()
    sample.pose.keypoints.append(local)
    sample.save()

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"], loaded["kept_local"]) == (3, 1, 1, 1)
    assert loaded["accepted_predictions"] == 1 and loaded["unchanged"] == len(before) - 4
    after = keypoints_by_id(dataset.select(posed.values("id")).values("pose"))
    assert deleted not in after and local.id in after
    for label_id, keypoint in before.items():  # untouched: to the third of a pixel, NaNs in place
        if label_id not in (hidden.id, moved, relabelled, deleted):
            assert same_points(after[label_id].points, keypoint.points) and after[label_id].label == keypoint.label
    assert after[relabelled].label != old_class and same_points(after[relabelled].points, before[relabelled].points)
    shifted = np.array(after[hidden.id].points) - np.array(hidden.points)
    assert math.isnan(after[hidden.id].points[1][0])  # the hidden point keeps its index
    assert np.allclose(shifted[[0, 2]], [[4 / SIZE, 0], [4 / SIZE, 0]], atol=0.5 / SIZE)
    assert np.allclose(np.array(after[moved].points) - np.array(before[moved].points), [0, 2 / SIZE], atol=0.5 / SIZE)
    drawn = next(k for k in after.values() if k.label == "triangle" and k.id not in before)
    assert same_points(drawn.points, [(20 / SIZE, 20 / SIZE), (30 / SIZE, 25 / SIZE)])
    accepted = next(k for k in after.values() if k.id not in before and k.label == "circle")
    assert math.isnan(accepted.points[2][0])  # the accepted prediction keeps its hidden point too
    backup = keypoints_by_id(dataset.values(f"pose_before_{sent['run_key']}"))
    assert set(backup) == set(before) | {local.id}  # the previous ground truth, kept until accepted
    assert dataset.count("pose.keypoints.from_model") == 0


@pytest.mark.parametrize(
    ("spoil", "message", "skeleton"),
    [
        (lambda k: setattr(k, "points", [(math.nan, math.nan)] * 3), r"no visible point \(every point is NaN\)", False),
        (lambda k: setattr(k, "points", []), "has no points", False),
        (lambda k: setattr(k, "points", k.points[:2]), "has 2 points, the field's skeleton 3 nodes", True),
    ],
)
def test_bad_keypoints_are_refused_before_any_task(posed, cvat_env, spoil, message, skeleton):
    dataset = posed._dataset
    if skeleton:
        with_skeleton(dataset)
    sample = dataset[posed.first().id]
    spoil(sample.pose.keypoints[0])
    sample.save()
    with pytest.raises(ExecutionError, match=message):
        op("send_to_cvat")(posed, gt_field="pose")
    assert cvat_env.tasks == {} and not dataset.list_annotation_runs()


def test_an_unsure_prediction_with_nan_points_is_not_checked(posed, cvat_env):
    """Only predictions that would be sent are checked: an all-NaN guess below the threshold does not block."""
    sample = posed._dataset[posed.first().id]
    sample.pose_guess.keypoints.append(fo.Keypoint(label="circle", points=[(math.nan, math.nan)], confidence=[0.1]))
    sample.save()
    sent = op("send_to_cvat")(posed, gt_field="pose", pred_field="pose_guess")
    assert sent["prefilled"] == 1


def test_fiftyone_alone_cannot_send_a_nan_point(posed, cvat_env):
    """The FiftyOne 1.22.1 quirk the send works around (test_keypoints_round_trip sends them): its upload fails on
    a keypoint with a NaN point. When this fails, FiftyOne sends them itself."""
    login = {"url": cvat_env.url, "username": cvat_env.owner.username, "password": cvat_env.owner.password}
    with pytest.raises(ValueError, match="cannot convert float NaN to integer"):
        posed.annotate("plain", backend="cvat", label_field="pose", label_type="keypoints", **login)


def with_skeleton(dataset):
    """Gives the Keypoints field a skeleton: the three points are its nodes."""
    dataset.skeletons = {"pose": fo.KeypointSkeleton(labels=NODES, edges=[[0, 1, 2]])}
    dataset.save()


@pytest.fixture
def skeletal(posed):
    """``posed`` with a skeleton for its Keypoints field."""
    with_skeleton(posed._dataset)
    return posed


def test_keypoints_with_a_skeleton_round_trip_as_cvat_skeletons(skeletal, cvat_env):
    dataset = skeletal._dataset
    before = keypoints_by_id(skeletal.values("pose"))
    sent = op("send_to_cvat")(skeletal, gt_field="pose", pred_field="pose_guess")
    task_id = sent["task_ids"][0]
    person = annotator(cvat_env)
    label = person.labels(task_id)["circle"]
    assert label["type"] == "skeleton" and [s["name"] for s in label["sublabels"]] == NODES
    cvat_shapes = cvat_env.annotations(task_id)["shapes"]
    assert {s["type"] for s in cvat_shapes} == {"skeleton"} and len(cvat_shapes) == len(before) + 1
    hidden = next(k for k in before.values() if any(math.isnan(v) for p in k.points for v in p))
    shape = find(person, task_id, hidden.id)
    assert sorted(e["outside"] for e in shape["elements"]) == [False, False, True]  # the NaN point: hidden

    moved, deleted, *_ = [k for k in before if k != hidden.id]
    person.place_node(task_id, shape, "right", (10, 12))
    person.move_shape(task_id, find(person, task_id, moved), 0, 2)
    person.delete_shape(task_id, find(person, task_id, deleted))
    person.add_skeleton(task_id, 1, "triangle", [(20, 20), None, (30, 25)])

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"], loaded["accepted_predictions"]) == (2, 1, 1, 1)
    assert loaded["unchanged"] == len(before) - 3
    after = keypoints_by_id(dataset.select(skeletal.values("id")).values("pose"))
    for label_id, keypoint in before.items():  # untouched: to the third of a pixel, NaNs in place
        if label_id not in (hidden.id, moved, deleted):
            assert same_points(after[label_id].points, keypoint.points)
    expected = [hidden.points[0], (10 / SIZE, 12 / SIZE), hidden.points[2]]
    assert same_points(after[hidden.id].points, expected)  # the hidden node placed, at its index
    assert np.allclose(np.array(after[moved].points) - np.array(before[moved].points), [0, 2 / SIZE], atol=0.5 / SIZE)
    drawn = next(k for k in after.values() if k.label == "triangle" and k.id not in before)
    assert same_points(drawn.points, [(20 / SIZE, 20 / SIZE), (math.nan, math.nan), (30 / SIZE, 25 / SIZE)])
    assert deleted not in after


def test_a_load_in_another_process_keeps_identity_precision_and_nans(posed, cvat_env, tmp_path):
    dataset = posed._dataset
    before = keypoints_by_id(posed.values("pose"))
    hidden = next(k for k in before.values() if any(math.isnan(v) for p in k.points for v in p))
    sent = op("send_to_cvat")(posed, gt_field="pose")
    task_id, person = sent["task_ids"][0], annotator(cvat_env)
    new_class = "square" if hidden.label != "square" else "circle"
    person.relabel_shape(task_id, find(person, task_id, hidden.id), new_class)
    loaded = load_in_child(dataset, sent["run_key"], tmp_path)  # send today, load tomorrow
    assert (loaded["edited"], loaded["drawn"], loaded["unchanged"]) == (1, 0, len(before) - 1)
    after = keypoints_by_id(dataset.select(posed.values("id")).values("pose"))
    assert after[hidden.id].label == new_class and same_points(after[hidden.id].points, hidden.points)
    assert all(same_points(after[i].points, k.points) for i, k in before.items())
