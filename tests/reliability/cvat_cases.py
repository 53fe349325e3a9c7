"""CVAT faults through the test double: server down, wrong password, unknown assignee, 500 mid-upload, 413, TLS,
missing secrets, tasks deleted or forbidden before load, loading twice, a person editing the ground truth while the
review is out. Each call gets a fresh double (``res.cvat``) and the environment pointing at it."""

import contextlib
import math
import os
from unittest import mock

from testing.cvat_double import CVATDouble

from .registry import BAD_INPUT, CONCURRENCY, EMPTY_VIEW, FAULT, Case, register
from .resources import digits, operator, shapes

SECRETS = ("URL", "USERNAME", "PASSWORD")


@contextlib.contextmanager
def cvat(res, user=None, **double_options):
    """A fresh double as the configured CVAT (as ``user``, default its owner), kept on ``res.cvat``."""
    with CVATDouble(**double_options) as double:
        account = double.user(user) if user else double.owner
        values = {"URL": double.url, "USERNAME": account.username, "PASSWORD": account.password}
        res.cvat = double
        with mock.patch.dict(os.environ, {f"FIFTYONE_CVAT_{k}": v for k, v in values.items()}):
            yield double


def send(target, **options):
    return operator("send_to_cvat")(target, **options)


def sent_then(action, load_as=None, **load_options):
    """A call that sends the target, applies ``action(double, sent, target)``, then loads the review back."""

    def call(target, res):
        with cvat(res) as double:
            sent = send(target, task_size=2)
            action(double, sent, target)
            if load_as:
                os.environ["FIFTYONE_CVAT_USERNAME"] = load_as
                os.environ["FIFTYONE_CVAT_PASSWORD"] = double.user(load_as).password
            return operator("load_from_cvat")(target._root_dataset, review=sent["run_key"], **load_options)

    return call


def send_with(fault=None, double_options=None, **options):
    """A send call with ``fault(double)`` applied to the server first."""

    def call(target, res):
        with cvat(res, **(double_options or {})) as double:
            if fault:
                fault(double)
            return send(target, **options)

    return call


def left_nothing(target, res, error):
    """Problems when the double still holds a task or project after a refused or failed send."""
    return [f"CVAT still holds {name}" for name in ("tasks", "projects") if getattr(res.cvat, name)]


def split(target, res, result):
    return [] if result["tasks"] > 1 and result["samples"] == len(target) else [f"not split: {result}"]


def delete_first_task(double, sent, target):
    double.delete_task(sent["task_ids"][0])


def delete_all_tasks(double, sent, target):
    for task_id in sent["task_ids"]:
        double.delete_task(task_id)


def load_once(double, sent, target):
    operator("load_from_cvat")(target._root_dataset, review=sent["run_key"])


def reviewer_adds_a_box(res):
    def action(double, sent, target):
        res.journal.add_detection(target._root_dataset, target.first().id)

    return action


def missing_reported(target, res, result):
    return [] if result["missing_task_ids"] else [f"deleted task not reported: {result}"]


def _upload_limit(double):
    double.max_upload_bytes = 100


def _large_upload_limit(target):
    def fault(double):
        largest = max(os.path.getsize(path) for path in target.values("filepath"))
        double.max_upload_bytes = int(2.5 * largest) + 2_000

    return fault


def _limited(target, res):
    return send_with(_large_upload_limit(target))(target, res)


def _no_secrets(target, res):
    with mock.patch.dict(os.environ, {f"FIFTYONE_CVAT_{k}": "" for k in SECRETS}):
        return send(target)


def _reviewer_during_review(target, res):
    return sent_then(reviewer_adds_a_box(res))(target, res)


def _status_down(target, res):
    with cvat(res) as double:
        sent = send(target)
        double.stop()
        return operator("cvat_status")(target._root_dataset, review=sent["run_key"])


def _first(count):
    def setup(res):
        return shapes(res).limit(count)

    return setup


