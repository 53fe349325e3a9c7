"""The review as CVAT's people do it, on the double and on a real CVAT: a second user edits in a browser session
(cookies, CSRF token and, over https, a Referer), the task's assignee moves jobs through their stages (CVAT lets no
one else), and the corrections come back over https with the certificate checked against the team's CA."""

import pytest
import requests

import fiftyone.operators as foo

from harness.cvat_fixtures import configure
from testing.cvat_annotator import Annotator

PLUGIN = "@labelloop/mlops"


def run(name, samples, **options):
    return foo.get_operator(f"{PLUGIN}/{name}")(samples, **options)


def person(server, username="user2", verify=True):
    return Annotator(server.url, username, server.user(username).password, verify)


def test_a_job_assignee_edits_but_only_the_task_assignee_moves_stages(shapes, cvat_env):
    sent = run("send_to_cvat", shapes.limit(2), job_assignees=["user2"])
    (job,) = person(cvat_env).jobs(sent["task_ids"][0])
    worker = person(cvat_env)
    worker.set_job(job["id"], state="completed")  # update:state is the job assignee's
    with pytest.raises(requests.HTTPError) as refused:
        worker.set_job(job["id"], stage="acceptance")  # update:stage is the task owner's / assignee's
    assert refused.value.response.status_code == 403
    with pytest.raises(requests.HTTPError) as hidden:
        worker.task(sent["task_ids"][0])  # a job's assignee sees the job, not its task
    assert hidden.value.response.status_code == 403
    run("load_from_cvat", shapes, review=sent["run_key"], cleanup=True)


def test_https_review_by_a_second_person_with_the_teams_ca(shapes, cvat_tls_server, monkeypatch):
    configure(cvat_tls_server, monkeypatch)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", cvat_tls_server.ca_file)
    view = shapes.limit(3)
    sent = run("send_to_cvat", view, task_assignee="user2", job_assignees=["user2"])
    task_id = sent["task_ids"][0]
    reviewer = person(cvat_tls_server, verify=cvat_tls_server.ca_file)  # session cookie + CSRF token + Referer
    shape = reviewer.annotations(task_id)["shapes"][0]
    reviewer.move_shape(task_id, shape, 4, 0)
    reviewer.add_box(task_id, 0, "circle", [2, 2, 20, 20])
    for job in reviewer.jobs(task_id):
        reviewer.set_job(job["id"], stage="acceptance", state="completed")
    progress = run("cvat_status", shapes, review=sent["run_key"])
    assert progress["jobs_done"] == progress["jobs_total"] == 1
    loaded = run("load_from_cvat", shapes, review=sent["run_key"], cleanup=True)
    assert (loaded["edited"], loaded["drawn"], loaded["deleted"]) == (1, 1, 0)
    assert cvat_tls_server.tasks == {}


def test_a_browser_session_write_over_https_needs_a_referer(cvat_tls_server):
    """Django's CSRF check over https: a session's write without a Referer is refused (the double as CVAT)."""
    session, api, ca = requests.Session(), f"{cvat_tls_server.url}/api", cvat_tls_server.ca_file
    owner = cvat_tls_server.owner
    session.post(f"{api}/auth/login", json={"username": owner.username, "password": owner.password}, verify=ca)
    headers = {"X-CSRFToken": session.cookies["csrftoken"]}
    answer = session.post(f"{api}/projects", json={"name": "no-referer"}, headers=headers, verify=ca)
    assert (answer.status_code, answer.json()) == (
        403,
        {"detail": "CSRF Failed: Referer checking failed - no Referer."},
    )
    assert cvat_tls_server.projects == {}
