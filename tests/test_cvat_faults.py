"""CVAT faults and bad input against the test double: each a clear error, and nothing lost or left behind."""

import json
import os
import threading
import urllib.parse

import pytest

import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError

from harness import processes
from harness.cvat_fixtures import configure
from testing import data
from testing.cvat_annotator import Annotator

PLUGIN = "@labelloop/mlops"


def send(samples, **options):
    return foo.get_operator(f"{PLUGIN}/send_to_cvat")(samples, **options)


def load(samples, **options):
    return foo.get_operator(f"{PLUGIN}/load_from_cvat")(samples, **options)


def status(samples, **options):
    return foo.get_operator(f"{PLUGIN}/cvat_status")(samples, **options)


def snapshot(dataset):
    """Everything a failed call must leave as it was: ground truth, fields, annotation runs."""
    dataset.reload()
    return dataset.values("ground_truth"), sorted(dataset.get_field_schema()), dataset.list_annotation_runs()


def assert_nothing_left(dataset, before, double):
    assert snapshot(dataset) == before
    assert double.tasks == {} and double.projects == {}


def test_server_down(shapes, cvat_double_env):
    before = snapshot(shapes)
    cvat_double_env.stop()
    with pytest.raises(ExecutionError, match="Cannot reach CVAT at http://127.0.0.1"):
        send(shapes.limit(2))
    assert snapshot(shapes) == before


def test_wrong_password_is_named_without_the_password(shapes, cvat_env, monkeypatch):
    monkeypatch.setenv("FIFTYONE_CVAT_PASSWORD", "not-the-password")
    before = snapshot(shapes)
    with pytest.raises(ExecutionError, match="refused the login of 'admin'") as refused:
        send(shapes.limit(2))
    assert "not-the-password" not in str(refused.value)
    assert_nothing_left(shapes, before, cvat_env)


def test_unknown_assignee_is_named_before_anything_is_created(shapes, cvat_env):
    before = snapshot(shapes)
    with pytest.raises(ExecutionError, match="no user named 'ghost'"):
        send(shapes.limit(2), job_assignees=["user2", "ghost"])
    assert_nothing_left(shapes, before, cvat_env)


def test_error_mid_upload_leaves_no_orphan_task_or_project(shapes, cvat_double_env):
    before = snapshot(shapes)
    cvat_double_env.fail("POST", r"^/api/tasks/\d+/data", 500)
    with pytest.raises(ExecutionError, match="CVAT answered 500"):
        send(shapes.limit(4), project_name="flagged", task_size=2)
    assert_nothing_left(shapes, before, cvat_double_env)
    failed = [r for r in shapes.list_runs() if shapes.get_run_info(r).config.method == "send_to_cvat"]
    assert shapes.get_run_info(failed[0]).config.status == "failed"  # the attempt is on record


def test_too_large_upload_is_split_into_smaller_tasks(shapes, cvat_double_env):
    largest = max(os.path.getsize(path) for path in shapes.limit(8).values("filepath"))
    cvat_double_env.max_upload_bytes = int(2.5 * largest) + 2_000  # two images (and the form's overhead) per request
    sent = send(shapes.limit(8))
    assert sent["samples"] == 8 and sent["task_size"] <= 2 and len(cvat_double_env.tasks) == sent["tasks"] >= 4
    assert sum(task["size"] for task in cvat_double_env.tasks.values()) == 8


def test_too_large_even_one_image_is_a_clear_error(shapes, cvat_double_env):
    cvat_double_env.max_upload_bytes = 100
    before = snapshot(shapes)
    with pytest.raises(ExecutionError, match="413.*smaller task size"):
        send(shapes.limit(2))
    assert_nothing_left(shapes, before, cvat_double_env)


def test_task_deleted_in_cvat_before_load(shapes, cvat_env):
    sent = send(shapes.limit(4), task_size=2)
    before = shapes.limit(4).values("ground_truth")
    cvat_env.delete_task(sent["task_ids"][0])
    loaded = load(shapes, review=sent["run_key"])
    assert loaded["missing_task_ids"] == [sent["task_ids"][0]] and loaded["samples"] == 2
    assert shapes.limit(4).values("ground_truth") == before  # nothing changed, nothing lost


