"""Instance masks and polylines through the CVAT loop (the double, then the real server when configured): sent as
CVAT masks / polygons / polylines pre-populated from predictions, edited by a person, merged back label by label;
labels CVAT could not take refused before any task exists."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone import ViewField as F
from fiftyone.operators.executor import ExecutionError
from fiftyone.utils.cvat import HasCVATBinaryMask

from harness import operators
from testing.cvat_annotator import Annotator

SIZE = 128  # the shapes images' width and height


def op(name):
    return foo.get_operator(f"@labelloop/mlops/{name}")


def annotator(server):
    return Annotator(server.url, server.owner.username, server.owner.password)


def block_mask(detection):
    """A mask the size of the detection's pixel box with its top-left corner cut off."""
    width, height = (round(v * SIZE) for v in detection.bounding_box[2:])
    mask = np.ones((height, width), bool)
    mask[: height // 2, : width // 2] = False
    return mask


def polygon(detection, closed=True):
    x, y, w, h = detection.bounding_box
    corners = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]
    return fo.Polyline(label=detection.label, points=[corners if closed else corners[:2]], closed=closed, filled=closed)


def labels_by_id(values, name):
    return {label.id: label for value in values if value is not None for label in value[name]}


def find(person, task_id, label_id):
    return person.find(task_id, "shapes", label_id)


@pytest.fixture
def masked(shapes):
    """Six shapes samples whose boxes carry instance masks, and a confident predicted mask on the first."""
    view = shapes.limit(6)
    for sample in view:
        for detection in sample.ground_truth.detections:
            detection.mask = block_mask(detection)
        sample.save()
    first = view.first()
    guess = fo.Detection(label="circle", bounding_box=[0.0, 0.0, 10 / SIZE, 8 / SIZE], confidence=0.9)
    guess.mask = np.ones((8, 10), bool)
    first["candidate"] = fo.Detections(detections=[guess])
    first.save()
    return view


def test_instance_masks_round_trip(masked, cvat_env):
    dataset = masked._dataset
    before = labels_by_id(masked.values("ground_truth"), "detections")
    sent = op("send_to_cvat")(masked, gt_field="ground_truth", pred_field="candidate")
    task_id = sent["task_ids"][0]
    cvat_shapes = cvat_env.annotations(task_id)["shapes"]
    assert {s["type"] for s in cvat_shapes} == {"mask"} and len(cvat_shapes) == len(before) + 1
    assert sent["prefilled"] == 1

    person = annotator(cvat_env)
    relabelled, deleted, *_ = before
    old_class = before[relabelled].label
    person.relabel_shape(task_id, find(person, task_id, relabelled), "square" if old_class != "square" else "circle")
    person.delete_shape(task_id, find(person, task_id, deleted))
    drawn = np.zeros((5, 6), bool)
    drawn[1:, 1:] = True
    person.add_shape(task_id, 1, "circle", "mask", [*HasCVATBinaryMask._mask_to_cvat_rle(drawn), 60, 60, 65, 64])
    local = fo.Detection(label="square", bounding_box=[0.5, 0.5, 0.1, 0.1])  # drawn in FiftyOne meanwhile
    sample = masked.last()
    sample.ground_truth.detections.append(local)
    sample.save()

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"], loaded["kept_local"]) == (1, 1, 1, 1)
    assert loaded["accepted_predictions"] == 1 and loaded["unchanged"] == len(before) - 2
    after = labels_by_id(dataset.select(masked.values("id")).values("ground_truth"), "detections")
    assert deleted not in after and local.id in after
    assert after[relabelled].label != old_class  # the relabelled mask keeps its identity and its pixels
    assert np.array_equal(after[relabelled].mask, before[relabelled].mask)
    for label_id, label in before.items():
        if label_id not in (relabelled, deleted):
            assert np.array_equal(after[label_id].mask, label.mask) and after[label_id].label == label.label
    new = [d for d in after.values() if d.id not in before and d.id != local.id]
    assert sorted(int(d.mask.sum()) for d in new) == [20, 80]  # the drawn mask and the accepted prediction
    backup = labels_by_id(dataset.values(f"ground_truth_before_{sent['run_key']}"), "detections")
    assert set(backup) == set(before) | {local.id}  # the previous ground truth, kept until accepted
    assert dataset.count("ground_truth.detections.from_model") == 0


