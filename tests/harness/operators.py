"""Runs the suite's operators and panels exactly as the SDK and the App do, with a real ExecutionContext."""

import copy
import importlib
import json
import subprocess
import sys

from bson import ObjectId

import fiftyone.operators as foo
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionError

PLUGIN = "@labelloop/mlops"


def uri(name):
    return f"{PLUGIN}/{name}"


def plugin_module(name):
    """The plugin's module ``operators.<name>`` (FiftyOne imports the plugin as a package of its own)."""
    return importlib.import_module(
        f"{type(foo.get_operator(uri('get_labelloop_info'))).__module__.rsplit('.', 1)[0]}.{name}"
    )


def run(name, target, params=None, delegated=False, selected=None):
    """Executes operator ``name`` on the collection ``target``; returns the ``ExecutionResult``."""
    ctx = {"view": target.view(), "params": params or {}, "selected": selected or []}
    return foo.execute_operator(uri(name), ctx=ctx, request_delegation=delegated)


def validation_error(name, target, params=None):
    """The message of the validation error that operator ``name`` raises for ``params`` (fails if none)."""
    try:
        run(name, target, params)
    except ExecutionError as error:
        return str(error)
    raise AssertionError(f"{name} accepted {params!r}")


def run_panel(name, target, method, state=None, event_args=None):
    """Calls panel ``name``'s ``method`` as the App does; returns the App requests it triggered, by operator."""
    state = copy.deepcopy(state or {})  # the panel updates its state in place, as the App's copy would
    params = {"__method__": method, "panel_id": "test-panel", "state": state, "panel_state": state}
    params["event_args"] = event_args or {}
    result = run(name, target, params)
    requests = {}
    for request in result.executor.to_json()["requests"]:
        requests.setdefault(request["operator_uri"].rsplit("/", 1)[-1], []).append(request["params"])
    return requests


def run_queued_in_child(dataset_name, timeout=300, workers=1):
    """Runs the dataset's queued delegated operations in ``workers`` concurrent child processes, each a
    ``fiftyone delegated`` worker (a worker claims an operation atomically, so none runs twice)."""
    code = (
        "from fiftyone.operators.delegated import DelegatedOperationService as S; "
        f"S().execute_queued_operations(dataset_name={json.dumps(dataset_name)}, log=True)"
    )
    children = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(workers)]
    for child in children:
        assert child.wait(timeout=timeout) == 0


def delegated_operation(operation_id):
    """The stored delegated operation document with ``operation_id``."""
    return DelegatedOperationService().get(ObjectId(str(operation_id)))