def test_all_tasks_deleted_is_a_clear_error(shapes, cvat_env):
    sent = send(shapes.limit(2))
    cvat_env.delete_task(sent["task_ids"][0])
    before = snapshot(shapes)
    with pytest.raises(ExecutionError, match="gone from CVAT"):
        load(shapes, review=sent["run_key"])
    assert snapshot(shapes) == before


def test_another_users_task_is_forbidden(shapes, cvat_env, monkeypatch):
    sent = send(shapes.limit(2))
    monkeypatch.setenv("FIFTYONE_CVAT_USERNAME", "user2")
    monkeypatch.setenv("FIFTYONE_CVAT_PASSWORD", cvat_env.user("user2").password)
    before = snapshot(shapes)
    with pytest.raises(ExecutionError, match="403.*ask the task's owner"):
        load(shapes, review=sent["run_key"])
    assert snapshot(shapes) == before


def test_tls_is_verified_unless_turned_off(shapes, cvat_tls_server, monkeypatch):
    configure(cvat_tls_server, monkeypatch)
    with pytest.raises(ExecutionError, match="certificate of https://127.0.0.1:.* could not be verified"):
        send(shapes.limit(1))
    assert cvat_tls_server.tasks == {}
    sent = send(shapes.limit(1), verify_tls=False)
    assert status(shapes, review=sent["run_key"], verify_tls=False)["jobs_total"] == 1
    with pytest.raises(ExecutionError, match="certificate of https://127.0.0.1:.* could not be verified"):
        status(shapes, review=sent["run_key"])
    assert load(shapes, review=sent["run_key"], verify_tls=False, cleanup=True)["deleted_task_ids"] == sent["task_ids"]


def test_tls_is_verified_against_requests_ca_bundle(shapes, cvat_tls_server, monkeypatch):
    configure(cvat_tls_server, monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cvat_tls_server.ca_file)
    sent = send(shapes.limit(1))
    assert status(shapes, review=sent["run_key"])["jobs_total"] == 1
    assert load(shapes, review=sent["run_key"], cleanup=True)["deleted_task_ids"] == sent["task_ids"]


def test_status_with_a_wrong_password_names_the_refused_login(shapes, cvat_env, monkeypatch):
    sent = send(shapes.limit(1))
    monkeypatch.setenv("FIFTYONE_CVAT_PASSWORD", "not-the-password")
    with pytest.raises(ExecutionError, match="refused the login of 'admin'") as refused:
        status(shapes, review=sent["run_key"])
    assert "Bad Request" not in str(refused.value) and "not-the-password" not in str(refused.value)


def test_status_lists_deleted_tasks_and_counts_accepted_jobs(shapes, cvat_env):
    sent = send(shapes.limit(13), task_size=12, segment_size=1)  # 12 jobs (two pages of CVAT's job list) + 1
    kept, deleted = sent["task_ids"]
    cvat_env.delete_task(deleted)
    first_job = min(cvat_env.jobs)
    Annotator(cvat_env.url, "admin", cvat_env.owner.password).set_job(first_job, state="completed", stage="acceptance")
    result = status(shapes, review=sent["run_key"])
    assert (result["jobs_total"], result["jobs_done"], result["missing_task_ids"]) == (12, 1, [deleted])
    assert result["tasks"][1] == {"id": deleted, "missing": True, "name": None, "status": "deleted in CVAT", "jobs": []}
    assert (result["tasks"][0]["size"], result["tasks"][0]["status"]) == (12, "annotation")
    done = next(job for job in result["jobs"] if job["id"] == first_job)
    assert done == {
        "task_id": kept,
        "id": first_job,
        "state": "completed",
        "stage": "acceptance",
        "assignee": None,
        "frames": 1,
        "done": True,
    }