def _scored(res):
    """Four shapes with a numeric score field to select by."""
    target = _first(4)(res)
    target.set_values("mistakenness", [0.1, 0.4, 0.6, 0.9])
    return target


REVIEW = ("ground_truth_cvat_", "cvat_")  # the review field and run a send inside the call leaves (prefixes)
register(
    Case(
        "cvat_send_server_down",
        "send_to_cvat",
        FAULT,
        _first(2),
        send_with(lambda d: d.stop()),
        r"Cannot reach CVAT at",
    ),
    Case(
        "cvat_send_wrong_password",
        "send_to_cvat",
        FAULT,
        _first(2),
        send_with(lambda d: os.environ.update(FIFTYONE_CVAT_PASSWORD="wrong")),
        r"refused the login of 'admin': check",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_unknown_assignee",
        "send_to_cvat",
        BAD_INPUT,
        _first(2),
        send_with(job_assignees=["ghost"]),
        r"no user named 'ghost'",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_500_mid_upload",
        "send_to_cvat",
        FAULT,
        _first(4),
        send_with(lambda d: d.fail("POST", r"^/api/tasks/\d+/data", 500), project_name="p", task_size=2),
        r"CVAT answered 500 .* see the server log",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_413_even_one_image",
        "send_to_cvat",
        FAULT,
        _first(2),
        send_with(_upload_limit),
        r"413 .* smaller task size",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_413_is_split",
        "send_to_cvat",
        FAULT,
        _first(6),
        _limited,
        None,
        verify=split,
    ),
    Case(
        "cvat_send_self_signed_certificate",
        "send_to_cvat",
        FAULT,
        _first(1),
        send_with(double_options={"tls": True}),
        r"could not be verified.*REQUESTS_CA_BUNDLE",
        verify=left_nothing,
    ),
    Case("cvat_send_missing_secrets", "send_to_cvat", BAD_INPUT, _first(1), _no_secrets, r"set FIFTYONE_CVAT_URL"),
    Case(
        "cvat_send_empty_selection",
        "send_to_cvat",
        EMPTY_VIEW,
        shapes,
        send_with(tag="nothing-tagged"),
        r"selection is empty",
    ),
    Case(
        "cvat_send_unsupported_field",
        "send_to_cvat",
        BAD_INPUT,
        digits,
        send_with(gt_field="embeddings"),
        r"supports Classification and Detections",
    ),
    *(
        Case(
            f"cvat_send_min_score_{name}",
            "send_to_cvat",
            BAD_INPUT,
            _scored,
            send_with(score_field="mistakenness", min_score=value),
            rf"minimum score must be a finite number, not {value}",
            verify=left_nothing,
        )
        for name, value in (("nan", math.nan), ("minus_inf", -math.inf))  # each would select every sample
    ),
    Case(
        "cvat_load_task_deleted",
        "load_from_cvat",
        FAULT,
        _first(4),
        sent_then(delete_first_task),
        None,
        verify=missing_reported,
    ),
    Case(
        "cvat_load_all_tasks_deleted",
        "load_from_cvat",
        FAULT,
        _first(2),
        sent_then(delete_all_tasks),
        r"gone from CVAT: there is nothing to load",
        partial=REVIEW,
    ),
    Case(
        "cvat_load_another_users_task",
        "load_from_cvat",
        FAULT,
        _first(2),
        sent_then(lambda *_: None, load_as="user2"),
        r"403 .* ask the task's owner",
        partial=REVIEW,
    ),
    Case(
        "cvat_load_twice",
        "load_from_cvat",
        BAD_INPUT,
        _first(2),
        sent_then(load_once),
        r"already loaded: accept or revert",
        partial=(*REVIEW, "ground_truth_before_", "load_from_cvat_"),
    ),
    Case(
        "cvat_load_while_a_person_edits",
        "load_from_cvat",
        CONCURRENCY,
        _first(2),
        _reviewer_during_review,
        None,
    ),
    Case(
        "cvat_status_server_down", "cvat_status", FAULT, _first(1), _status_down, r"Cannot reach CVAT", partial=REVIEW
    ),
)