def test_instance_masks_edited_as_polygons(masked, cvat_env):
    dataset = masked._dataset
    before = labels_by_id(masked.values("ground_truth"), "detections")
    sent = op("send_to_cvat")(masked, gt_field="ground_truth", pred_field="candidate", instance_shapes="polygons")
    task_id = sent["task_ids"][0]
    cvat_shapes = cvat_env.annotations(task_id)["shapes"]
    assert {s["type"] for s in cvat_shapes} == {"polygon"} and len(cvat_shapes) == len(before) + 1

    person = annotator(cvat_env)
    moved, deleted, *_ = before
    person.move_shape(task_id, find(person, task_id, moved), 4, 0)
    person.delete_shape(task_id, find(person, task_id, deleted))
    person.add_shape(task_id, 1, "circle", "polygon", [60, 60, 70, 60, 65, 70])

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"], loaded["accepted_predictions"]) == (1, 1, 1, 1)
    assert loaded["unchanged"] == len(before) - 2
    after = labels_by_id(dataset.select(masked.values("id")).values("ground_truth"), "detections")
    assert deleted not in after
    for label_id, label in before.items():  # untouched polygons leave the masks exactly as they were
        if label_id not in (moved, deleted):
            assert np.array_equal(after[label_id].mask, label.mask)
            assert after[label_id].bounding_box == label.bounding_box
    assert after[moved].bounding_box[0] == pytest.approx(before[moved].bounding_box[0] + 4 / SIZE)
    assert after[moved].mask.sum() > 0.8 * before[moved].mask.sum()  # redrawn from the moved polygon
    assert all(d.mask is not None and d.mask.any() for d in after.values())


def test_instance_shapes_must_be_masks_or_polygons(masked):
    message = operators.validation_error(
        "send_to_cvat", masked, {"gt_field": "ground_truth", "instance_shapes": "brush"}
    )
    assert "Instance masks are edited as one of masks, polygons" in message


@pytest.fixture
def outlined(shapes):
    """Six shapes samples with a Polylines field: a filled polygon per box and an open line on the first sample;
    a confident predicted polygon away from them."""
    shapes.add_sample_field("outlines", fo.EmbeddedDocumentField, embedded_doc_type=fo.Polylines)
    shapes.add_sample_field("outline_guess", fo.EmbeddedDocumentField, embedded_doc_type=fo.Polylines)
    view = shapes.limit(6)
    for index, sample in enumerate(view):
        lines = [polygon(d) for d in sample.ground_truth.detections]
        if index == 0:
            lines.append(polygon(sample.ground_truth.detections[0], closed=False))
            guess = fo.Polyline(
                label="circle",
                points=[[(0.0, 0.0), (0.05, 0.0), (0.05, 0.05)]],
                closed=True,
                filled=True,
                confidence=0.8,
            )
            sample["outline_guess"] = fo.Polylines(polylines=[guess])
        sample["outlines"] = fo.Polylines(polylines=lines)
        sample.save()
    return view