def test_double_load_is_refused_until_accepted_or_reverted(shapes, cvat_env):
    sent = send(shapes.limit(2))
    load(shapes, review=sent["run_key"])
    with pytest.raises(ExecutionError, match="already loaded: accept or revert"):
        load(shapes, review=sent["run_key"])


SEND_HALF = """
import fiftyone as fo
import os

import fiftyone.operators as foo
dataset = fo.load_dataset({name!r})
half = dataset.skip({skip}).limit(20)
write_file({ready!r})
wait_file({go!r})
result = foo.get_operator("@labelloop/mlops/send_to_cvat")(half, task_size=10)
write_file({done!r}, result["run_key"])
"""


def hold_first_task_creations(double, monkeypatch):
    """Holds the first two task creations on ``double`` until both have arrived; returns the names of the tasks whose
    creations met there. Two sends in step meet at their first task; when one cannot get there before the other has
    ended, the first waits in vain until the deadline and none met."""
    meeting, lock = threading.Barrier(2, timeout=processes.DEADLINE / 2), threading.Lock()
    arrived, met, handle = [], [], double.handle

    def held(method, target, headers, body):
        if method == "POST" and urllib.parse.urlsplit(target).path.rstrip("/") == "/api/tasks":
            with lock:
                arrived.append(json.loads(body)["name"])
                name = arrived[-1] if len(arrived) <= 2 else None
            if name is not None:
                try:
                    meeting.wait()
                    met.append(name)
                except threading.BrokenBarrierError:
                    pass  # answered anyway, so that the children end: the test fails on ``met``
        return handle(method, target, headers, body)

    monkeypatch.setattr(double, "handle", held)
    return met


def test_two_users_send_disjoint_samples_at_the_same_time(shapes, cvat_double_env, tmp_path, monkeypatch):
    met = hold_first_task_creations(cvat_double_env, monkeypatch)
    go = str(tmp_path / "go")
    children = []
    for i, user in enumerate(cvat_double_env.users):
        ready, done = str(tmp_path / f"ready{i}"), str(tmp_path / f"done{i}")
        code = SEND_HALF.format(name=shapes.name, skip=20 * i, ready=ready, go=go, done=done)
        child = processes.spawn(code, FIFTYONE_CVAT_USERNAME=user.username, FIFTYONE_CVAT_PASSWORD=user.password)
        children.append((child, ready, done))
    for child, ready, _ in children:
        processes.read_when_written(ready, child)
    open(go, "w").close()
    keys = [processes.read_when_written(done, child) for child, _, done in children]
    for child, _, _ in children:
        processes.finish(child)
    # each send's first task was created while the other send was creating its own: the sends overlapped
    assert sorted(key for name in met for key in keys if key in name) == sorted(keys)
    assert len(cvat_double_env.tasks) == 4 and sum(t["size"] for t in cvat_double_env.tasks.values()) == 40
    shapes.reload()
    for key in keys:
        assert shapes.exists(f"ground_truth_{key}").count() == 20  # each review holds its own samples
    person = Annotator(cvat_double_env.url, "admin", cvat_double_env.owner.password)
    frames = [name for task_id in cvat_double_env.tasks for name in person.frames(task_id)]
    assert len(set(frames)) == 40


def test_mistakenness_while_another_user_sends_to_cvat(shapes, cvat_env, tmp_path):
    data.add_simulated_predictions(shapes)
    go, ready, done = (str(tmp_path / name) for name in ("go", "ready", "done"))
    child = processes.spawn(SEND_HALF.format(name=shapes.name, skip=0, ready=ready, go=go, done=done))
    processes.read_when_written(ready, child)
    open(go, "w").close()
    scored = foo.get_operator(f"{PLUGIN}/compute_mistakenness")(shapes, "candidate")
    key = processes.read_when_written(done, child)
    processes.finish(child)
    assert scored["samples"] == len(shapes)
    shapes.reload()
    flagged = shapes.count("ground_truth.detections.mistakenness")
    load(shapes, review=key)
    shapes.reload()
    assert shapes.count("ground_truth.detections.mistakenness") == flagged  # the scores survive the review's merge
    assert shapes.exists(f"ground_truth_before_{key}").count() == 20
