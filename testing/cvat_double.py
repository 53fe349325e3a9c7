"""A stateful stand-in for a CVAT 2.23.1 server, modelled on real recorded exchanges (/work/shared/cvat-contract).

It serves the REST API that FiftyOne's CVAT backend, cvat-sdk and an annotator use, with CVAT's status codes, body
shapes and error shapes (``{"detail"}``, ``{"field": [...]}``, bare lists, a bare string, Django's HTML pages), its
authentication (session cookie + CSRF, ``Token <key>``, Basic) and its permissions (objects of other users: 403 on
the object, filtered out of lists). Data uploads are processed at once, so jobs exist as soon as the upload is answered.
Unrecorded corners (a task without data, an unknown request id) answer like DRF's defaults.
"""

import base64
import contextlib
import datetime
import io
import ipaddress
import itertools
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import tempfile
import threading
import traceback
import urllib.parse
from collections import Counter, namedtuple
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image

CVAT_JSON = "application/vnd.cvat+json"
HTML = "text/html; charset=utf-8"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PAGE_SIZE = 10
CHUNK_SIZE = 72
COLORS = ("#6080c0", "#406040", "#404040", "#c06060", "#60c060", "#c0c060", "#6060c0", "#c060c0")
ABOUT = {
    "name": "Computer Vision Annotation Tool",
    "description": "CVAT is completely re-designed and re-implemented version of Video Annotation Tool from Irvine, "
    "California tool. It is free, online, interactive video and image annotation tool for computer vision. It is "
    "being used by our team to annotate million of objects with different properties. Many UI and UX decisions are "
    "based on feedbacks from professional data annotation team.",
    "version": "2.23.1",
}
JOB_STATES = ("new", "in progress", "rejected", "completed")
JOB_STAGES = ("annotation", "validation", "acceptance")
KINDS = ("tags", "shapes", "tracks")
WRITTEN_KEYS = {
    "tags": ("id", "frame", "label_id", "group", "source", "attributes"),
    "shapes": (
        "type",
        "occluded",
        "outside",
        "z_order",
        "rotation",
        "points",
        "id",
        "frame",
        "label_id",
        "group",
        "source",
        "attributes",
        "elements",
    ),
    "tracks": ("id", "frame", "label_id", "group", "source", "shapes", "attributes", "elements"),
}
COOKIE_AGES = {"csrftoken": 31449600, "sessionfresh": 1209600, "sessionid": 1209600}


def _html_page(title, message=""):
    return (
        f'\n<!doctype html>\n<html lang="en">\n<head>\n  <title>{title}</title>\n</head>\n<body>\n'
        f"  <h1>{title}</h1><p>{message}</p>\n</body>\n</html>\n"
    )


NOT_FOUND_PAGE = _html_page("Not Found", "The requested resource was not found on this server.")
SERVER_ERROR_PAGE = _html_page("Server Error (500)")

LoggedRequest = namedtuple("LoggedRequest", "method path status")


@dataclass(frozen=True)
class User:
    """A CVAT account of the double."""

    username: str
    password: str
    admin: bool = False
    first_name: str = ""
    last_name: str = ""


DEFAULT_USERS = (
    User("admin", "admin-Secret-41", admin=True),
    User("user2", "user2-Secret-42", first_name="U", last_name="Two"),
)


class Reply(Exception):
    """An HTTP answer; raised anywhere in a handler to answer at once."""

    def __init__(self, status, body=None, content_type=CVAT_JSON, headers=()):
        super().__init__(status)
        self.status, self.body, self.content_type, self.headers = status, body, content_type, list(headers)

    def encode(self):
        """The body as bytes and its Content-Type (None when there is no body)."""
        if self.body is None:
            return b"", None
        text = json.dumps(self.body) if self.content_type == CVAT_JSON else self.body
        return text.encode(), self.content_type


def _detail(status, text, headers=()):
    return Reply(status, {"detail": text}, headers=headers)


def _forbidden():
    return _detail(403, "You do not have permission to perform this action.")


WWW_AUTH = [("WWW-Authenticate", "Token")]


def _not_found(model):
    return _detail(404, f"No {model} matches the given query.")


def _now():
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _cookie(name, value, clear=False):
    age = 0 if clear else COOKIE_AGES[name]
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=age)
    flags = "" if name == "csrftoken" else " HttpOnly;"
    stamp = expires.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return ("Set-Cookie", f"{name}={value}; expires={stamp};{flags} Max-Age={age}; Path=/; SameSite=Lax")


def _json_body(body):
    try:
        return json.loads(body or b"{}")
    except ValueError as error:
        raise _detail(400, f"JSON parse error - {error}") from None


