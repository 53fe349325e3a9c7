"""The CVAT double against real CVAT 2.23.1: recorded exchanges replayed, then the real clients end to end.

Replay rules (the recordings redact secrets and carry the real server's ids):
* ids the double handed out replace the recorded ones, learned by walking each recorded response beside the
  double's (``id`` of tasks/jobs/labels/specs/shapes/tags/tracks and of a track's keyframes, numbered apart,
  ``task_id``, ``label_id``, ``spec_id``, users, rq ids);
* each request is sent with the recorded auth scheme (session cookie, ``X-CSRFToken``, ``Token``, ``Bearer``,
  ``Basic``) and the credentials of the session it belongs to: the one logged in during the same phase of the
  same client, else that client's first login (one documented exception, ``SESSION_OF``);
* where the recorder deliberately sent wrong secrets (a login answered 400, any 401) wrong ones are sent too —
  the revoked login key when the user has logged out since, otherwise a bogus one;
* uploaded files are synthesised PNGs of the recorded sizes and names (cvat-sdk's redacted local paths become
  the names of its ``upload_file_order``), videos as testing/record_cvat_shapes.py makes them, with the frame count
  the task's recorded ``data/meta`` has.
Each answer must have the recorded status, headers that matter (Content-Type, Location, Allow, WWW-Authenticate,
the names of the cookies set) and body shape: same JSON types (null matching anything), the same keys recursively,
list elements pairwise; values and ``<... trimmed>`` markers are ignored.
"""

import base64
import io
import json
import os
import re
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from PIL import Image

from testing.cvat_annotator import Annotator
from testing.cvat_double import CVATDouble, User
from testing.record_cvat_shapes import video

# The exchanges recorded with a real CVAT 2.23.1 (a copy of the team's shared recordings, kept with the tests).
CONTRACT = Path(os.environ.get("CVAT_CONTRACT_DIR", Path(__file__).parent / "data" / "cvat-contract"))
FOLDERS = [
    "bad_login",
    "concurrency",
    "errors",
    "fo_classifications",
    "fo_detections_roundtrip",
    "fo_instances",
    "fo_keypoints",
    "fo_polygons",
    "fo_project",
    "fo_segmentation",
    "fo_video",
    "ll_skeletons",
    "sdk_status/sdk-2.23.1",
    "sdk_status/sdk-2.80.0",
]
# (folder, double) replays that differ from the recording until issue 14 teaches the double the shape; what differs is
# what a replay against the double found (the real server answers these folders as recorded)
DOUBLE_DIFFERS = {
    "fo_video": "issue 14: the double takes the video upload (202) but makes no frames or job of it (9 of 26 exchanges "
    "differ): GET /api/jobs?task_id= stays empty; GET /api/tasks/{id}/data/meta, GET /api/jobs/{id}/annotations and "
    "the annotator's PATCH /api/jobs/{id}/annotations/ (a track update, a shape create) answer 404; "
    "GET /api/tasks/{id} lacks size, data, data_chunk_size, data_compressed_chunk_type, data_original_chunk_type, "
    "image_quality",
}
# concurrency/: both processes annotate, the annotator edits both tasks, both load (as in its README)
CONCURRENCY = [
    ("procA", "annotate"),
    ("procB", "annotate"),
    ("annotator", "annotator"),
    ("procA", "load"),
    ("procB", "load"),
]
# sdk-2.80.0's logout (042) came from the client of the second login (031): its first session still works in 044
SESSION_OF = {("sdk_status/sdk-2.80.0", 42): 31}
KEY_KINDS = {
    "id": None,
    "task_id": "task",
    "job_id": "job",
    "project_id": "project",
    "label_id": "label",
    "parent_id": "label",
    "spec_id": "spec",
    "assignee": "user",
    "assignee_id": "user",
    "owner": "user",
}
NESTED_KINDS = {"shapes": "shape", "elements": "shape", "tags": "tag", "tracks": "track", "attributes": "spec"}
PATH_KINDS = {"tasks": "task", "jobs": "job", "projects": "project", "labels": "label", "users": "user"}
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".webm")
COMPARED_HEADERS = ("Content-Type", "WWW-Authenticate")  # and Allow on a 405 (the recorder kept it only there)


