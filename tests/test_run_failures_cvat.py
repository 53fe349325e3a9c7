"""Issue 19 for the CVAT loop, against the CVAT double: a failure at any stage of a send leaves no field, annotation
run or CVAT task or project behind; of a load, the ground truth, the review as sent (loadable again) and the CVAT
tasks; of finishing a review, either the review as it was or the finished one. Never a running run or a lease."""

import os
import uuid

import pytest

import fiftyone as fo
from fiftyone.core.collections import SampleCollection
from fiftyone.utils.cvat import CVATAnnotationAPI

from core.annotation import finish, load, merge, send
from core.annotation.connection import CVATSettings
from core.annotation.records import backup_field_name
from core.exceptions import CVATError
from core.store import lease, runs
from core.store.declared import FieldGuards
from harness import injection as I
from harness.cvat_fixtures import configure
from testing import data
from testing.cvat_annotator import Annotator

REQUEST = dict(gt_field="ground_truth", pred_field="candidate", threshold=0.3, task_size=2, project_name="review")
SENT = 4


def _settings():
    return CVATSettings.from_secrets(os.environ)


def _send(dataset, **options):
    request = send.SendRequest(**{**REQUEST, **options})
    return send.send(dataset.limit(SENT), request, _settings())["run_key"]


def _send_assigned(dataset, key):
    """A send without a project (deleting a project deletes its tasks), its tasks assigned."""
    return _send(dataset, project_name=None, task_assignee="user2")


def _review(dataset, double):
    """A sent review with an annotator's edits (a box moved, one deleted, one drawn)."""
    key = _send(dataset)
    person = Annotator(double.url, "admin", double.user("admin").password)
    for task_id in sorted(double.tasks):
        shapes = person.annotations(task_id)["shapes"]
        person.move_shape(task_id, shapes[0], 4, 0)
        person.delete_shape(task_id, shapes[1])
        person.add_box(task_id, 0, "circle", [2, 2, 30, 30])
    return key


def _loaded(dataset, double):
    key = _review(dataset, double)
    load.load(dataset, key, _settings())
    return key


SEND = [
    (fo.Dataset, "add_sample_field", 1),
    (CVATAnnotationAPI, "create_project", 1),
    (send.SendConnection, "_upload_annotations", 2),
    (SampleCollection, "annotate", 1),
    (SampleCollection, "update_run_config", 1),
]
LOAD = [
    (SampleCollection, "load_annotations", 1),
    (fo.Dataset, "add_sample_field", 1),
    (merge, "_merge", 3),
    (FieldGuards, "check", 2),
    (SampleCollection, "update_run_config", 1),
]
OPERATIONS = {  # name: (what runs first, the call, the stages)
    "send": (lambda dataset, double: None, lambda dataset, key: _send(dataset), SEND),
    "send_assigned": (
        lambda dataset, double: None,
        _send_assigned,
        [(CVATAnnotationAPI, "_get_task_id_labels_json", 2), (CVATAnnotationAPI, "patch", 1)],
    ),
    "load": (_review, lambda dataset, key: load.load(dataset, key, _settings()), LOAD),
    "load_and_clean_up": (
        _review,
        lambda dataset, key: load.load(dataset, key, _settings(), cleanup=True),
        [(load, "_delete_tasks", 1), (CVATAnnotationAPI, "delete_task", 2)],
    ),
    "accept": (_loaded, finish.accept, [(fo.Dataset, "delete_sample_fields", 1)]),
    "revert": (
        _loaded,
        finish.revert,
        [(SampleCollection, "set_values", 2), (fo.Dataset, "delete_sample_field", 1)],
    ),
}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    dataset = data.build_shapes(f"failures-c-{uuid.uuid4().hex[:8]}", str(tmp_path_factory.mktemp("s")), count=8)
    data.add_simulated_predictions(dataset)
    yield dataset
    dataset.delete()


def _cvat(double):
    return sorted(double.tasks), sorted(double.projects)


@pytest.mark.parametrize(("name", "stage", "after"), I.params(OPERATIONS))
def test_a_failure_leaves_nothing_behind(source, cvat_double, monkeypatch, name, stage, after):
    configure(cvat_double, monkeypatch)
    prepare, call, _ = OPERATIONS[name]
    dataset = source.clone()
    key = prepare(dataset, cvat_double)
    monkeypatch.setattr(merge, "CHUNK", 2)
    before, previous_runs, cvat_before = I.state(dataset), runs.list_suite_runs(dataset), _cvat(cvat_double)
    calls = I.inject(monkeypatch, stage, after)
    with pytest.raises((OSError, CVATError, RuntimeError), match=I.INJECTED) as raised:
        call(dataset, key)
    I.reached(calls, stage)
    monkeypatch.setattr(*stage[:2], getattr(stage[0], stage[1]).__wrapped__)
    assert lease.live_leases(dataset) == []
    statuses = [r["status"] for r in I.new_runs(dataset, previous_runs)]
    if stage[1] in ("_delete_tasks", "delete_task"):  # the load was recorded: its corrections stay, as the error says
        assert statuses == [runs.COMPLETED] and dataset.has_field(backup_field_name("ground_truth", key))
        assert "corrections were loaded" in str(raised.value)
    elif name in ("accept", "revert") and I.state(dataset) != before:  # finished: the failure came after it
        assert not dataset.has_field(backup_field_name("ground_truth", key))
    else:
        assert statuses in ([], [runs.FAILED])
        assert I.state(dataset) == before
        assert _cvat(cvat_double) == cvat_before
        call(dataset, key)  # and it can be done again
    dataset.delete()
