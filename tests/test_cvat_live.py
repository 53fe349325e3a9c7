"""Opt-in: the whole CVAT loop against a real server (``pytest -m cvat_live``, with FIFTYONE_CVAT_URL/USERNAME/PASSWORD
set; FIFTYONE_CVAT_VERIFY_TLS=false for a test server with a self-signed certificate). Creates and then deletes its
own tasks and project."""

import os

import pytest

import fiftyone.operators as foo

from testing.cvat_annotator import Annotator

pytestmark = [
    pytest.mark.cvat_live,
    pytest.mark.skipif(
        not all(os.environ.get(f"FIFTYONE_CVAT_{k}") for k in ("URL", "USERNAME", "PASSWORD")),
        reason="set FIFTYONE_CVAT_URL, FIFTYONE_CVAT_USERNAME and FIFTYONE_CVAT_PASSWORD to run against a real CVAT",
    ),
]
VERIFY = os.environ.get("FIFTYONE_CVAT_VERIFY_TLS", "true").lower() != "false"


def op(name):
    return foo.get_operator(f"@labelloop/mlops/{name}")


def person():
    env = os.environ
    return Annotator(
        env["FIFTYONE_CVAT_URL"].rstrip("/"), env["FIFTYONE_CVAT_USERNAME"], env["FIFTYONE_CVAT_PASSWORD"], VERIFY
    )


def test_detections_round_trip_on_a_real_server(shapes):
    sent = op("send_to_cvat")(shapes.limit(3), project_name=f"labelloop-live-{shapes.name}", verify_tls=VERIFY)
    task_id = sent["task_ids"][0]
    annotator = person()
    first = annotator.annotations(task_id)["shapes"][0]
    annotator.move_shape(task_id, first, 3, 0)
    annotator.add_box(task_id, 0, "circle", [2, 2, 20, 20])
    assert op("cvat_status")(shapes, review=sent["run_key"], verify_tls=VERIFY)["jobs_total"] >= 1
    loaded = op("load_from_cvat")(shapes, review=sent["run_key"], cleanup=True, verify_tls=VERIFY)
    assert (loaded["edited"], loaded["drawn"]) == (1, 1) and len(loaded["deleted_project_ids"]) == 1


def test_classification_round_trip_on_a_real_server(digits):
    view = digits.limit(2)
    before = dict(zip(view.values("filepath"), view.values("ground_truth.label"), strict=True))
    sent = op("send_to_cvat")(view, verify_tls=VERIFY)
    task_id, annotator = sent["task_ids"][0], person()
    tag = annotator.annotations(task_id)["tags"][0]
    deleted = annotator.frames(task_id)[tag["frame"]]  # the uploaded file's name
    assert [os.path.basename(path) for path in before].count(deleted) == 1
    annotator.delete_tag(task_id, tag)
    loaded = op("load_from_cvat")(digits, review=sent["run_key"], cleanup=True, verify_tls=VERIFY)
    assert loaded["deleted"] == 1 and digits.count("ground_truth") == len(digits) - 1
    after = dict(zip(view.values("filepath"), view.values("ground_truth.label"), strict=True))
    # the sample whose tag was deleted has no label left; the other keeps its own
    assert after == {path: None if os.path.basename(path) == deleted else label for path, label in before.items()}