@dataclass
class Session:
    """One logged-in client of the recording."""

    user: User
    key: str
    sessionid: str
    csrftoken: str
    revoked: bool = False


def _exchanges(folder):
    """``(client, exchange)`` in replay order."""
    root = CONTRACT / folder
    if folder != "concurrency":
        return [("client", json.loads(p.read_text())) for p in sorted(root.glob("[0-9]*.json"))]
    recorded = {
        name: [json.loads(p.read_text()) for p in sorted((root / name).glob("[0-9]*.json"))] for name, _ in CONCURRENCY
    }
    return [(name, e) for name, phase in CONCURRENCY for e in recorded[name] if e["phase"] == phase]


def _png(size):
    buffer = io.BytesIO()
    Image.new("RGB", (96, 72), "gray").save(buffer, "PNG")
    return buffer.getvalue().ljust(size, b"\0")


def _nested_kind(key, kind):
    """The kind of the ids inside ``key`` of an object of ``kind``: a track's keyframes (``shapes``) are numbered apart
    from shapes, a skeleton track's ``elements`` are tracks."""
    if kind == "track" and key in ("shapes", "elements"):
        return "tracked_shape" if key == "shapes" else "track"
    return NESTED_KINDS.get(key, "user" if key in KEY_KINDS else kind)


def _video(frames):
    """A small MPEG-4 video of ``frames`` frames, as testing/record_cvat_shapes.py uploads."""
    with tempfile.TemporaryDirectory() as folder:
        return Path(video(Path(folder) / "clip.mp4", frames)).read_bytes()


