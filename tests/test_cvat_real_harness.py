"""The real-server side of the CVAT fixtures: a test leaves nothing on the shared server, even when it fails."""

import pytest

from testing import cvat_real
from testing.cvat_annotator import Annotator

pytestmark = [
    pytest.mark.cvat_real,
    pytest.mark.skipif(not cvat_real.configured(), reason="no real CVAT: set LABELLOOP_CVAT_URL/USERNAME/PASSWORD"),
]


def test_cleanup_deletes_only_what_was_created_since():
    before = cvat_real.RealCVAT()
    owner = Annotator(before.url, before.owner.username, before.owner.password)
    kept = owner.call("POST", "/projects", json={"name": "created-before", "labels": [{"name": "a"}]})
    server = cvat_real.RealCVAT()  # what a test's fixture makes
    project = owner.call("POST", "/projects", json={"name": "left-by-a-failed-test", "labels": [{"name": "a"}]})
    task = owner.call("POST", "/tasks", json={"name": "left-by-a-failed-test", "project_id": project["id"]})
    loose = owner.call("POST", "/tasks", json={"name": "no-project", "labels": [{"name": "a"}]})
    assert sorted(server.tasks) == sorted([task["id"], loose["id"]]) and list(server.projects) == [project["id"]]
    server.cleanup()
    assert server.tasks == {} and server.projects == {}
    assert list(before.projects) == [kept["id"]]
    before.cleanup()
    assert before.projects == {}
