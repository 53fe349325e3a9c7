"""The CVAT recorder (testing/cvat_recorder.py): what it writes for a run against the CVAT double is what the replay
of tests/test_cvat_contract.py reads, and no secret the run used reaches the files."""

import json
import re

import pytest
import requests
import urllib3
from test_cvat_contract import Replay

from testing.cvat_annotator import Annotator
from testing.cvat_double import CVATDouble
from testing.cvat_recorder import Recorder, redact, trim

NAME = re.compile(r"^(\d{3})_(\w+?)_(GET|POST|PUT|PATCH|DELETE)_(\w*)\.json$")
REQUEST_HEADERS = {"Content-Type", "Accept", "X-Organization", "Referer", "Tus-Resumable", "Cookie", "X-CSRFToken"}
RESPONSE_HEADERS = {"Content-Type", "Location", "Content-Disposition", "Tus-Resumable", "Set-Cookie"}
KINDS = {"json": {"json"}, "multipart": {"parts"}, "text": {"text"}, "binary": {"size", "sha256"}}


class SecretSpy:
    """Collects, below the recorder, every secret that travels: passwords sent, login keys, cookie values, CSRF
    tokens, Authorization credentials."""

    def __init__(self, monkeypatch):
        self.found = {"password": set(), "key": set(), "cookie": set(), "csrf": set()}
        send, urlopen = requests.Session.send, urllib3.PoolManager.urlopen

        def spied_send(session, request, **kwargs):
            response = send(session, request, **kwargs)
            self._see(request.headers, request.body, response.raw.headers.getlist("Set-Cookie"), response.content)
            return response

        def spied_urlopen(manager, method, url, redirect=True, **kwargs):
            response = urlopen(manager, method, url, redirect=redirect, **kwargs)
            self._see(kwargs.get("headers") or {}, kwargs.get("body"), response.headers.getlist("Set-Cookie"), b"")
            self._see({}, None, [], response.data)
            return response

        monkeypatch.setattr(requests.Session, "send", spied_send)
        monkeypatch.setattr(urllib3.PoolManager, "urlopen", spied_urlopen)

    def _see(self, headers, body, cookies, content):
        for data, field, kind in ((body, "password", "password"), (content, "key", "key")):
            try:
                decoded = json.loads(data) if data else None
            except (ValueError, TypeError, UnicodeDecodeError):
                decoded = None
            if isinstance(decoded, dict) and decoded.get(field):
                self.found[kind].add(decoded[field])
        for cookie in cookies:
            name, _, value = cookie.split(";")[0].partition("=")
            if name in ("csrftoken", "sessionid") and value.strip('"'):
                self.found["csrf" if name == "csrftoken" else "cookie"].add(value)
        if headers.get("X-CSRFToken"):
            self.found["csrf"].add(headers["X-CSRFToken"])
        if headers.get("Authorization"):
            self.found["key"].add(headers["Authorization"].split()[-1])


def _roundtrip(shapes, double, folder):
    """FiftyOne annotate, an annotator's edit, cvat-sdk reading the task, FiftyOne load with cleanup: recorded."""
    from cvat_sdk import Client, Config

    credentials = {"url": double.url, "username": "admin", "password": double.owner.password}
    view = shapes.limit(3)
    with Recorder(folder) as recorder:
        recorder.phase("annotate")
        results = view.annotate(
            "rec",
            backend="cvat",
            label_field="ground_truth",
            label_type="detections",
            launch_editor=False,
            **credentials,
        )
        task_id = results.task_ids[0]
        recorder.phase("annotator")
        annotator = Annotator(double.url, "admin", double.owner.password)
        annotator.move_shape(task_id, annotator.annotations(task_id)["shapes"][0], 4, 2)
        recorder.phase("sdk")
        client = Client(double.url, config=Config(verify_ssl=False), check_server_version=False)
        client.login(("admin", double.owner.password))
        client.tasks.retrieve(task_id)
        recorder.phase("load")
        shapes.load_annotations("rec", cleanup=True, **credentials)
    return recorder


@pytest.fixture
def recorded(shapes, cvat_double, tmp_path, monkeypatch):
    """``(folder, secrets seen)`` of a round trip against the double."""
    spy = SecretSpy(monkeypatch)
    recorder = _roundtrip(shapes, cvat_double, tmp_path / "run")
    return recorder.folder, spy.found


def test_recording_replays_against_a_fresh_double(recorded):
    """The replay of tests/test_cvat_contract.py reads the folder and a fresh double answers every exchange alike."""
    folder, _ = recorded
    with CVATDouble() as double:
        replay = Replay(double, str(folder))
        assert {e["phase"] for _, e in replay.exchanges} == {"annotate", "annotator", "sdk", "load"}
        report = []
        for client, exchange in replay.exchanges:
            response = replay.send_settled(client, exchange)
            replay.after(client, exchange, response)
            report += [f"{exchange['seq']}: {p}" for p in replay.problems(exchange, response)]
    assert not report, "\n".join(report)
    assert not double.server_errors