def _kind(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    return {int: "number", float: "number", str: "string", list: "list", dict: "object"}[type(value)]


def _is_marker(value):
    return isinstance(value, str) and value.startswith("<... ") and value.endswith("trimmed>")


def shape_diff(recorded, served, where="body"):
    """How ``served`` differs in shape from ``recorded`` (types, keys, list elements pairwise)."""
    kinds = _kind(recorded), _kind(served)
    if None in kinds:
        return []
    if kinds[0] != kinds[1]:
        return [f"{where}: {kinds[0]} recorded, {kinds[1]} served"]
    if isinstance(recorded, dict):
        problems = [f"{where}: missing key {k!r}" for k in recorded.keys() - served.keys()]
        problems += [f"{where}: unexpected key {k!r}" for k in served.keys() - recorded.keys()]
        for key in recorded.keys() & served.keys():
            problems += shape_diff(recorded[key], served[key], f"{where}.{key}")
        return problems
    if isinstance(recorded, list):
        pairs = zip([r for r in recorded if not _is_marker(r)], served, strict=False)
        return [p for i, (r, s) in enumerate(pairs) for p in shape_diff(r, s, f"{where}[{i}]")]
    return []


def _behind(exchange, response):
    """Whether ``response`` to a GET is a not-yet answer where the recording has the final one (real CVAT creates
    jobs and runs requests in background workers: how many polls it takes differs from run to run)."""
    body = exchange["response"]["body"]
    if exchange["request"]["method"] != "GET" or response.status_code != 200 or not body or body["kind"] != "json":
        return False
    recorded, served = body["json"], response.json()
    if not (isinstance(recorded, dict) and isinstance(served, dict)):
        return False
    unfinished = {"queued", "started"}
    return (recorded.get("count") or 0) > (served.get("count") or 0) or (
        served.get("status") in unfinished and recorded.get("status") not in unfinished
    )


class Replay:
    """Replays one recorded folder against a double, learning its ids as it goes."""

    def __init__(self, double, folder):
        self.double, self.folder = double, folder
        self.ids = defaultdict(dict)
        self.logins = {}  # (client, seq) → Session
        self.first_login = {}  # client → Session
        self.phase_login = {}  # (client, phase) → the phase's latest Session
        self.exchanges = _exchanges(folder)

    # ----- ids ---------------------------------------------------------------------------------------------------

    def _map(self, kind, value):
        return self.ids[kind].get(value, value) if isinstance(value, int) and not isinstance(value, bool) else value

    def _substitute(self, value, kind=None):
        """A recorded request body with the double's ids."""
        if isinstance(value, list):
            return [self._substitute(v, kind) for v in value]
        if not isinstance(value, dict):
            return value
        out = {}
        for key, item in value.items():
            if key in KEY_KINDS and not isinstance(item, dict | list):
                out[key] = self._map(KEY_KINDS[key] or kind, item)
            else:
                out[key] = self._substitute(item, _nested_kind(key, kind))
        return out

    def _learn(self, recorded, served, kind):
        if isinstance(recorded, list) and isinstance(served, list):
            for r, s in zip([r for r in recorded if not _is_marker(r)], served, strict=False):
                self._learn(r, s, kind)
        elif isinstance(recorded, dict) and isinstance(served, dict):
            for key in recorded.keys() & served.keys():
                r, s = recorded[key], served[key]
                if key in KEY_KINDS and _kind(r) == _kind(s) == "number":
                    self.ids[KEY_KINDS[key] or kind].setdefault(r, s)
                else:
                    self._learn(r, s, _nested_kind(key, kind))

    def _path(self, path):
        path = re.sub(r"/api/(tasks|jobs|projects|users)/(\d+)", lambda m: self._path_id(m[1], m[2]), path)
        return re.sub(r"task-(\d+)", lambda m: f"task-{self._map('task', int(m[1]))}", path)

    def _path_id(self, collection, value):
        return f"/api/{collection}/{self._map(PATH_KINDS[collection], int(value))}"

    def _query(self, query):
        kinds = {"task_id": "task", "job_id": "job", "project_id": "project"}
        return [(k, str(self._map(kinds[k], int(v))) if k in kinds and v.isdigit() else v) for k, v in query]

    # ----- credentials -------------------------------------------------------------------------------------------

    def _session(self, client, exchange):
        override = SESSION_OF.get((self.folder, exchange["seq"]))
        if override:
            return self.logins[(client, override)]
        return self.phase_login.get((client, exchange["phase"])) or self.first_login[client]

    def _auth_headers(self, client, exchange):
        recorded = exchange["request"]["headers"]
        headers = {"Referer": f"{self.double.url}/api/auth/login"} if "Referer" in recorded else {}
        if not {"Authorization", "Cookie", "X-CSRFToken"} & recorded.keys():
            return headers
        wrong = exchange["response"]["status"] == 401
        session = self._session(client, exchange)
        if "Authorization" in recorded:
            headers["Authorization"] = self._authorization(recorded["Authorization"].split()[0], session, wrong)
        if "Cookie" in recorded:
            if wrong and "Authorization" not in recorded:
                headers["Cookie"] = f"csrftoken={session.csrftoken}"  # no session (a bogus one gets it deleted)
            else:  # all the login's cookies, as requests.Session sends them (without ``sessionfresh`` real CVAT
                # refreshes the session and sets its cookies again)
                headers["Cookie"] = f"csrftoken={session.csrftoken}; sessionfresh=1; sessionid={session.sessionid}"
        if "X-CSRFToken" in recorded:
            headers["X-CSRFToken"] = session.csrftoken
        return headers

    def _authorization(self, scheme, session, wrong):
        if scheme == "Basic":
            password = "wrong-password" if wrong else session.user.password
            return "Basic " + base64.b64encode(f"{session.user.username}:{password}".encode()).decode()
        key = session.key if not wrong or session.revoked else "0" * 40
        return f"{scheme} {key}"

    # ----- requests ----------------------------------------------------------------------------------------------

    def _body(self, exchange):
        """``requests`` keyword arguments for the recorded body."""
        body, status = exchange["request"]["body"], exchange["response"]["status"]
        if body is None:
            return {}
        if body["kind"] == "text":
            return {"data": body["text"].encode()}
        if body["kind"] == "json":
            data = self._substitute(body["json"])
            if exchange["request"]["path"].startswith("/api/auth/login") and "password" in data:
                user = {u.username: u for u in self.double.users}.get(data["username"])
                data["password"] = user.password if status == 200 else "wrong-password"
            return {"data": json.dumps(data).encode()}
        fields = {p["name"]: p["value"] for p in body["parts"] if "value" in p}
        files = [p for p in body["parts"] if "value" not in p]
        names = self._upload_order(exchange) if any(p["filename"] == "<local path>" for p in files) else None
        return {
            "data": fields,
            "files": [
                (p["name"], (f"/tmp/replay/{names[i]}" if names else p["filename"], self._media(p, exchange)))
                for i, p in enumerate(files)
            ],
        }

    def _media(self, part, exchange):
        """An uploaded file: a video with the task's recorded frame count for a video's name, else a PNG of the
        recorded size."""
        if Path(part["filename"]).suffix.lower() not in VIDEO_SUFFIXES:
            return _png(part["size"])
        later = (e for _, e in self.exchanges if e["seq"] > exchange["seq"] and e["request"]["path"].endswith("/meta"))
        return _video(next(e["response"]["body"]["json"]["size"] for e in later))

    def _upload_order(self, exchange):
        later = (e for _, e in self.exchanges if e["seq"] > exchange["seq"] and e["request"]["body"])
        return next(
            e["request"]["body"]["json"]["upload_file_order"]
            for e in later
            if "Upload-Finish" in e["request"]["headers"]
        )

    def send_settled(self, client, exchange, timeout=60):
        """``send``, repeated while the server's background work lags the recording: a poll (a GET of a job list or
        of a request's status) recorded with its final answer is sent again until the served answer is final too."""
        deadline = time.monotonic() + timeout
        response = self.send(client, exchange)
        while _behind(exchange, response) and time.monotonic() < deadline:
            time.sleep(0.2)  # a polling interval, as the clients' own: the condition is the served answer
            response = self.send(client, exchange)
        return response

    def send(self, client, exchange):
        request = exchange["request"]
        headers = {
            k: v for k, v in request["headers"].items() if k in ("Accept", "Content-Type") or k.startswith("Upload-")
        }
        if request["body"] and request["body"]["kind"] == "multipart":
            del headers["Content-Type"]
        headers |= self._auth_headers(client, exchange)
        return requests.request(
            request["method"],
            self.double.url + self._path(request["path"]),
            params=self._query(request["query"]),
            headers=headers,
            allow_redirects=False,
            **self._body(exchange),
        )

    def after(self, client, exchange, response):
        """Learns ids and sessions from the answer."""
        path = exchange["request"]["path"]
        if response.status_code == 200 and path.startswith("/api/auth/login"):
            user = self.double.user(exchange["request"]["body"]["json"]["username"])
            session = Session(
                user, response.json()["key"], response.cookies["sessionid"], response.cookies["csrftoken"]
            )
            self.logins[(client, exchange["seq"])] = self.phase_login[(client, exchange["phase"])] = session
            self.first_login.setdefault(client, session)
        if response.status_code == 200 and path.startswith("/api/auth/logout"):
            user = self._session(client, exchange).user
            for session in self.logins.values():
                session.revoked |= session.user == user
        body = exchange["response"]["body"]
        if body and body["kind"] == "json" and "json" in response.headers.get("Content-Type", ""):
            match = re.match(r"/api/(\w+)", path)
            kind = "annotation" if "/annotations" in path else PATH_KINDS.get(match[1] if match else "")
            self._learn(body["json"], response.json(), kind)

    # ----- checks ------------------------------------------------------------------------------------------------

    def problems(self, exchange, response):
        """What differs between the recorded answer and the double's."""
        recorded = exchange["response"]
        problems = []
        if response.status_code != recorded["status"]:
            problems.append(f"status {response.status_code}, recorded {recorded['status']}")
        for name in COMPARED_HEADERS + (("Allow",) if recorded["status"] == 405 else ()):
            if recorded["headers"].get(name) != response.headers.get(name):
                problems.append(f"{name} {response.headers.get(name)!r}, recorded {recorded['headers'].get(name)!r}")
        if ("Location" in recorded["headers"]) != ("Location" in response.headers):
            problems.append("Location header presence differs")
        cookies = sorted(c.split("=")[0] for c in response.raw.headers.getlist("Set-Cookie"))
        recorded_cookies = re.findall(r"\w+", recorded["headers"].get("Set-Cookie", "").partition(":")[2])
        if cookies != sorted(recorded_cookies):
            problems.append(f"cookies set {cookies}, recorded {sorted(recorded_cookies)}")
        body = recorded["body"]
        if body is None and response.content:
            problems.append(f"body {response.content[:80]!r}, recorded none")
        elif (
            body
            and body["kind"] == "json"
            and response.headers.get("Content-Type") == recorded["headers"].get("Content-Type")
        ):
            problems += shape_diff(body["json"], response.json())
        return problems


@pytest.fixture(scope="module")
def contract():
    if not CONTRACT.is_dir():
        pytest.skip(f"no recorded CVAT exchanges at {CONTRACT} (set CVAT_CONTRACT_DIR)")
    return CONTRACT


@pytest.mark.parametrize("folder", FOLDERS)
def test_double_answers_like_recorded_cvat(contract, cvat_server, folder):
    """Every recorded exchange of ``folder``, replayed in order, gets the recorded status, headers and body shape."""
    if isinstance(cvat_server, CVATDouble) and folder in DOUBLE_DIFFERS:
        pytest.skip(DOUBLE_DIFFERS[folder])
    replay = Replay(cvat_server, folder)
    report = []
    for client, exchange in replay.exchanges:
        response = replay.send_settled(client, exchange)
        replay.after(client, exchange, response)
        request = exchange["request"]
        label = f"{client} {exchange['seq']:03d} {exchange['phase']} {request['method']} {request['path']}"
        report += [f"{label}: {p}" for p in replay.problems(exchange, response)]
    assert not report, "\n".join(report)


# ----- the real clients against the double ---------------------------------------------------------------------------


def _credentials(double):
    return {"url": double.url, "username": double.owner.username, "password": double.owner.password}


def _annotate(samples, double, anno_key, **kwargs):
    """FiftyOne's CVAT backend, called as the plugin calls it (``kwargs`` may override the owner's credentials)."""
    return samples.annotate(anno_key, backend="cvat", **(_credentials(double) | {"launch_editor": False} | kwargs))


def _annotate_boxes(samples, double, anno_key, **kwargs):
    return _annotate(samples, double, anno_key, label_field="ground_truth", label_type="detections", **kwargs)


def _frame(annotator, task_id, sample):
    return annotator.frames(task_id).index(os.path.basename(sample.filepath))


def test_fiftyone_detections_roundtrip(shapes, cvat_server):
    """Boxes moved, deleted and drawn by an annotator arrive in FiftyOne; cleanup deletes the task."""
    view = shapes.limit(6)
    task_id = _annotate_boxes(view, cvat_server, "boxes").task_ids[0]
    first, second, third = view.head(3)
    moved, deleted = first.ground_truth.detections[0], second.ground_truth.detections[0]
    annotator = Annotator(cvat_server.url, "admin", cvat_server.owner.password)
    annotator.move_shape(task_id, annotator.find(task_id, "shapes", moved.id), 16, 8)
    annotator.delete_shape(task_id, annotator.find(task_id, "shapes", deleted.id))
    annotator.add_box(task_id, _frame(annotator, task_id, third), "circle", [8, 16, 40, 48])

    shapes.load_annotations("boxes", cleanup=True, **_credentials(cvat_server))

    boxes = {d.id: d for s in shapes.select([first.id, second.id, third.id]) for d in s.ground_truth.detections}
    assert boxes[moved.id].bounding_box[:2] == pytest.approx(
        [moved.bounding_box[0] + 0.125, moved.bounding_box[1] + 0.0625], abs=1 / 128
    )
    assert deleted.id not in boxes
    drawn = [
        d for d in shapes[third.id].ground_truth.detections if d.id not in {x.id for x in third.ground_truth.detections}
    ]
    assert [(d.label, d.bounding_box) for d in drawn] == [("circle", pytest.approx([1 / 16, 1 / 8, 1 / 4, 1 / 4]))]
    assert cvat_server.tasks == {}


def test_fiftyone_classification_roundtrip(digits, cvat_server):
    """A tag relabelled by the annotator keeps its FiftyOne label id; a deleted tag empties the field."""
    view = digits.limit(4)
    classes = [str(i) for i in range(10)]
    results = _annotate(
        view, cvat_server, "tags", label_field="ground_truth", label_type="classification", classes=classes
    )
    task_id = results.task_ids[0]
    relabelled, deleted, kept = view.head(3)
    new_label = str((int(relabelled.ground_truth.label) + 1) % 10)
    annotator = Annotator(cvat_server.url, "admin", cvat_server.owner.password)
    annotator.relabel_tag(task_id, annotator.find(task_id, "tags", relabelled.ground_truth.id), new_label)
    annotator.delete_tag(task_id, annotator.find(task_id, "tags", deleted.ground_truth.id))

    digits.load_annotations("tags", cleanup=True, **_credentials(cvat_server))

    after = {s.id: s.ground_truth for s in digits.select([relabelled.id, deleted.id, kept.id])}
    assert (after[relabelled.id].id, after[relabelled.id].label) == (relabelled.ground_truth.id, new_label)
    assert after[deleted.id] is None
    assert after[kept.id].label == kept.ground_truth.label
    assert cvat_server.tasks == {}


def test_fiftyone_project_tasks_and_assignees(shapes, cvat_server):
    """project_name/task_size/segment_size/task_assignee/job_assignees reach CVAT; cleanup leaves the project."""
    results = _annotate_boxes(
        shapes.limit(4),
        cvat_server,
        "review",
        project_name="flagged-review",
        task_size=2,
        segment_size=1,
        task_assignee="user2",
        job_assignees=["user2", "admin"],
    )
    (project,) = cvat_server.projects.values()
    tasks, jobs = cvat_server.tasks, cvat_server.jobs
    assert (project["name"], sorted(tasks)) == ("flagged-review", sorted(results.task_ids))
    assert {t["project_id"] for t in tasks.values()} == {project["id"]}
    assert [t["assignee"]["username"] for t in tasks.values()] == ["user2", "user2"]
    for task_id in tasks:
        assert sorted(j["assignee"]["username"] for j in jobs.values() if j["task_id"] == task_id) == ["admin", "user2"]

    reviewer = Annotator(cvat_server.url, "user2", cvat_server.user("user2").password)  # the task assignee
    for job in reviewer.jobs(results.task_ids[0]):
        reviewer.set_job(job["id"], stage="validation", state="in progress")
    status = results.get_status()["ground_truth"]
    assert status[results.task_ids[0]]["status"] == "validation"
    assert status[results.task_ids[1]]["status"] == "annotation"

    shapes.load_annotations("review", cleanup=True, **_credentials(cvat_server))
    assert cvat_server.tasks == {}
    assert list(cvat_server.projects) == [project["id"]]  # FiftyOne 1.22.1 never deletes the project (as recorded)


def _pngs(folder, count):
    paths = [folder / f"img{i}.png" for i in range(count)]
    for path in paths:
        path.write_bytes(_png(0))
    return [str(path) for path in paths]


def test_cvat_sdk_reads_task_and_job_status(cvat_server, tmp_path):
    """cvat-sdk 2.80 needs check_server_version=False against 2.23.1; then status fields follow job stage/state."""
    from cvat_sdk import Client, Config
    from cvat_sdk.core.proxies.tasks import ResourceType

    with pytest.raises(TypeError, match="logo_url"):
        Client(cvat_server.url)
    client = Client(cvat_server.url, config=Config(verify_ssl=False), check_server_version=False)
    client.login(("admin", cvat_server.owner.password))
    spec = {"name": "sdk-status", "labels": [{"name": "cat"}, {"name": "dog"}], "segment_size": 2}
    task = client.tasks.create_from_data(spec, resource_type=ResourceType.LOCAL, resources=_pngs(tmp_path, 4))
    first, second = sorted(task.get_jobs(), key=lambda j: j.start_frame)
    client.jobs.retrieve(first.id).update({"state": "completed", "stage": "acceptance"})
    user2 = next(user.id for user in client.users.list() if user.username == "user2")
    client.jobs.retrieve(second.id).update({"assignee": user2})

    task = client.tasks.retrieve(task.id)
    assert (task.size, task.status) == (4, "annotation")
    assert (task.jobs.count, task.jobs.completed, task.jobs.validation) == (2, 1, 0)
    jobs = {job.id: job for job in task.get_jobs()}
    assert (jobs[first.id].status, jobs[first.id].stage) == ("completed", "acceptance")
    assert jobs[second.id].assignee.username == "user2"
    client.jobs.retrieve(second.id).update({"stage": "validation"})
    assert client.tasks.retrieve(task.id).status == "validation"


# ----- how the clients behave when things go wrong -------------------------------------------------------------------


def test_fiftyone_wrong_password_is_a_400_after_registering_the_run(shapes, cvat_server):
    """The login's 400 surfaces as requests.HTTPError; the annotation run is already registered by then."""
    with pytest.raises(requests.HTTPError) as error:
        _annotate_boxes(shapes.limit(2), cvat_server, "bad", password="not-the-password")
    assert error.value.response.status_code == 400
    assert error.value.response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert cvat_server.tasks == {}
    assert shapes.list_annotation_runs() == ["bad"]  # FiftyOne registers the run before it logs in


@pytest.mark.parametrize("fault", ["server error", "too large"])
def test_fiftyone_failed_upload_leaves_an_empty_task(shapes, cvat_double, fault):
    """An injected 500 or a 413 on the data upload: a bare Exception, and the created task is left behind."""
    if fault == "server error":
        cvat_double.fail("POST", r"^/api/tasks/\d+/data$", 500)
    else:
        cvat_double.max_upload_bytes = 1000
    with pytest.raises(Exception, match="500 error" if fault == "server error" else "413 error"):
        _annotate_boxes(shapes.limit(3), cvat_double, "broken")
    (task,) = cvat_double.tasks.values()
    assert "size" not in task  # created, no data: FiftyOne does not clean up after a failed upload
    assert cvat_double.requests_log[-1].method == "POST" and cvat_double.requests_log[-1].path.endswith("/data")


def test_fiftyone_against_a_stopped_server(shapes, cvat_double):
    """Server down: get_status() reports nothing, loading raises ConnectionError; back up, loading works."""
    _annotate_boxes(shapes.limit(2), cvat_double, "gone")
    results = shapes.load_annotation_results("gone", **_credentials(cvat_double))
    cvat_double.stop()
    assert results.get_status() == {"ground_truth": {}}  # FiftyOne logs the failure and reports nothing
    with pytest.raises(requests.ConnectionError):
        shapes.load_annotations("gone", **_credentials(cvat_double))
    cvat_double.start()
    shapes.load_annotations("gone", cleanup=True, **_credentials(cvat_double))
    assert cvat_double.tasks == {}


def test_fiftyone_skips_a_task_deleted_in_cvat(shapes, cvat_double):
    """A task deleted in CVAT's UI is skipped (404 on GET task) and the field is left as it was."""
    view = shapes.limit(2)
    before = view.values("ground_truth.detections.id", unwind=True)
    task_id = _annotate_boxes(view, cvat_double, "deleted").task_ids[0]
    cvat_double.delete_task(task_id)
    shapes.load_annotations("deleted", cleanup=True, **_credentials(cvat_double))
    assert view.values("ground_truth.detections.id", unwind=True) == before
    assert ("GET", f"/api/tasks/{task_id}", 404) in cvat_double.requests_log


def test_other_users_cannot_touch_the_owners_task(shapes, cvat_server):
    """user2 (neither owner nor assignee): 403 on the task, its job and its annotations, and lists without them."""
    task_id = _annotate_boxes(shapes.limit(2), cvat_server, "private").task_ids[0]
    (job_id,) = cvat_server.jobs
    outsider = Annotator(cvat_server.url, "user2", cvat_server.user("user2").password)
    forbidden = [
        lambda: outsider.task(task_id),
        lambda: outsider.set_job(job_id, state="completed"),
        lambda: outsider.call("GET", f"/tasks/{task_id}/annotations"),
        lambda: outsider.call("DELETE", f"/tasks/{task_id}"),
    ]
    for attempt in forbidden:
        with pytest.raises(requests.HTTPError) as error:
            attempt()
        assert error.value.response.status_code == 403
    assert outsider.tasks() == [] and outsider.jobs(task_id) == []
    assert list(cvat_server.tasks) == [task_id]


def test_credentials_never_travel_in_urls(shapes, cvat_double_env):
    """With FIFTYONE_CVAT_* configured, FiftyOne logs in by POST body; no URL carries the password or login key."""
    shapes.limit(2).annotate("env", backend="cvat", label_field="ground_truth", label_type="detections")
    shapes.load_annotations("env", cleanup=True)
    secrets = [
        cvat_double_env.owner.password,
        Annotator(cvat_double_env.url, "admin", cvat_double_env.owner.password).key,
    ]
    assert ("POST", "/api/auth/login", 200) in cvat_double_env.requests_log
    assert not [r for r in cvat_double_env.requests_log if any(s in r.path for s in secrets)]


def test_tls_certificates_are_verified_by_default_except_by_fiftyone(shapes):
    """requests rejects the double's self-signed certificate unless given ``ca_file``; FiftyOne always sends
    ``verify=False``, so it never notices."""
    with CVATDouble(tls=True) as double:
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{double.url}/api/server/about")
        assert requests.get(f"{double.url}/api/server/about", verify=double.ca_file).json()["version"] == "2.23.1"
        assert _annotate_boxes(shapes.limit(1), double, "tls").task_ids == [1]


def test_double_takes_500_small_pngs_in_one_upload(cvat_double):
    """A 500-image multipart upload (FiftyOne's way) is processed within the request, quickly."""
    session = requests.Session()
    login = session.post(
        f"{cvat_double.url}/api/auth/login", json={"username": "admin", "password": cvat_double.owner.password}
    )
    session.headers["X-CSRFToken"] = login.cookies["csrftoken"]
    task = session.post(f"{cvat_double.url}/api/tasks", json={"name": "big", "labels": [{"name": "a"}]}).json()
    files = {f"client_files[{i}]": (f"{i:04d}.png", _png(400)) for i in range(500)}
    upload = session.post(f"{cvat_double.url}/api/tasks/{task['id']}/data", data={"image_quality": 75}, files=files)
    assert upload.status_code == 202
    assert upload.elapsed.total_seconds() < 3
    assert cvat_double.tasks[task["id"]]["size"] == 500
