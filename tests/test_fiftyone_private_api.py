"""The private FiftyOne APIs of core/fiftyone_private.py still exist, with the signatures the suite relies on."""

import importlib
import inspect
import os
import re
import uuid

import pytest

import fiftyone as fo

from core.fiftyone_private import PRIVATE_APIS, PrivateAPI
from testing import synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGUMENT_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def problem(api: PrivateAPI) -> str | None:
    """What is wrong with ``api`` in the installed FiftyOne, naming it and its use sites; None when all is well."""
    reason = _reason(api)
    return reason and f"FiftyOne {fo.__version__}: {api.label} {reason} (used by {', '.join(api.used_by)})"


def _reason(api):
    module_name, _, name = api.owner.rpartition(".")
    try:
        owner = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return f"is gone: there is no {api.owner}"
    if api.kind != "instance attribute" and not hasattr(owner, api.name):
        return "is gone"
    return CHECKS[api.kind](api, owner)


def _assigned(api, owner):
    classes = (cls for cls in owner.__mro__ if cls.__module__.startswith("fiftyone."))
    if any(re.search(rf"\bself\.{api.name}\s*=", inspect.getsource(cls)) for cls in classes):
        return None
    return f"is gone: {owner.__name__} no longer assigns self.{api.name}"


def _value(api, owner):
    value = getattr(owner, api.name)
    if api.value is not None and value != api.value:
        return f"is {value!r}, the suite expects {api.value!r}"
    return None


def _called(api, owner):
    signature = inspect.signature(getattr(owner, api.name))
    changes = [f"no parameter {name!r}" for name in api.params if name not in signature.parameters] + [
        f"a new required parameter {name!r}"
        for name, parameter in list(signature.parameters.items())[1:]
        if name not in api.params and parameter.kind in ARGUMENT_KINDS and parameter.default is parameter.empty
    ]
    return f"changed ({', '.join(changes)}): signature {signature}" if changes else None


def _overridden(api, owner):
    names = tuple(list(inspect.signature(getattr(owner, api.name)).parameters)[1:])
    if names != api.params:
        return f"changed: parameters {names}, our override takes {api.params}"
    return None


CHECKS = {
    "attribute": lambda api, owner: None,
    "instance attribute": _assigned,
    "classattr": _value,
    "method": _called,
    "kwarg": _called,
    "override": _overridden,
}


@pytest.mark.parametrize("api", PRIVATE_APIS, ids=lambda api: f"{api.label}:{api.kind}")
def test_private_api_is_still_there(api):
    reason = problem(api)
    assert reason is None, reason


def test_every_use_site_exists_and_uses_the_api():
    """Keeps the table true: each ``used_by`` file exists and still names the private attribute or keyword."""
    stale = [
        (api.label, path)
        for api in PRIVATE_APIS
        for path in api.used_by
        if not os.path.isfile(os.path.join(REPO, path)) or _private_name(api) not in _read(path)
    ]
    assert not stale, f"used_by paths that are no files or no longer use the API: {stale}"


def _private_name(api):
    return next(name for name in (api.name, *api.params) if name.startswith("_"))


def _read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as file:
        return file.read()


FAKES = {
    "gone owner": PrivateAPI("fiftyone.utils.cvat.CVATNoSuchAPI", "_x", "attribute", ("a.py",)),
    "gone attribute": PrivateAPI("fiftyone.core.dataset.Dataset", "_no_such_thing", "attribute", ("a.py",)),
    "gone instance attribute": PrivateAPI("fiftyone.core.dataset.Dataset", "_no_doc", "instance attribute", ("a.py",)),
    "other value": PrivateAPI("fiftyone.core.labels.Detections", "_LABEL_LIST_FIELD", "classattr", ("a.py",), (), "x"),
    "parameter gone": PrivateAPI(
        "fiftyone.utils.cvat.CVATAnnotationResults", "_forget_tasks", "method", ("a.py",), ("task_ids", "keep")
    ),
    "gone kwarg": PrivateAPI("fiftyone.core.collections.SampleCollection", "values", "kwarg", ("a.py",), ("_cooked",)),
    "other override": PrivateAPI(
        "fiftyone.utils.cvat.CVATAnnotationAPI", "_make_request", "override", ("a.py",), ("request_method", "url")
    ),
}


@pytest.mark.parametrize("fake", FAKES.values(), ids=FAKES.keys())
def test_a_removed_or_changed_api_is_reported_by_name(fake):
    reason = problem(fake)
    assert reason is not None and fake.label in reason and "a.py" in reason, reason


def _layout(dataset):
    """The stored sample documents by filepath, with the per-insert values (ids, times, random keys) blanked."""
    volatile = {"_id", "_dataset_id", "_rand", "created_at", "last_modified_at"}

    def blank(value):
        if isinstance(value, dict):
            return {key: type(item).__name__ if key in volatile else blank(item) for key, item in value.items()}
        return [blank(item) for item in value] if isinstance(value, list) else value

    return {doc["filepath"]: blank(doc) for doc in dataset._sample_collection.find()}


def test_raw_sample_documents_are_stored_as_fiftyone_stores_them():
    """testing/synthetic.py writes sample documents itself: they must match what FiftyOne writes for the same data."""
    name = f"layout-{uuid.uuid4().hex[:8]}"
    built, bulk = synthetic.build(name, 4), synthetic.build_bulk(f"{name}-bulk", 4)
    try:
        assert _layout(bulk) == _layout(built)
        assert bulk.count("ground_truth.detections") == built.count("ground_truth.detections") > 0
    finally:
        built.delete()
        bulk.delete()
