"""A connection to CVAT: credentials from secrets, verified TLS, clear errors, and a record of what it created.

FiftyOne's CVAT client sends every request with certificate verification off and raises bare ``Exception`` s that
quote the request. ``CVATConnection`` keeps FiftyOne's client (its upload and download code is right) but sends
each request with the caller's verification choice, turns failures into ``CVATError`` s that say what to do, and
remembers the tasks and projects it created so a failed upload can be cleaned up.
"""

import dataclasses
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

import fiftyone.utils.cvat as fouc

from ..exceptions import CVATError, CVATResponseError

logger = logging.getLogger(__name__)

SECRET_KEYS = {
    "url": "FIFTYONE_CVAT_URL",
    "username": "FIFTYONE_CVAT_USERNAME",
    "password": "FIFTYONE_CVAT_PASSWORD",
    "email": "FIFTYONE_CVAT_EMAIL",
}


@dataclasses.dataclass(frozen=True)
class CVATSettings:
    """Where CVAT is and who we are there; ``verify_tls=False`` only on an explicit opt-out."""

    url: str
    username: str
    password: str = dataclasses.field(repr=False)
    email: str | None = None
    organization: str | None = None
    verify_tls: bool = True

    @classmethod
    def from_secrets(
        cls, secrets: Mapping[str, str | None], organization: str | None = None, verify_tls: bool = True
    ) -> "CVATSettings":
        """Settings from a mapping of plugin secrets / environment variables (``FIFTYONE_CVAT_*``)."""
        values = {name: (secrets.get(key) or None) for name, key in SECRET_KEYS.items()}
        missing = [SECRET_KEYS[name] for name in ("url", "username", "password") if not values[name]]
        if missing:
            raise CVATError(
                f"CVAT is not configured: set {', '.join(missing)} (plugin secrets or environment variables)."
            )
        values["url"] = server_url(values["url"])
        return cls(**values, organization=organization or None, verify_tls=verify_tls)

    @property
    def public_url(self) -> str:
        """The server URL without any user:password part, safe to record and show."""
        parts = urlsplit(self.url.rstrip("/"))
        return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def server_url(url: str) -> str:
    """The CVAT server URL of ``FIFTYONE_CVAT_URL``: whitespace and a trailing ``/api`` removed; a CVATError unless
    it is an http(s) URL with a host."""
    url = re.sub(r"/api/?$", "", url.strip().rstrip("/"))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CVATError(
            f"FIFTYONE_CVAT_URL '{urlunsplit(parts._replace(netloc=parts.hostname or ''))}' is not an http(s) URL "
            "of the CVAT server: give it like 'https://cvat.example.com' or 'http://localhost:8080'."
        )
    return url