def _multipart(content_type, body):
    """Form fields and ``(filename, bytes)`` files of a multipart/form-data body, files in ``client_files[i]`` order."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type).group(1).encode()
    fields, files = {}, []
    for part in body.split(b"--" + boundary)[1:-1]:
        head, _, content = part[2:].partition(b"\r\n\r\n")
        params = dict(re.findall(r'(\w+)="([^"]*)"', head.decode("utf-8", "replace")))
        if "filename" in params:
            index = int(re.sub(r"\D", "", params["name"]) or len(files))
            files.append((index, urllib.parse.unquote(params["filename"]), content[:-2]))
        else:
            fields[params["name"]] = content[:-2].decode()
    return fields, [(name, content) for _, name, content in sorted(files, key=lambda f: f[0])]


def _int_filter(query, name):
    value = query.get(name)
    if value is None:
        return None
    if not value.isdigit():
        raise Reply(400, {name: ["Select a valid choice. That choice is not one of the available choices."]})
    return int(value)


@dataclass
class _Request:
    method: str
    path: str
    query: dict
    headers: object
    body: bytes
    base: str
    user: dict | None = None


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern
    status: int
    times: int | None
    body: object
    content_type: str | None


ROUTES = [
    (r"/api/auth/login", {"POST": "login"}),
    (r"/api/auth/logout", {"POST": "logout"}),
    (r"/api/server/about", {"GET": "about"}),
    (r"/api/users/self", {"GET": "user_self"}),
    (r"/api/users", {"GET": "users_list"}),
    (r"/api/users/(\d+)", {"GET": "user_get"}),
    (r"/api/projects", {"GET": "projects_list", "POST": "project_create"}),
    (r"/api/projects/(\d+)", {"GET": "project_get", "DELETE": "project_delete"}),
    (r"/api/tasks", {"GET": "tasks_list", "POST": "task_create"}),
    (r"/api/tasks/(\d+)", {"GET": "task_get", "PATCH": "task_patch", "DELETE": "task_delete"}),
    (r"/api/tasks/(\d+)/data", {"POST": "task_data"}),
    (r"/api/tasks/(\d+)/data/meta", {"GET": "task_meta"}),
    (
        r"/api/tasks/(\d+)/annotations",
        {"GET": "task_annotations", "PUT": "task_annotations", "PATCH": "task_annotations"},
    ),
    (r"/api/jobs", {"GET": "jobs_list", "POST": "job_create"}),
    (r"/api/jobs/(\d+)", {"GET": "job_get", "PATCH": "job_patch"}),
    (r"/api/jobs/(\d+)/data/meta", {"GET": "job_meta"}),
    (r"/api/jobs/(\d+)/annotations", {"GET": "job_annotations", "PUT": "job_annotations", "PATCH": "job_annotations"}),
    (r"/api/labels", {"GET": "labels_list"}),
    (r"/api/requests/([^/]+)", {"GET": "request_get"}),
]
ROUTES = [(re.compile(f"^{pattern}/?$"), methods) for pattern, methods in ROUTES]
PUBLIC = {"login", "about"}
DATA_PATH = re.compile(r"^/api/tasks/\d+/data/?$")
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.double._connections.add(self.connection)

    def finish(self):
        self.server.double._connections.discard(self.connection)
        super().finish()

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.double.handle(self.command, self.path, self.headers, body)
        payload, content_type = reply.encode()
        self.send_response(reply.status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

    def log_message(self, *args):
        pass


class CVATDouble:
    """A CVAT 2.23.1 server in a daemon thread on 127.0.0.1 (a free port unless ``port`` is given).

    ``users`` are the accounts (ids 1, 2, ... in order; the first one is ``owner``); ``tls=True`` serves HTTPS with a
    throw-away self-signed certificate (``ca_file``). ``stop()`` makes it refuse connections, ``start()`` brings it
    back on the same port with its state.
    """

    def __init__(self, users=DEFAULT_USERS, tls=False, port=0):
        self._lock = threading.RLock()
        self._users = {
            i: {"user": user, "id": i, "joined": _now(), "last_login": None} for i, user in enumerate(users, 1)
        }
        self._ids = Counter()
        self._tokens, self._sessions = {}, {}
        self._projects, self._tasks, self._jobs, self._labels, self._rqs = {}, {}, {}, {}, {}
        self._faults, self._log, self._connections = [], [], set()
        self.server_errors = []
        self.max_upload_bytes = None  # a bigger POST /api/tasks/{id}/data gets 413, as from a proxy's body limit
        self.tls, self._port, self._server, self.ca_file = tls, port, None, None
        if tls:
            self.ca_file, self._key_file = _self_signed_certificate()

    # ----- lifecycle and test-facing API -------------------------------------------------------------------------

    def start(self):
        """Starts serving (again); returns self."""
        server = ThreadingHTTPServer(("127.0.0.1", self._port), _Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_file, self._key_file)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        server.double = self
        self._port = server.server_address[1]
        self._server = server
        serve = threading.Thread(target=server.serve_forever, args=(0.05,), name="cvat-double", daemon=True)
        serve.start()
        return self

    def stop(self):
        """Stops serving and drops open connections: connections are refused until ``start()``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        for connection in list(self._connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self._port}"

    @property
    def owner(self):
        """The first user (an admin by default): the account FiftyOne logs in with."""
        return self._users[1]["user"]

    @property
    def users(self):
        return [record["user"] for record in self._users.values()]

    def user(self, username):
        return next(user for user in self.users if user.username == username)

    def fail(self, method, path_regex, status, times=1, body=None, content_type=None):
        """Answers the next ``times`` requests (None: all) whose method (``"*"``: any) and raw path (with query)
        match with ``status`` instead of handling them. Default body: the recorded HTML page for 500, else
        ``{"detail": <reason>}``; a dict/list body is sent as JSON, a str one as ``content_type`` (text/plain)."""
        with self._lock:
            self._faults.append(_Fault(method.upper(), re.compile(path_regex), status, times, body, content_type))

    def delete_task(self, task_id):
        """Deletes a task as someone using CVAT's UI would."""
        with self._lock:
            self._drop_task(self._tasks[task_id])

    @property
    def requests_log(self):
        """``(method, path, status)`` of every request answered so far (path as sent, with its query)."""
        with self._lock:
            return list(self._log)

    @property
    def tasks(self):
        """``{id: task}`` as an admin's ``GET /api/tasks/{id}`` would show them."""
        with self._lock:
            return {i: self._task_json(t, self.url) for i, t in self._tasks.items()}

    @property
    def projects(self):
        with self._lock:
            return {i: self._project_json(p, self.url) for i, p in self._projects.items()}

    @property
    def jobs(self):
        with self._lock:
            return {i: self._job_json(j, self.url) for i, j in self._jobs.items()}

    def annotations(self, task_id):
        """The task's annotations as ``GET /api/tasks/{id}/annotations`` returns them."""
        with self._lock:
            task = self._tasks[task_id]
            return json.loads(json.dumps(self._read(task, *self._task_range(task))))

    # ----- request dispatch --------------------------------------------------------------------------------------

    def handle(self, method, target, headers, body):
        """Answers one request (called by the HTTP handler threads)."""
        with self._lock:
            try:
                reply = self._dispatch(method, target, headers, body)
            except Reply as answer:
                reply = answer
            except Exception:  # a bug, answered as CVAT answers one; kept in ``server_errors`` like a server log
                self.server_errors.append(traceback.format_exc())
                reply = Reply(500, SERVER_ERROR_PAGE, HTML)
            self._log.append(LoggedRequest(method, target, reply.status))
            return reply

    def _dispatch(self, method, target, headers, body):
        self._inject_fault(method, target)
        raw_path, _, raw_query = target.partition("?")
        if self.max_upload_bytes is not None and len(body) > self.max_upload_bytes and DATA_PATH.match(raw_path):
            raise Reply(413, "Request Entity Too Large", "text/plain")
        path = urllib.parse.unquote(raw_path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()}
        host = headers.get("Host")
        base = f"{'https' if self.tls else 'http'}://{host}" if host else self.url
        req = _Request(method, path, query, headers, body, base)
        for pattern, methods in ROUTES:
            match = pattern.match(path)
            if match:
                return self._route(req, methods, match.groups())
        raise Reply(404, NOT_FOUND_PAGE, HTML)

    def _route(self, req, methods, args):
        name = methods.get("GET" if req.method == "HEAD" else req.method)
        if name != "login":
            req.user = self._authenticate(req)
            if req.user is None and not PUBLIC & set(methods.values()):
                raise _detail(401, "Authentication credentials were not provided.", WWW_AUTH)
        if name is None:
            allowed = [m for m in METHOD_ORDER if m in methods] + (["HEAD"] if "GET" in methods else []) + ["OPTIONS"]
            raise Reply(405, {"detail": f'Method "{req.method}" not allowed.'}, headers=[("Allow", ", ".join(allowed))])
        return getattr(self, f"_h_{name}")(req, *args)

    def _inject_fault(self, method, target):
        for fault in self._faults:
            if fault.method in ("*", method) and fault.pattern.search(target):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                if fault.body is None:
                    if fault.status == 500:
                        raise Reply(500, SERVER_ERROR_PAGE, HTML)
                    raise _detail(fault.status, HTTPStatus(fault.status).phrase)
                if isinstance(fault.body, dict | list):
                    raise Reply(fault.status, fault.body)
                raise Reply(fault.status, fault.body, fault.content_type or "text/plain")

    # ----- authentication ----------------------------------------------------------------------------------------

    def _authenticate(self, req):
        """The user record, None for anonymous; raises CVAT's 401/403 answers (Token, then session, then Basic)."""
        scheme, _, credentials = req.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "token":
            user_id = self._tokens.get(credentials.strip())
            if user_id is None:
                raise _detail(401, "Invalid token.", WWW_AUTH)
            return self._users[user_id]
        cookies = _cookies(req.headers)
        session = self._sessions.get(cookies.get("sessionid"))
        if session is not None:
            if req.method not in SAFE_METHODS:
                _check_csrf(cookies, req.headers, self.url if self.tls else None)
            return self._users[session]
        if scheme.lower() == "basic":
            try:
                username, _, password = base64.b64decode(credentials).decode().partition(":")
            except ValueError:
                raise _detail(
                    401, "Invalid basic header. Credentials not correctly base64 encoded.", WWW_AUTH
                ) from None
            record = self._find_user(username)
            if record is None or record["user"].password != password:
                raise _detail(401, "Invalid username/password.", WWW_AUTH)
            return record
        return None

    def _find_user(self, name):
        return next((u for u in self._users.values() if name in (u["user"].username, _email(u["user"]))), None)

    def _h_login(self, req):
        data = _json_body(req.body)
        name, password = data.get("username") or data.get("email"), data.get("password")
        if not name or not password:
            raise Reply(400, ['Must include either "username" or "email" and "password".'])
        record = self._find_user(name)
        if record is None or record["user"].password != password:
            raise Reply(400, {"non_field_errors": ["Unable to log in with provided credentials."]})
        record["last_login"] = _now()
        key = next((k for k, uid in self._tokens.items() if uid == record["id"]), None) or secrets.token_hex(20)
        self._tokens[key] = record["id"]
        session, csrf = secrets.token_hex(16), secrets.token_hex(16)
        self._sessions[session] = record["id"]
        cookies = [_cookie("csrftoken", csrf), _cookie("sessionfresh", "1"), _cookie("sessionid", session)]
        return Reply(200, {"key": key}, headers=cookies)

    def _h_logout(self, req):
        if req.user is not None:
            self._tokens = {k: uid for k, uid in self._tokens.items() if uid != req.user["id"]}
        self._sessions.pop(_cookies(req.headers).get("sessionid"), None)
        cookies = [_cookie("sessionfresh", '""', clear=True), _cookie("sessionid", '""', clear=True)]
        return Reply(200, {"detail": "Successfully logged out."}, headers=cookies)

    def _h_about(self, req):
        return Reply(200, ABOUT)

    # ----- users -------------------------------------------------------------------------------------------------

    def _h_user_self(self, req):
        return Reply(200, self._user_full(req.user, req.base))

    def _h_users_list(self, req):
        search = req.query.get("search", "").lower()
        username = req.query.get("username")
        found = [
            u
            for u in self._users.values()
            if search
            in " ".join((u["user"].username, u["user"].first_name, u["user"].last_name, _email(u["user"]))).lower()
            and username in (None, u["user"].username)
        ]
        return self._page(req, [self._user_full(u, req.base) for u in found])

    def _h_user_get(self, req, user_id):
        record = self._users.get(int(user_id))
        if record is None:
            raise _not_found("User")
        return Reply(200, self._user_full(record, req.base))

    def _user_basic(self, user_id, base):
        if user_id is None:
            return None
        user = self._users[user_id]["user"]
        return {
            "url": f"{base}/api/users/{user_id}",
            "id": user_id,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
        }

    def _user_full(self, record, base):
        user = record["user"]
        return self._user_basic(record["id"], base) | {
            "email": _email(user),
            "groups": ["admin"] if user.admin else ["user"],
            "is_staff": user.admin,
            "is_superuser": user.admin,
            "is_active": True,
            "last_login": record["last_login"],
            "date_joined": record["joined"],
            "has_analytics_access": user.admin,
        }

    def _assignee(self, value, errors_key):
        """The user id to assign; an unknown id fails as CVAT 2.23.1 does (IntegrityError → HTML 500)."""
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool):
            raise Reply(400, {errors_key: ["A valid integer is required."]})
        if value not in self._users:
            raise Reply(500, SERVER_ERROR_PAGE, HTML)
        return value

    # ----- permissions -------------------------------------------------------------------------------------------

    def _is_admin(self, user):
        return user["user"].admin

    def _project_staff(self, user, project):
        return project is not None and user["id"] in (project["owner"], project["assignee"])

    def _task_staff(self, user, task):
        project = self._projects.get(task["project_id"])
        return (
            self._is_admin(user)
            or user["id"] in (task["owner"], task["assignee"])
            or self._project_staff(user, project)
        )

    def _can_view_task(self, user, task):
        """Task staff only: a job's assignee sees the job, not its task (403 on the task, its labels, data and
        annotations, as real CVAT 2.23.1 answered)."""
        return self._task_staff(user, task)

    def _can_view_job(self, user, job):
        return job["assignee"] == user["id"] or self._task_staff(user, self._tasks[job["task_id"]])

    def _can_view_project(self, user, project):
        return (
            self._is_admin(user)
            or self._project_staff(user, project)
            or any(self._can_view_task(user, t) for t in self._project_tasks(project))
        )

    def _get_task(self, req, task_id, edit=False):
        task = self._tasks.get(int(task_id))
        if task is None:
            raise _not_found("Task")
        if not (self._task_staff if edit else self._can_view_task)(req.user, task):
            raise _forbidden()
        return task

    def _get_job(self, req, job_id):
        job = self._jobs.get(int(job_id))
        if job is None:
            raise _not_found("Job")
        if not self._can_view_job(req.user, job):
            raise _forbidden()
        return job

    def _get_project(self, req, project_id, edit=False):
        project = self._projects.get(int(project_id))
        if project is None:
            raise _not_found("Project")
        allowed = self._is_admin(req.user) or self._project_staff(req.user, project)
        if not (allowed or (not edit and self._can_view_project(req.user, project))):
            raise _forbidden()
        return project

    # ----- pagination --------------------------------------------------------------------------------------------

    def _page(self, req, items):
        """A DRF page of ``items`` (``page``/``page_size`` query parameters, 10 by default)."""
        page, size = req.query.get("page") or "1", req.query.get("page_size") or str(PAGE_SIZE)
        page, size = int(page) if page.isdigit() else 0, int(size) if size.isdigit() and size != "0" else PAGE_SIZE
        pages = max(1, -(-len(items) // size))
        if not 1 <= page <= pages:
            raise _detail(404, "Invalid page.")

        def link(number):
            if not 1 <= number <= pages:
                return None
            return f"{req.base}{req.path}?{urllib.parse.urlencode(req.query | {'page': number})}"

        results = items[(page - 1) * size : page * size]
        return Reply(200, {"count": len(items), "next": link(page + 1), "previous": link(page - 1), "results": results})

    # ----- labels ------------------------------------------------------------------------------------------------

    def _make_labels(self, specs, owner_key, owner_id):
        names = [spec.get("name") for spec in specs]
        if len(set(names)) != len(names):
            raise Reply(400, ["All label names must be unique"])
        labels = []
        for index, spec in enumerate(specs):
            label = {
                "id": self._new_id("label"),
                "name": spec["name"],
                "color": spec.get("color") or COLORS[index % len(COLORS)],
                "attributes": [self._make_attribute(a) for a in spec.get("attributes", [])],
                "type": spec.get("type", "any"),
                "sublabels": [self._make_sublabel(sub, i) for i, sub in enumerate(spec.get("sublabels") or [])],
                owner_key: owner_id,
                "parent_id": None,
                "has_parent": False,
            }
            if label["type"] == "skeleton":  # CVAT names each node circle by its sublabel's id
                label["svg"] = _svg_with_ids(spec.get("svg", ""), label["sublabels"])
            self._labels[label["id"]] = label
            labels.append(label)
        return labels

    def _make_sublabel(self, spec, index):
        """A skeleton's node: listed inside its label only (``/labels`` lists top-level labels), as CVAT 2.23.1."""
        return {
            "id": self._new_id("label"),
            "name": spec["name"],
            "color": spec.get("color") or COLORS[(index + 1) % len(COLORS)],
            "attributes": [self._make_attribute(a) for a in spec.get("attributes", [])],
            "type": spec.get("type", "points"),
            "has_parent": True,
        }

    def _make_attribute(self, spec):
        values = spec.get("values") or [""]
        return {
            "id": self._new_id("spec"),
            "name": spec["name"],
            "mutable": spec.get("mutable", False),
            "input_type": spec.get("input_type", "text"),
            "default_value": spec.get("default_value") or values[0],
            "values": values,
        }

    def _task_labels(self, task):
        if task["project_id"] is not None:
            return self._project_labels(self._projects[task["project_id"]])
        return [label for label in self._labels.values() if label.get("task_id") == task["id"]]

    def _project_labels(self, project):
        return [label for label in self._labels.values() if label.get("project_id") == project["id"]]

    def _h_labels_list(self, req):
        task_id, job_id, project_id = (_int_filter(req.query, k) for k in ("task_id", "job_id", "project_id"))
        labels = []
        if job_id in self._jobs and self._can_view_job(req.user, self._jobs[job_id]):
            labels = self._task_labels(self._tasks[self._jobs[job_id]["task_id"]])
        elif task_id in self._tasks and self._can_view_task(req.user, self._tasks[task_id]):
            labels = self._task_labels(self._tasks[task_id])
        elif project_id in self._projects and self._can_view_project(req.user, self._projects[project_id]):
            labels = self._project_labels(self._projects[project_id])
        return self._page(req, labels)

    # ----- projects ----------------------------------------------------------------------------------------------

    def _project_tasks(self, project):
        return [t for t in self._tasks.values() if t["project_id"] == project["id"]]

    def _project_json(self, project, base):
        url = f"{base}/api/projects/{project['id']}"
        tasks = self._project_tasks(project)
        return {
            "url": url,
            "id": project["id"],
            "name": project["name"],
            "owner": self._user_basic(project["owner"], base),
            "assignee": self._user_basic(project["assignee"], base),
            "guide_id": None,
            "bug_tracker": project["bug_tracker"],
            "created_date": project["created"],
            "updated_date": project["updated"],
            "status": "annotation",
            "dimension": "2d" if tasks else None,
            "organization": None,
            "target_storage": None,
            "source_storage": None,
            "tasks": {"count": len(tasks), "url": f"{base}/api/tasks?project_id={project['id']}"},
            "labels": {"url": f"{base}/api/labels?project_id={project['id']}"},
            "assignee_updated_date": None,
            "task_subsets": [],
        }

    def _h_projects_list(self, req):
        search = req.query.get("search", "").lower()
        found = [
            self._project_json(p, req.base)
            for p in sorted(self._projects.values(), key=lambda p: -p["id"])
            if search in p["name"].lower() and self._can_view_project(req.user, p)
        ]
        return self._page(req, found)

    def _h_project_create(self, req):
        data = _json_body(req.body)
        _check_fields(data)
        now = _now()
        project = {
            "id": self._new_id("project"),
            "name": data["name"],
            "owner": req.user["id"],
            "assignee": None,
            "bug_tracker": data.get("bug_tracker", ""),
            "created": now,
            "updated": now,
        }
        self._make_labels(data.get("labels", []), "project_id", project["id"])
        self._projects[project["id"]] = project
        body = self._project_json(project, req.base)
        return Reply(201, body, headers=[("Location", body["url"])])

    def _h_project_get(self, req, project_id):
        return Reply(200, self._project_json(self._get_project(req, project_id), req.base))

    def _h_project_delete(self, req, project_id):
        project = self._get_project(req, project_id, edit=True)
        for task in self._project_tasks(project):
            self._drop_task(task)
        for label in self._project_labels(project):
            del self._labels[label["id"]]
        del self._projects[project["id"]]
        return Reply(204)

    # ----- tasks -------------------------------------------------------------------------------------------------

    def _task_jobs(self, task):
        return [j for j in self._jobs.values() if j["task_id"] == task["id"]]

    def _task_range(self, task):
        return 0, (len(task["data"]["frames"]) - 1 if task["data"] else -1)

    def _task_json(self, task, base):
        data, jobs = task["data"], [self._job_status(j) for j in self._task_jobs(task)]
        status = next((s for s in ("annotation", "validation") if s in jobs), "completed" if jobs else "annotation")
        body = {
            "url": f"{base}/api/tasks/{task['id']}",
            "id": task["id"],
            "name": task["name"],
            "project_id": task["project_id"],
            "mode": "annotation" if data else "",
            "owner": self._user_basic(task["owner"], base),
            "assignee": self._user_basic(task["assignee"], base),
            "bug_tracker": task["bug_tracker"],
            "created_date": task["created"],
            "updated_date": task["updated"],
            "overlap": 0 if data else None,
            "segment_size": task["segment_size"] or (len(data["frames"]) if data else 0),
            "status": status,
        }
        if data:
            body |= {"data_chunk_size": CHUNK_SIZE, "data_compressed_chunk_type": "imageset"}
        body["guide_id"] = None
        if data:
            body |= {"data_original_chunk_type": "imageset", "size": len(data["frames"])}
            body |= {"image_quality": data["image_quality"], "data": data["id"]}
        return body | {
            "dimension": "2d",
            "subset": task["subset"],
            "organization": None,
            "target_storage": None,
            "source_storage": None,
            "jobs": {
                "count": len(jobs),
                "completed": jobs.count("completed"),
                "validation": jobs.count("validation"),
                "url": f"{base}/api/jobs?task_id={task['id']}",
            },
            "labels": {"url": f"{base}/api/labels?task_id={task['id']}"},
            "assignee_updated_date": task["assignee_updated"],
            "validation_mode": None,
        }

    def _h_tasks_list(self, req):
        project_id, task_id = _int_filter(req.query, "project_id"), _int_filter(req.query, "id")
        search = req.query.get("search", req.query.get("name", "")).lower()
        found = [
            self._task_json(t, req.base)
            for t in sorted(self._tasks.values(), key=lambda t: -t["id"])
            if project_id in (None, t["project_id"])
            and task_id in (None, t["id"])
            and search in t["name"].lower()
            and self._can_view_task(req.user, t)
        ]
        return self._page(req, [t for t in found if req.query.get("status") in (None, t["status"])])

    def _h_task_create(self, req):
        data = _json_body(req.body)
        _check_fields(data, segment_size=True)
        project_id = data.get("project_id")
        if project_id is not None:
            self._project_for_new_task(req, project_id)
        elif not data.get("labels"):
            raise Reply(400, ["Label set or project_id must be present"])
        now = _now()
        task = {
            "id": self._new_id("task"),
            "name": data["name"],
            "project_id": project_id,
            "owner": req.user["id"],
            "assignee": None,
            "assignee_updated": None,
            "bug_tracker": data.get("bug_tracker", ""),
            "subset": data.get("subset", ""),
            "created": now,
            "updated": now,
            "segment_size": data.get("segment_size", 0),
            "data": None,
            "upload": [],
            "annotations": {kind: {} for kind in KINDS},
        }
        if project_id is None:
            self._make_labels(data["labels"], "task_id", task["id"])
        self._tasks[task["id"]] = task
        body = self._task_json(task, req.base)
        return Reply(201, body, headers=[("Location", body["url"])])

    def _project_for_new_task(self, req, project_id):
        project = self._projects.get(project_id)
        if project is None:
            raise Reply(400, ["Project matching query does not exist."])
        if not (self._is_admin(req.user) or self._project_staff(req.user, project)):
            raise _forbidden()
        project["updated"] = _now()

    def _h_task_get(self, req, task_id):
        return Reply(200, self._task_json(self._get_task(req, task_id), req.base))

    def _h_task_patch(self, req, task_id):
        task = self._get_task(req, task_id, edit=True)
        data = _json_body(req.body)
        if "assignee_id" in data:
            task["assignee"] = self._assignee(data["assignee_id"], "assignee_id")
            task["assignee_updated"] = _now()
        task.update({k: data[k] for k in ("name", "bug_tracker", "subset") if k in data})
        task["updated"] = _now()
        return Reply(200, self._task_json(task, req.base))

    def _h_task_delete(self, req, task_id):
        self._drop_task(self._get_task(req, task_id, edit=True))
        return Reply(204)

    def _drop_task(self, task):
        for job in self._task_jobs(task):
            del self._jobs[job["id"]]
        for label in [label for label in self._labels.values() if label.get("task_id") == task["id"]]:
            del self._labels[label["id"]]
        del self._tasks[task["id"]]

    # ----- task data ---------------------------------------------------------------------------------------------

    def _h_task_data(self, req, task_id):
        """FiftyOne's single multipart POST, or cvat-sdk's Upload-Start / Upload-Multiple / Upload-Finish."""
        task = self._get_task(req, task_id, edit=True)
        if task["data"] is not None:
            raise Reply(400, "Adding more data is not supported")
        headers = req.headers
        if "Upload-Start" in headers:
            task["upload"] = []
            return Reply(202)
        if "Upload-Multiple" in headers:
            task["upload"] += _multipart(headers["Content-Type"], req.body)[1]
            return Reply(200)
        if "Upload-Finish" in headers:
            fields = _json_body(req.body)
            order = fields.get("upload_file_order") or [os.path.basename(name) for name, _ in task["upload"]]
            files = dict((os.path.basename(name), content) for name, content in task["upload"])
            return self._create_data(req, task, fields, [(name, files[name]) for name in order])
        fields, files = _multipart(headers.get("Content-Type", ""), req.body)
        return self._create_data(req, task, fields, files)

    def _create_data(self, req, task, fields, files):
        """Processes the media at once: frames, then jobs of ``segment_size`` frames; a finished (or failed) rq."""
        rq_id = f"create:task-{task['id']}"
        try:
            if not files:
                raise OSError("No media data found")
            frames = [_frame(name, content) for name, content in files]
        except OSError as error:
            self._rqs[rq_id] = self._rq(rq_id, req.user, task, "failed", str(error))
            return Reply(202, {"rq_id": rq_id})
        task["data"] = {
            "id": self._new_id("data"),
            "frames": frames,
            "image_quality": int(fields.get("image_quality", 70)),
            "created": _now(),
        }
        task["upload"], task["updated"] = [], _now()
        segment = task["segment_size"] or len(frames)
        for start in range(0, len(frames), segment):
            self._new_job(task, start, min(start + segment, len(frames)) - 1)
        self._rqs[rq_id] = self._rq(rq_id, req.user, task, "finished", "")
        return Reply(202, {"rq_id": rq_id})

    def _rq(self, rq_id, user, task, status, message):
        now = _now()
        return {
            "status": status,
            "message": message,
            "id": rq_id,
            "operation": {
                "type": "create:task",
                "target": "task",
                "project_id": task["project_id"],
                "task_id": task["id"],
                "job_id": None,
                "format": None,
                "function_id": None,
            },
            "progress": 0.0,
            "created_date": now,
            "started_date": now,
            "finished_date": now,
            "expiry_date": now,
            "owner": {"id": user["id"], "username": user["user"].username},
            "result_url": None,
            "result_id": None,
        }

    def _h_request_get(self, req, rq_id):
        rq = self._rqs.get(rq_id)
        if rq is None:
            raise _detail(404, "Not found.")
        return Reply(200, rq)

    def _meta(self, task, first, last):
        data = task["data"]
        if data is None:
            raise _detail(404, "Not found.")
        return Reply(
            200,
            {
                "chunks_updated_date": data["created"],
                "chunk_size": CHUNK_SIZE,
                "size": last - first + 1,
                "image_quality": data["image_quality"],
                "start_frame": first,
                "stop_frame": last,
                "frame_filter": "",
                "frames": data["frames"][first : last + 1],
                "deleted_frames": [],
                "included_frames": None,
            },
        )

    def _h_task_meta(self, req, task_id):
        task = self._get_task(req, task_id)
        return self._meta(task, *self._task_range(task))

    def _h_job_meta(self, req, job_id):
        job = self._get_job(req, job_id)
        return self._meta(self._tasks[job["task_id"]], job["start"], job["stop"])

    # ----- jobs --------------------------------------------------------------------------------------------------

    def _new_job(self, task, start, stop):
        now = _now()
        job = {"id": self._new_id("job"), "task_id": task["id"], "start": start, "stop": stop, "assignee": None}
        job |= {"state": "new", "stage": "annotation", "created": now, "updated": now, "assignee_updated": None}
        self._jobs[job["id"]] = job

    def _job_status(self, job):
        if job["stage"] == "acceptance" and job["state"] == "completed":
            return "completed"
        return "validation" if job["stage"] == "validation" else "annotation"

    def _job_json(self, job, base):
        task = self._tasks[job["task_id"]]
        project = self._projects.get(task["project_id"])
        return {
            "url": f"{base}/api/jobs/{job['id']}",
            "id": job["id"],
            "task_id": task["id"],
            "project_id": task["project_id"],
            "assignee": self._user_basic(job["assignee"], base),
            "guide_id": None,
            "dimension": "2d",
            "bug_tracker": task["bug_tracker"] or (project["bug_tracker"] if project else None),
            "status": self._job_status(job),
            "stage": job["stage"],
            "state": job["state"],
            "mode": "annotation",
            "frame_count": job["stop"] - job["start"] + 1,
            "start_frame": job["start"],
            "stop_frame": job["stop"],
            "data_chunk_size": CHUNK_SIZE,
            "data_compressed_chunk_type": "imageset",
            "data_original_chunk_type": "imageset",
            "created_date": job["created"],
            "updated_date": job["updated"],
            "issues": {"url": f"{base}/api/issues?job_id={job['id']}", "count": 0},
            "labels": {"url": f"{base}/api/labels?job_id={job['id']}"},
            "type": "annotation",
            "organization": None,
            "target_storage": None,
            "source_storage": None,
            "assignee_updated_date": job["assignee_updated"],
        }

    def _h_jobs_list(self, req):
        task_id, project_id = _int_filter(req.query, "task_id"), _int_filter(req.query, "project_id")
        wanted = {k: req.query[k] for k in ("state", "stage", "type") if k in req.query}
        found = [
            self._job_json(j, req.base)
            for j in sorted(self._jobs.values(), key=lambda j: -j["id"])
            if task_id in (None, j["task_id"])
            and project_id in (None, self._tasks[j["task_id"]]["project_id"])
            and self._can_view_job(req.user, j)
        ]
        assignee = req.query.get("assignee")
        found = [j for j in found if assignee in (None, (j["assignee"] or {}).get("username"))]
        return self._page(req, [j for j in found if all(j[k] == v for k, v in wanted.items())])

    def _h_job_create(self, req):
        if "type" not in _json_body(req.body):
            raise Reply(400, {"type": ["This field is required."]})
        raise _detail(400, "Ground truth jobs are not supported by the CVAT double.")

    def _h_job_get(self, req, job_id):
        return Reply(200, self._job_json(self._get_job(req, job_id), req.base))

    def _h_job_patch(self, req, job_id):
        job = self._get_job(req, job_id)
        data = _json_body(req.body)
        choices = {"state": JOB_STATES, "stage": JOB_STAGES}
        errors = {
            k: [f'"{data[k]}" is not a valid choice.']
            for k, allowed in choices.items()
            if data.get(k, allowed[0]) not in allowed
        }
        if errors:
            raise Reply(400, errors)
        if {"stage", "assignee"} & data.keys() and not self._task_staff(req.user, self._tasks[job["task_id"]]):
            raise _forbidden()  # update:stage / update:assignee need the task's owner or assignee
        if "assignee" in data:
            job["assignee"] = self._assignee(data["assignee"], "assignee")
            job["assignee_updated"] = _now()
        job.update({k: data[k] for k in choices if k in data})
        job["updated"] = _now()
        return Reply(200, self._job_json(job, req.base))

    # ----- annotations -------------------------------------------------------------------------------------------

    def _h_task_annotations(self, req, task_id):
        task = self._get_task(req, task_id, edit=req.method not in SAFE_METHODS)
        return self._annotations(req, task, *self._task_range(task))

    def _h_job_annotations(self, req, job_id):
        job = self._get_job(req, job_id)
        return self._annotations(req, self._tasks[job["task_id"]], job["start"], job["stop"])

    def _annotations(self, req, task, first, last):
        """GET, PUT (replace the range) or PATCH ?action=create|update|delete on frames ``first..last``."""
        if req.method in SAFE_METHODS:
            return Reply(200, self._read(task, first, last))
        action = "put" if req.method == "PUT" else req.query.get("action")
        if action not in ("put", "create", "update", "delete"):
            raise Reply(400, ["Please specify a correct 'action' for the request"])
        payload = _json_body(req.body)
        if action != "delete":
            self._check_ids(task, payload)
        store = task["annotations"]
        if action == "put":
            for kind in KINDS:
                store[kind] = {i: o for i, o in store[kind].items() if not first <= o["frame"] <= last}
        answer = {"version": 0} | {kind: [] for kind in KINDS}
        for kind in KINDS:
            for raw in payload.get(kind, []):
                written = self._apply(store[kind], kind, action, raw, first, last)
                answer[kind] += [written] if written else []
        task["updated"] = _now()
        return Reply(200, answer)

    def _apply(self, objects, kind, action, raw, first, last):
        """Applies one object; returns CVAT's echo of it (None: silently dropped, e.g. a frame outside the range)."""
        if action == "delete":
            objects.pop(raw.get("id"), None)
            return _written(kind, _canonical(kind, raw, raw.get("id")), elements=False)
        if not first <= raw["frame"] <= last or (action == "update" and raw.get("id") not in objects):
            return None
        obj = _canonical(kind, raw, raw["id"] if action == "update" else self._new_id(kind), self._new_id)
        if kind == "shapes":  # a skeleton's nodes: shapes of their own, numbered with the shapes
            obj["elements"] = [
                _canonical("elements", e, e.get("id") or self._new_id(kind)) for e in raw.get("elements") or []
            ]
        objects[obj["id"]] = obj
        return _written(kind, obj)

    def _check_ids(self, task, payload):
        """CVAT rejects the whole request for an unknown label or attribute spec id."""
        labels = {label["id"]: label for label in self._task_labels(task)}
        for raw in itertools.chain.from_iterable(payload.get(kind, []) for kind in KINDS):
            label = labels.get(raw.get("label_id"))
            if label is None:
                raise Reply(400, [f"label_id `{raw.get('label_id')}` is invalid"])
            specs = {spec["id"] for spec in label["attributes"]}
            nested = itertools.chain.from_iterable(s.get("attributes", []) for s in raw.get("shapes", []))
            for attribute in itertools.chain(raw.get("attributes", []), nested):
                if attribute["spec_id"] not in specs:
                    raise Reply(400, [f"spec_id `{attribute['spec_id']}` is invalid"])

    def _read(self, task, first, last):
        store = task["annotations"]
        by_frame = {
            kind: sorted(
                (o for o in store[kind].values() if first <= o["frame"] <= last), key=lambda o: (o["frame"], o["id"])
            )
            for kind in KINDS
        }
        return {"version": 0} | by_frame

    def _new_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]


def _canonical(kind, raw, obj_id, new_id=None):
    """An annotation object as CVAT stores and returns it (defaults filled in; ``new_id`` numbers a track's shapes)."""
    obj = {"id": obj_id, "label_id": raw.get("label_id")} if kind != "track_shapes" else {"id": obj_id}
    if kind in ("shapes", "track_shapes", "elements"):
        obj["type"] = raw.get("type")
    obj["frame"] = raw.get("frame")
    if kind != "track_shapes":
        obj |= {"group": raw.get("group"), "source": raw.get("source", "manual")}
    if kind in ("shapes", "track_shapes", "elements"):
        obj |= {
            "occluded": raw.get("occluded", False),
            "outside": raw.get("outside", False),
            "z_order": raw.get("z_order", 0),
            "rotation": float(raw.get("rotation", 0)),
            "points": [float(p) for p in raw.get("points", [])],
        }
    if kind == "tracks":
        shapes = raw.get("shapes", [])
        obj["shapes"] = [_canonical("track_shapes", s, s.get("id") or new_id("track_shape")) for s in shapes]
    obj["attributes"] = [{"spec_id": a["spec_id"], "value": a["value"]} for a in raw.get("attributes", [])]
    if kind in ("shapes", "tracks"):
        obj["elements"] = []
    return obj


def _svg_with_ids(svg, sublabels):
    """A skeleton label's SVG as CVAT keeps it: each node's ``data-label-name`` replaced by its sublabel's id."""
    for sub in sublabels:
        svg = svg.replace(f'data-label-name="{sub["name"]}"', f'data-label-id="{sub["id"]}"')
    return svg


def _written(kind, obj, elements=True):
    """The object as CVAT echoes a write (its serializer's key order; a delete echoes no ``elements``)."""
    return {k: obj[k] for k in WRITTEN_KEYS[kind] if k in obj and (elements or k != "elements")}


def _frame(name, content):
    with Image.open(io.BytesIO(content)) as image:
        width, height = image.size
    return {
        "width": width,
        "height": height,
        "name": os.path.basename(name),
        "related_files": 0,
        "has_related_context": False,
    }


def _check_fields(data, segment_size=False):
    """DRF's field errors of a project/task body, all at once."""
    errors = {}
    if not data.get("name"):
        errors["name"] = ["This field is required."]
    if not isinstance(data.get("labels", []), list):
        kind = type(data["labels"]).__name__
        errors["labels"] = {"non_field_errors": [f'Expected a list of items but got type "{kind}".']}
    size = data.get("segment_size", 0)
    if segment_size and (not isinstance(size, int) or size < 0):
        errors["segment_size"] = ["Ensure this value is greater than or equal to 0."]
    if errors:
        raise Reply(400, errors)


def _email(user):
    return f"{user.username}@localhost.localdomain"


def _cookies(headers):
    pairs = (p.strip().partition("=") for p in (headers.get("Cookie") or "").split(";") if "=" in p)
    return {name: value for name, _, value in pairs}


def _check_csrf(cookies, headers, https_origin=None):
    """Django's CSRF check for session-authenticated unsafe requests; over https (``https_origin``) without an
    ``Origin`` header the ``Referer`` must be there and of the same origin first."""
    if https_origin and not headers.get("Origin"):
        referer = headers.get("Referer")
        if not referer:
            raise _detail(403, "CSRF Failed: Referer checking failed - no Referer.")
        if not (referer + "/").startswith(https_origin + "/"):
            raise _detail(403, f"CSRF Failed: Referer checking failed - {referer} does not match any trusted origins.")
    if "csrftoken" not in cookies:
        raise _detail(403, "CSRF Failed: CSRF cookie not set.")
    token = headers.get("X-CSRFToken")
    if not token:
        raise _detail(403, "CSRF Failed: CSRF token missing.")
    if token != cookies["csrftoken"]:
        raise _detail(403, "CSRF Failed: CSRF token incorrect.")


def _self_signed_certificate():
    """A throw-away certificate for 127.0.0.1/localhost (``cryptography``, else the openssl CLI): (cert, key) files."""
    folder = tempfile.mkdtemp(prefix="cvat-double-tls-")
    cert_file, key_file = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
    try:
        cert, key = _certificate_pem()
    except ImportError:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            + ["-keyout", key_file, "-out", cert_file, "-days", "1", "-subj", "/CN=cvat-double"]
            + ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True,
            capture_output=True,
        )
        return cert_file, key_file
    for path, pem in ((cert_file, cert), (key_file, key)):
        with open(path, "wb") as f:
            f.write(pem)
    return cert_file, key_file


def _certificate_pem():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cvat-double")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    encoding = serialization.Encoding.PEM
    private = key.private_bytes(encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return cert.public_bytes(encoding), private