def test_polygons_round_trip_keeps_the_open_lines_not_sent(outlined, cvat_env):
    dataset = outlined._dataset
    before = labels_by_id(outlined.values("outlines"), "polylines")
    polygons = outlined.filter_labels("outlines", F("filled") == True, only_matches=False)  # noqa: E712
    sent = op("send_to_cvat")(polygons, gt_field="outlines", pred_field="outline_guess")
    task_id = sent["task_ids"][0]
    types = [s["type"] for s in cvat_env.annotations(task_id)["shapes"]]
    assert types == ["polygon"] * len(before) and sent["prefilled"] == 1  # the open line stays out, the guess in

    person = annotator(cvat_env)
    line_id = next(label_id for label_id, p in before.items() if not p.closed)
    moved, relabelled, deleted = [label_id for label_id, p in before.items() if p.closed][:3]
    person.move_shape(task_id, find(person, task_id, moved), 4, 2)
    person.relabel_shape(task_id, find(person, task_id, relabelled), "triangle")
    person.delete_shape(task_id, find(person, task_id, deleted))
    person.add_shape(task_id, 2, "circle", "polygon", [10, 10, 30, 10, 20, 25])

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"], loaded["accepted_predictions"]) == (2, 1, 1, 1)
    assert loaded["kept_local"] == 1 and loaded["unchanged"] == len(before) - 4
    after = labels_by_id(dataset.select(outlined.values("id")).values("outlines"), "polylines")
    assert deleted not in after and after[relabelled].label == "triangle"
    assert after[relabelled].points == before[relabelled].points
    assert after[line_id].points == before[line_id].points and not after[line_id].closed  # not sent: kept
    shift = np.array(after[moved].points[0]) - np.array(before[moved].points[0])
    assert np.allclose(shift, [4 / SIZE, 2 / SIZE])
    assert sum(p.filled and p.closed for p in after.values()) == len(after) - 1  # drawn polygons are filled too
    backup = labels_by_id(dataset.values(f"outlines_before_{sent['run_key']}"), "polylines")
    assert set(backup) == set(before)


def test_open_polylines_round_trip(outlined, cvat_env):
    dataset = outlined._dataset
    lines = outlined.filter_labels("outlines", F("filled") == False)  # noqa: E712
    (line,) = lines.values("outlines.polylines", unwind=True)
    sent = op("send_to_cvat")(lines, gt_field="outlines")
    task_id = sent["task_ids"][0]
    assert [s["type"] for s in cvat_env.annotations(task_id)["shapes"]] == ["polyline"]
    person = annotator(cvat_env)
    person.move_shape(task_id, find(person, task_id, line.id), 0, 3)
    person.add_shape(task_id, 0, "square", "polyline", [1, 1, 9, 9, 20, 4])
    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["drawn"]) == (1, 1)
    after = labels_by_id(dataset.select(lines.values("id")).values("outlines"), "polylines")
    assert np.allclose(np.array(after[line.id].points[0]) - np.array(line.points[0]), [0, 3 / SIZE])
    drawn = next(p for p in after.values() if p.label == "square" and len(p.points[0]) == 3)
    assert not drawn.closed and not drawn.filled


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda d: setattr(d, "mask", np.ones((2, 3, 4), bool)), r"not \(height, width\)"),
        (lambda d: setattr(d, "mask", np.zeros((4, 4), bool)), "mask is empty"),
        (lambda d: setattr(d, "mask", None), "has no instance mask"),
    ],
)
def test_bad_masks_are_refused_before_any_task(masked, cvat_env, spoil, message):
    sample = masked.first()
    spoil(sample.ground_truth.detections[0])
    sample.save()
    with pytest.raises(ExecutionError, match=message):
        op("send_to_cvat")(masked, gt_field="ground_truth")
    assert cvat_env.tasks == {} and not masked._dataset.list_annotation_runs()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p: setattr(p, "points", [p.points[0][:2]]), "polygon of 2 points; CVAT needs at least 3"),
        (lambda p: setattr(p, "points", p.points * 2), "has 2 parts; CVAT edits one shape per label"),
    ],
)
def test_bad_polygons_are_refused_before_any_task(outlined, cvat_env, spoil, message):
    polygons = outlined.filter_labels("outlines", F("filled") == True, only_matches=False)  # noqa: E712
    dataset = outlined._dataset
    sample = dataset[outlined.first().id]
    spoil(sample.outlines.polylines[0])
    sample.save()
    with pytest.raises(ExecutionError, match=message):
        op("send_to_cvat")(polygons, gt_field="outlines")
    assert cvat_env.tasks == {} and not dataset.list_annotation_runs()


def test_a_field_of_polygons_and_open_lines_is_refused_as_one_review(outlined, cvat_env):
    with pytest.raises(ExecutionError, match="filled polygons or open polylines, not both"):
        op("send_to_cvat")(outlined, gt_field="outlines")
    assert cvat_env.tasks == {} and not outlined._dataset.list_annotation_runs()
