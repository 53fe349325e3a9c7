"""CVAT faults through the test double: server down, wrong password, unknown assignee, 500 mid-upload, 413, TLS,
missing secrets, tasks deleted or forbidden before load, loading twice, a person editing the ground truth while the
review is out. Each call gets a fresh double (``res.cvat``) and the environment pointing at it."""

import contextlib
import math
import os
from unittest import mock

from testing.cvat_double import CVATDouble

from .registry import BAD_INPUT, CONCURRENCY, EMPTY_VIEW, FAULT, Case, register
from .resources import digits, on_call, operator, plugin_module, shapes
from .runner import fingerprint

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
        r"supports Classification, Detections \(boxes or instance masks\) and Polylines",
    ),
    *(
        Case(
            f"cvat_send_min_score_{name}",
            "send_to_cvat",
            BAD_INPUT,
            _scored,
            send_with(score_field="mistakenness", min_score=value),
            r"min_score: Invalid value type .*give a finite number",  # refused by the operator's type check
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


# --- issue 15d/e: server URLs and class names CVAT cannot take are refused before anything is created


def send_to_url(make_url):
    """A send with FIFTYONE_CVAT_URL set to ``make_url(double.url)``."""

    def call(target, res):
        with cvat(res) as double:
            os.environ["FIFTYONE_CVAT_URL"] = make_url(double.url)
            return send(target)

    return call


def sent_all(target, res, result):
    return [] if result["samples"] == len(target) and res.cvat.tasks else [f"not sent: {result}"]


def _long_class_name(res):
    target = _first(2)(res)
    sample = target.first()
    sample.ground_truth.detections[0].label = "x" * 65
    sample.save()
    return target


URL_CASES = [
    ("without_scheme", lambda url: url.split("://", 1)[1], r"is not an http\(s\) URL of the CVAT server: give it"),
    ("ftp", lambda url: "ftp://" + url.split("://", 1)[1], r"'ftp://[^']*' is not an http\(s\) URL"),
    ("trailing_newline", lambda url: url + "\n", None),
    ("ending_in_api", lambda url: url + "/api/", None),
]
register(
    *(
        Case(
            f"cvat_send_url_{name}",
            "send_to_cvat",
            BAD_INPUT,
            _first(2),
            send_to_url(make_url),
            error,
            verify=left_nothing if error else sent_all,
        )
        for name, make_url, error in URL_CASES
    ),
    Case(
        "cvat_send_class_name_over_64",
        "send_to_cvat",
        BAD_INPUT,
        _long_class_name,
        send_with(),
        r"at most 64 characters; 1 are longer: 'x{40}\.\.\.' \(65 characters\)",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_task_size_2_63",
        "send_to_cvat",
        BAD_INPUT,
        _first(2),
        send_with(task_size=2**63),
        r"task_size: Invalid value type.*below 2\*\*63",
        verify=left_nothing,
    ),
)


# --- issue 15 item 1: samples deleted by another user while a send uploads them


def deleted_by_another_user(target, ids, res):
    """Deletes samples ``ids`` as another user would: what they held is theirs to lose (``res.journal``)."""
    doomed = target._root_dataset.select(ids)
    for name in doomed.get_field_schema():
        res.journal.removed.update(fingerprint(doomed, name))
    target._root_dataset.delete_samples(ids)


def _deleted_mid_upload(target, res):
    ids = target.values("id")[:2]
    connection = plugin_module("annotation.connection").CVATConnection
    with cvat(res), on_call(connection, "create_task", 1, lambda: deleted_by_another_user(target, ids, res)):
        return send(target, task_size=4)


register(
    Case(
        "cvat_send_samples_deleted_mid_upload",
        "send_to_cvat",
        CONCURRENCY,
        _first(8),
        _deleted_mid_upload,
        r"2 of the 8 samples were deleted while they were sent.*Send the remaining samples again",
        verify=left_nothing,
    ),
)
