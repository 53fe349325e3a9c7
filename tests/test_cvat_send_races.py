"""Samples deleted by someone else while a review is out: during the send (refused, nothing kept), after it (the
load skips and reports them, every other sample keeps exactly its own labels), or during a send made before sends
checked for that (the load refuses the review rather than shift labels onto other samples)."""

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError

from reliability.resources import on_call, plugin_module

PLUGIN = "@labelloop/mlops"
UNCHANGED = {"edited": 0, "deleted": 0, "drawn": 0, "accepted_predictions": 0, "rejected_predictions": 0}


def send(samples: fo.core.collections.SampleCollection, **options) -> dict:
    return foo.get_operator(f"{PLUGIN}/send_to_cvat")(samples, **options)


def load(dataset: fo.Dataset, key: str) -> dict:
    return foo.get_operator(f"{PLUGIN}/load_from_cvat")(dataset, review=key)


def labels(samples: fo.core.collections.SampleCollection) -> dict:
    """``{sample id: {label id: (class, box)}}`` of the ground truth."""
    return {
        sample_id: {d.id: (d.label, d.bounding_box) for d in (gt.detections if gt else [])}
        for sample_id, gt in zip(*samples.values(["id", "ground_truth"]), strict=True)
    }


def test_samples_deleted_during_the_upload_refuse_the_send_and_leave_nothing(shapes, cvat_env):
    view = shapes.limit(16)
    ids = view.values("id")
    fields = sorted(shapes.get_field_schema())
    connection = plugin_module("annotation.connection").CVATConnection
    # between FiftyOne's pass that builds the shapes and the one that uploads the images and maps the frames
    with on_call(connection, "create_task", 1, lambda: shapes.delete_samples(ids[:4])):
        with pytest.raises(ExecutionError, match=r"4 of the 16 samples were deleted while they were sent"):
            send(view)
    shapes.reload()
    assert cvat_env.tasks == {} and cvat_env.projects == {}
    assert sorted(shapes.get_field_schema()) == fields and shapes.list_annotation_runs() == []


def test_samples_deleted_after_the_send_are_skipped_and_reported_by_the_load(shapes, cvat_env):
    view = shapes.limit(16)
    ids = view.values("id")
    sent = send(view, task_size=8)
    assert (sent["samples"], sent["tasks"]) == (16, 2)
    shapes.delete_samples(ids[:4])
    before = labels(shapes.select(ids[4:], ordered=True))

    loaded = load(shapes, sent["run_key"])
    assert {name: loaded[name] for name in UNCHANGED} == UNCHANGED
    assert loaded["unchanged"] == sum(map(len, before.values()))
    assert (loaded["samples"], loaded["deleted_samples"], loaded["deleted_sample_ids"]) == (12, 4, ids[:4])
    assert labels(shapes.select(ids[4:], ordered=True)) == before


def test_a_review_whose_frames_lost_samples_is_refused_by_the_load(shapes, cvat_env):
    view = shapes.limit(16)
    ids = view.values("id")
    sent = send(view)
    results = shapes.load_annotation_results(sent["run_key"])
    # as a send made before sends checked for deletions stored it: the frames of CVAT's images shifted by 4
    results.frame_id_map[results.task_ids[0]] = {frame: {"sample_id": i} for frame, i in enumerate(ids[4:])}
    results.save()
    shapes.delete_samples(ids[:4])
    before = labels(shapes)
    with pytest.raises(ExecutionError, match=r"4 of its samples were deleted while it was sent"):
        load(shapes, sent["run_key"])
    assert labels(shapes) == before