def test_recording_has_the_contract_format(recorded):
    """File names, numbering, keys, kept headers and body kinds as the contract's README defines them."""
    folder, _ = recorded
    files = sorted(folder.glob("*.json"))
    assert len(files) > 20
    for seq, path in enumerate(files, 1):
        exchange = json.loads(path.read_text())
        number, phase, method, slug = NAME.match(path.name).groups()
        request, response = exchange["request"], exchange["response"]
        assert (
            (int(number), phase, method)
            == (seq, exchange["phase"], request["method"])
            == (
                exchange["seq"],
                phase,
                method,
            )
        )
        assert slug == re.sub(r"[^A-Za-z0-9]+", "_", request["path"]).strip("_")
        assert set(exchange) == {"seq", "phase", "request", "response"}
        assert set(request) == {"method", "path", "query", "headers", "body"}
        assert set(response) == {"status", "headers", "body", "elapsed_ms"}
        assert "?" not in request["path"] and all(len(pair) == 2 for pair in request["query"])
        assert {h for h in request["headers"] if not h.startswith("Upload-")} <= REQUEST_HEADERS | {"Authorization"}
        assert {h for h in response["headers"] if not h.startswith("Upload-")} <= RESPONSE_HEADERS
        for body in (request["body"], response["body"]):
            assert body is None or set(body) == {"kind"} | KINDS[body["kind"]]
    login = json.loads(files[0].read_text())
    assert login["request"]["body"]["json"] == {"username": "admin", "password": "<redacted>"}
    assert login["response"]["body"]["json"] == {"key": "<redacted>"}
    assert login["response"]["headers"]["Set-Cookie"] == "<redacted: csrftoken,sessionfresh,sessionid>"
    uploads = [json.loads(p.read_text()) for p in files if "_POST_" in p.name and p.name.endswith("_data.json")]
    assert [part["filename"] for part in uploads[0]["request"]["body"]["parts"] if "filename" in part]


def test_no_secret_reaches_the_files(recorded, cvat_double):
    """Passwords, login keys, session cookies and CSRF tokens used in the run appear in no written file."""
    folder, found = recorded
    assert cvat_double.owner.password in found["password"]
    assert all(found.values()), found  # each kind of secret did travel: the check below means something
    text = "\n".join(p.read_text() for p in folder.iterdir())
    leaked = {kind: [s for s in values if s in text] for kind, values in found.items()}
    assert not any(leaked.values()), leaked
    assert '"Cookie": "<redacted>"' in text and '"X-CSRFToken": "<redacted>"' in text


def test_headers_of_errors_and_auth_schemes(cvat_double, tmp_path):
    """``Authorization`` keeps its scheme, a 401 keeps WWW-Authenticate, a 405 its Allow, secret query values go."""
    with Recorder(tmp_path) as recorder:
        recorder.phase("errors")
        requests.get(f"{cvat_double.url}/api/users/self", headers={"Authorization": "Token s3cret-key-123"})
        requests.put(f"{cvat_double.url}/api/server/about", auth=("admin", cvat_double.owner.password), json={})
        requests.get(f"{cvat_double.url}/api/server/about", params={"sign": "s3cret-sign", "org": ""})
    unauthorised, not_allowed, signed = (json.loads(p.read_text()) for p in recorder.written)
    assert unauthorised["request"]["headers"]["Authorization"] == "Token <redacted>"
    assert unauthorised["response"]["headers"]["WWW-Authenticate"] == "Token"
    assert not_allowed["request"]["headers"]["Authorization"] == "Basic <redacted>"
    assert not_allowed["response"]["headers"]["Allow"] == "GET, HEAD, OPTIONS"
    assert signed["request"]["query"] == [["sign", "<redacted>"], ["org", ""]]
    assert "Allow" not in signed["response"]["headers"]
    assert "s3cret" not in "".join(p.read_text() for p in recorder.written)


def test_long_lists_and_strings_are_trimmed_with_a_marker():
    trimmed = trim({"points": list(range(30)), "name": "x" * 450, "short": [1, 2]})
    assert trimmed["points"] == [*range(25), "<... 5 more items trimmed>"]
    assert trimmed["name"] == "x" * 400 + "<... 50 more characters trimmed>"
    assert trimmed["short"] == [1, 2]
    assert redact({"password1": "p", "key": "k", "assignee": 3, "csrftoken": None}) == {
        "password1": "<redacted>",
        "key": "<redacted>",
        "assignee": 3,
        "csrftoken": None,
    }