class CVATConnection(fouc.CVATAnnotationAPI):
    """FiftyOne's CVAT API client with TLS verification, clear errors and a record of created tasks/projects."""

    def __init__(self, settings):
        self.settings = settings
        self.created_task_ids = []
        self.created_project_ids = []
        super().__init__(
            "cvat",
            settings.url,
            username=settings.username,
            email=settings.email,
            password=settings.password,
            organization=settings.organization,
        )

    def _make_request(self, request_method, url, print_error_info=True, **kwargs):
        try:
            response = request_method(url, verify=self.settings.verify_tls, **kwargs)
        except requests.exceptions.SSLError as error:
            raise CVATError(tls_message(self.settings.public_url)) from error
        except requests.exceptions.ConnectionError as error:
            raise CVATError(
                f"Cannot reach CVAT at {self.settings.public_url}: is the server up and FIFTYONE_CVAT_URL right?"
            ) from error
        if response.status_code >= 400:
            raise CVATResponseError(self._failure(response), response=response)
        return response

    def _failure(self, response):
        method, path = response.request.method, urlsplit(response.url).path
        if path.endswith("/auth/login") and response.status_code in (400, 401, 403):
            return (
                f"CVAT at {self.settings.public_url} refused the login of '{self.settings.username}': check "
                "FIFTYONE_CVAT_USERNAME and FIFTYONE_CVAT_PASSWORD."
            )
        detail = error_detail(response)
        hint = _HINTS.get(response.status_code, "")
        return f"CVAT answered {response.status_code} to {method} {path}: {detail}{hint}"

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        """FiftyOne's ``post``, remembering the tasks and projects it creates for ``remove_created`` as soon as
        CVAT answers (FiftyOne sends more requests before it returns a new task's id, any of which may fail)."""
        response = super().post(url, **kwargs)
        path = urlsplit(url).path.rstrip("/")
        for suffix, created in _CREATED.items():
            if path.endswith(suffix):
                getattr(self, created).append(response.json()["id"])
        return response

    def unknown_users(self, usernames: Iterable[str | None]) -> list[str]:
        """The names among ``usernames`` that CVAT does not know (FiftyOne would send them and get a 500)."""
        return [name for name in dict.fromkeys(usernames) if name and self.get_user_id(name) is None]

    def task_or_none(self, task_id: int) -> dict | None:
        """The task as ``GET /api/tasks/{id}`` returns it; None when CVAT has no such task (404)."""
        try:
            return self.get(self.task_url(task_id)).json()
        except CVATResponseError as error:
            if error.response.status_code == 404:
                return None
            raise

    def task_jobs(self, task_id: int) -> list[dict]:
        """The task's jobs as ``GET /api/jobs?task_id=`` lists them, every page, in CVAT's order."""
        jobs, page = [], 1
        while True:
            body = self.get(self.jobs_url(task_id), params={"page": page}).json()
            jobs += body["results"]
            if not body["next"]:
                return jobs
            page += 1

    def remove_created(self) -> dict[str, list[int]]:
        """Deletes every task and project this connection created; returns their ids (best effort, logged)."""
        removed = {"tasks": [], "projects": []}
        for task_id in self.created_task_ids:
            if self._quietly(self.delete_task, task_id):
                removed["tasks"].append(task_id)
        for project_id in self.created_project_ids:
            if self._quietly(self.delete_project, project_id):
                removed["projects"].append(project_id)
        self.created_task_ids, self.created_project_ids = [], []
        return removed

    def _quietly(self, delete, object_id):
        try:
            delete(object_id)
            return True
        except CVATError as error:
            logger.warning("Could not delete CVAT object %s: %s", object_id, error)
            return False


_CREATED = {"/api/tasks": "created_task_ids", "/api/projects": "created_project_ids"}


def error_detail(response: requests.Response) -> str:
    """CVAT's error text, whatever its shape (``{"detail"}``, ``{"field": [...]}``, a list or a string)."""
    if "html" in response.headers.get("Content-Type", ""):
        title = re.search(r"<title>(.*?)</title>", response.text or "", re.S)
        return title.group(1).strip() if title else response.reason
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:300]
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])
    if isinstance(body, dict):
        return "; ".join(f"{key}: {_flat(value)}" for key, value in body.items())
    return _flat(body)


def _flat(value):
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def tls_message(url: str) -> str:
    """What to do when the TLS certificate of ``url`` cannot be verified."""
    return (
        f"The TLS certificate of {url} could not be verified. Point REQUESTS_CA_BUNDLE at your CA bundle, or, for a "
        "test server with a self-signed certificate only, turn verification off explicitly (verify_tls=False)."
    )


_HINTS = {
    401: " — log in again: check FIFTYONE_CVAT_USERNAME / FIFTYONE_CVAT_PASSWORD.",
    403: " — this CVAT user may not do that: ask the task's owner or an admin.",
    404: " — it no longer exists in CVAT (deleted there?).",
    413: " — the upload is too large for the server: use a smaller task size.",
    500: " — CVAT failed internally; see the server log.",
}
