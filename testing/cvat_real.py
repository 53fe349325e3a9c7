"""A real CVAT server seen through the test double's test-facing interface (``url``, ``owner``, ``users``,
``user()``, ``tasks``, ``projects``, ``jobs``, ``annotations()``, ``delete_task()``, ``ca_file``), so that one test runs
against both. Only what was created since the object was made is seen and cleaned up (by anyone: run one test
session at a time against a server, as CI does).

Configured by ``LABELLOOP_CVAT_URL``, ``LABELLOOP_CVAT_USERNAME`` and ``LABELLOOP_CVAT_PASSWORD`` (an admin account,
e.g. the one ``../shared/cvat-server/up.sh`` creates) and, for the same server over https (``up.sh tls``),
``LABELLOOP_CVAT_TLS_URL`` with its certificate authority ``LABELLOOP_CVAT_CA_BUNDLE``. The double's second account
(``user2``) is registered on first use with the double's password, so tests address the same people on both.
"""

import os

import requests

from testing.cvat_double import DEFAULT_USERS, User

ENV = ("LABELLOOP_CVAT_URL", "LABELLOOP_CVAT_USERNAME", "LABELLOOP_CVAT_PASSWORD")


TLS_ENV = ("LABELLOOP_CVAT_TLS_URL", "LABELLOOP_CVAT_CA_BUNDLE")


def configured(tls: bool = False) -> bool:
    """Whether the environment names a real CVAT server to test against (over https with ``tls``)."""
    return all(os.environ.get(name) for name in ENV + (TLS_ENV if tls else ()))


class RealCVAT:
    """The real server named by the environment; call ``cleanup()`` when the test ends."""

    def __init__(self, tls: bool = False):
        url, username, password = (os.environ[name] for name in ENV)
        self.url = (os.environ["LABELLOOP_CVAT_TLS_URL"] if tls else url).rstrip("/")
        self.ca_file = os.environ["LABELLOOP_CVAT_CA_BUNDLE"] if tls else None
        self.owner = User(username, password, admin=True)
        self.users = [self.owner, *(user for user in DEFAULT_USERS[1:] if user.username != username)]
        self._verify = self.ca_file or True  # passed with each request: REQUESTS_CA_BUNDLE beats a session's own
        self._http = requests.Session()
        self._http.auth = (username, password)  # Basic: no CSRF token, and no logout in a test revokes it
        self._http.headers["Accept"] = "application/vnd.cvat+json"
        for user in self.users[1:]:
            self._ensure_account(user)
        self._before = {kind: self._last_id(kind) for kind in ("tasks", "projects")}

    def _call(self, method, path, **kwargs):
        response = self._http.request(method, f"{self.url}/api{path}", verify=self._verify, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def _pages(self, path, newer_than=0):
        """All results of a list endpoint sorted by descending id, down to ``newer_than`` (exclusive)."""
        url, results = f"{self.url}/api{path}", []
        while url:
            page = self._http.get(url, verify=self._verify)
            page.raise_for_status()
            fresh = [obj for obj in page.json()["results"] if obj["id"] > newer_than]
            results += fresh
            url = page.json()["next"] if len(fresh) == len(page.json()["results"]) else None
        return results

    def _ensure_account(self, user):
        login = requests.post(
            f"{self.url}/api/auth/login",
            json={"username": user.username, "password": user.password},
            verify=self._verify,
        )
        if login.status_code == 200:
            return
        account = {"username": user.username, "email": f"{user.username}@example.com"}
        account |= {"password1": user.password, "password2": user.password}
        self._call(
            "POST", "/auth/register", json=account | {"first_name": user.first_name, "last_name": user.last_name}
        )

    def _last_id(self, kind):
        newest = self._call("GET", f"/{kind}", params={"sort": "-id", "page_size": 1})["results"]
        return newest[0]["id"] if newest else 0

    def _created(self, kind):
        """``{id: object}`` of the ``kind`` ("tasks"/"projects") created since this object was."""
        found = self._pages(f"/{kind}?sort=-id&page_size=100", newer_than=self._before[kind])
        return {obj["id"]: obj for obj in reversed(found)}

    def user(self, username: str) -> User:
        return next(user for user in self.users if user.username == username)

    @property
    def tasks(self) -> dict:
        return self._created("tasks")

    @property
    def projects(self) -> dict:
        return self._created("projects")

    @property
    def jobs(self) -> dict:
        return {job["id"]: job for task_id in self.tasks for job in self._pages(f"/jobs?task_id={task_id}&sort=-id")}

    def annotations(self, task_id: int) -> dict:
        """The task's annotations as ``GET /api/tasks/{id}/annotations`` returns them."""
        return self._call("GET", f"/tasks/{task_id}/annotations")

    def delete_task(self, task_id: int) -> None:
        """Deletes a task as someone using CVAT's UI would."""
        self._call("DELETE", f"/tasks/{task_id}")

    def cleanup(self) -> None:
        """Deletes the tasks and projects created since this object was."""
        for task_id in self.tasks:
            self.delete_task(task_id)
        for project_id in self.projects:
            self._call("DELETE", f"/projects/{project_id}")
