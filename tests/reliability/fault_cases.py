"""Faults: models that fail mid-run, failing writes, corrupt and missing images, a delegated worker killed with
SIGKILL mid-run, a run that fails in a delegated worker, and people editing labels while an operator runs."""

import os
import shutil
import subprocess
import sys
import time
from unittest import mock

import fiftyone.core.odm as foo
from fiftyone import ViewField as F
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionError

from core.store import runs
from harness import operators as ops

from .registry import CONCURRENCY, FAULT, Case, register
from .resources import (
    BATCH,
    CLASSIFIER,
    DETECTOR,
    EMBEDDER,
    digits,
    fail_on_call,
    on_call,
    operator,
    plugin_module,
    sdk,
    shapes,
)

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER_DEADLINE = 300  # seconds for a child worker to reach its stall point (it imports torch and transformers)
WORKER_LEASE_TTL = 2  # seconds: the lease of the killed worker on its output field lapses this long after the kill


def _problems(*checks):
    """The messages of the failed ``(ok, message)`` checks."""
    return [message for ok, message in checks if not ok]


def _whole_labels(target, field):
    """Problems when a written label of ``field`` lacks its label, confidence or provenance (half-written)."""
    paths = [f"{field}.{attribute}" for attribute in ("label", "confidence", "model_version", "prelabel_run")]
    counts = {path: target.count(path) for path in paths}
    return _problems((len(set(counts.values())) == 1, f"'{field}' has half-written labels: {counts}"))


def _latest_run(target, kind):
    return next(r for r in runs.list_suite_runs(target) if r["kind"] == kind)


# --- a model that fails mid-run: whole batches kept, run failed, a rerun resumes


def _interrupted_model_case(operator_name, kind, model, field, verify_labels):
    message = "simulated model failure in batch 3"

    def call(target, res):
        with fail_on_call(plugin_module("models.hf").HFPredictor, "predict", 3, message):
            return operator(operator_name)(target, res.path(model), output_field=field, batch_size=BATCH)

    def verify(target, res, error):
        kept, run = target.count(field), _latest_run(target, kind)
        rerun = operator(operator_name)(target, res.path(model), output_field=field, batch_size=BATCH)
        return verify_labels(target, field) + _problems(
            (kept == 2 * BATCH, f"kept {kept} samples, expected the {2 * BATCH} of the two finished batches"),
            (run["status"] == runs.FAILED and message in (run["error"] or ""), f"run ended as {run['status']}"),
            (rerun["skipped_existing"] == kept, f"the rerun redid finished samples: {rerun}"),
            (target.count(field) == len(target), f"the rerun left {len(target) - target.count(field)} samples"),
        )

    name = f"{'prelabel' if operator_name == 'prelabel' else 'embeddings'}_model_fails_mid_run"
    return Case(name, operator_name, FAULT, digits, call, message, verify=verify, partial=(field,))


register(
    _interrupted_model_case("prelabel", "prelabel", CLASSIFIER, "second_opinion", _whole_labels),
    _interrupted_model_case("compute_embeddings", "embeddings", EMBEDDER, "vectors", lambda target, field: []),
)


# --- corrupt and missing images: skipped, counted, listed; a rerun retries them


def _damaged_digits(res):
    dataset = res.private_digits()
    paths = dataset.values("filepath")
    for path in paths[3:5]:
        with open(path, "wb") as f:
            f.write(b"not a png")
    os.remove(paths[7])
    return dataset


def _skipped_and_retried(target, res, result):
    paths = target.values("filepath")
    damaged = [paths[i] for i in (3, 4, 7)]
    for path in damaged:  # repaired from the identical base images
        shutil.copy(os.path.join(res.root, "digits", os.path.basename(path)), path)
    retry = operator("prelabel")(target, res.path(CLASSIFIER), batch_size=BATCH)
    return _whole_labels(target, "predictions") + _problems(
        (result["failed_images"] == 3, f"{result['failed_images']} failures reported, expected 3"),
        (all(any(p in f for f in result["failures"]) for p in damaged), f"failures listed: {result['failures']}"),
        (result["written"] == len(target) - 3, f"wrote {result['written']} of {len(target) - 3} readable images"),
        (retry["written"] == 3 and retry["failed_images"] == 0, f"the retry after repair gave {retry}"),
    )


def _all_unreadable(res):
    dataset = res.private_digits(count=6)
    for path in dataset.values("filepath"):
        os.remove(path)
    return dataset


def _reported_every_failure(target, res, result):
    return _problems(
        (result["failed_images"] == 6 and result["written"] == 0, f"result {result}"),
        (_latest_run(target, "prelabel")["status"] == runs.COMPLETED, "the run is not marked completed"),
    )


register(
    Case(
        "prelabel_corrupt_and_missing_images",
        "prelabel",
        FAULT,
        _damaged_digits,
        sdk("prelabel", CLASSIFIER, batch_size=BATCH),
        None,
        verify=_skipped_and_retried,
    ),
    Case(
        "prelabel_every_image_unreadable",
        "prelabel",
        FAULT,
        _all_unreadable,
        sdk("prelabel", CLASSIFIER),
        None,
        verify=_reported_every_failure,
    ),
)


# --- a delegated worker killed with SIGKILL mid-run: nothing lost, a rerun of the operation completes


def _kill_worker_mid_run(target, res):
    """Queues a pre-labelling, lets a worker write two batches, kills it, then reruns the operation."""
    params = {"model": res.path(CLASSIFIER), "output_field": "second_opinion", "batch_size": BATCH}
    queued = ops.run("prelabel", target, params, delegated=True).result["id"]
    worker = _start_stalling_worker(target.name, 2, os.path.join(res.root, f"worker-{target.name}.log"))
    try:
        _wait_for(lambda: _count(target, "second_opinion") >= 2 * BATCH, worker, "two batches were written")
    finally:
        worker.kill()  # SIGKILL: no cleanup runs in the worker
        worker.wait()
    _wait_for(lambda: _lease_lapsed(target, "second_opinion"), None, "the dead worker's lease lapsed")
    killed = {"kept": target.count("second_opinion"), "state": ops.delegated_operation(queued).run_state}
    service = DelegatedOperationService()
    rerun = service.rerun_operation(ops.delegated_operation(queued).id)  # the App's "Re-run"
    service.execute_queued_operations(dataset_name=target.name)  # a healthy worker
    return {**killed, "rerun": ops.delegated_operation(rerun.id)}


def _count(dataset, field):
    """How many samples have ``field``, as another process writes it (0 before it declares the field)."""
    dataset.reload()
    return dataset.count(field) if dataset.has_field(field) else 0


def _start_stalling_worker(dataset_name, batches, log_path):
    """A child ``reliability.worker`` process; its output goes to ``log_path``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(TESTS), TESTS])}
    env["LABELLOOP_LEASE_TTL_SECONDS"] = str(WORKER_LEASE_TTL)
    command = [sys.executable, "-m", "reliability.worker", dataset_name, "--batches", str(batches)]
    with open(log_path, "w") as log:
        worker = subprocess.Popen(command, cwd=TESTS, env=env, stdout=log, stderr=subprocess.STDOUT)
    worker.log_path = log_path
    return worker


def _lease_lapsed(target, field):
    """Whether no live lease holds ``field`` (True where the plugin has no leases)."""
    try:
        lease = plugin_module("store.lease")
    except ImportError:
        return True
    return not lease.live_leases(target, [field])


def _wait_for(condition, worker, what, deadline=WORKER_DEADLINE):
    """Polls ``condition`` until it holds; fails when the worker (if any) exits first or the deadline passes."""
    end = time.monotonic() + deadline
    while not condition():
        if worker is not None and worker.poll() is not None:
            raise RuntimeError(f"the worker exited ({worker.returncode}) before {what}; see {worker.log_path}")
        if time.monotonic() > end:
            raise TimeoutError(f"not {what} within {deadline} s")
        time.sleep(0.1)


def _resumed_after_kill(target, res, result):
    kept, rerun = result["kept"], result["rerun"]
    done = rerun.result.result if rerun.run_state == "completed" else {}
    return _whole_labels(target, "second_opinion") + _problems(
        (0 < kept < len(target), f"the killed worker kept {kept} of {len(target)} samples"),
        (rerun.run_state == "completed", f"the rerun ended as {rerun.run_state}: {rerun.result}"),
        (done.get("skipped_existing") == kept, f"the rerun redid finished samples: {done}"),
        (target.count("second_opinion") == len(target), "the rerun did not label every sample"),
    )


register(
    Case(
        "prelabel_delegated_worker_killed",
        "prelabel",
        FAULT,
        digits,
        _kill_worker_mid_run,
        None,
        verify=_resumed_after_kill,
    )
)


# --- a run that fails inside a delegated worker: the operation records the clear error


def _delegated_failure(target, res):
    path = os.path.join(res.root, "empty-model-dir")
    os.makedirs(path, exist_ok=True)
    params = {"model": "classification-transformer-torch", "model_source": "zoo", "zoo_name_or_path": path}
    queued = ops.run("prelabel", target, params, delegated=True).result["id"]
    DelegatedOperationService().execute_queued_operations(dataset_name=target.name)  # as a worker does
    done = ops.delegated_operation(queued)
    if done.run_state == "failed":
        raise ExecutionError(done.result.error)
    return done.run_state


register(
    Case(
        "prelabel_fails_in_delegated_worker",
        "prelabel",
        FAULT,
        digits,
        _delegated_failure,
        r"Could not load zoo model 'classification-transformer-torch'.*give a local transformers directory",
    ),
    Case(
        "prelabel_delegated_bad_input_refused_when_queued",
        "prelabel",
        FAULT,
        digits,
        lambda target, res: ops.run("prelabel", target, {"model": "/nonexistent/model"}, delegated=True),
        r"No such model directory: '/nonexistent/model'",
    ),
)


# --- failing writes in the middle of a run


def _failing_write_case(name, operator_name, module, call, setup, verify=None, partial=()):
    message = "simulated database failure in chunk 3"

    def run(target, res):
        core, writer = plugin_module(module), plugin_module("store.chunk_writes")
        with mock.patch.object(core, "CHUNK", 4), fail_on_call(writer, "bulk_set", 3, message):
            return call(target, res)

    return Case(name, operator_name, FAULT, setup, run, message, verify=verify, partial=partial)


def _run_failed(kind):
    def verify(target, res, error):
        status = _latest_run(target, kind)["status"]
        return _problems((status == runs.FAILED, f"the {kind} run ended as {status}"))

    return verify


register(
    _failing_write_case(
        "compare_write_fails_mid_run",
        "compare_models",
        "regression.compare",
        sdk("compare_models", "baseline", "candidate"),
        shapes,
        verify=_run_failed("compare_models"),
    ),
    _failing_write_case(
        "mistakenness_write_fails_mid_run",
        "compute_mistakenness",
        "quality.mistakenness",
        sdk("compute_mistakenness", "baseline"),
        shapes,
        verify=_run_failed("mistakenness"),
    ),
)


def _accept_fails_mid_run(target, res):
    accept = plugin_module("prelabel.accept")
    with mock.patch.object(accept, "CHUNK", 4), fail_on_call(accept, "_accept_chunk", 3, "simulated failure"):
        return operator("accept_prelabels")(target, "baseline", threshold=0.5)


def _accept_reruns(target, res, error):
    failed = _run_failed("accept_prelabels")(target, res, error)
    rerun = operator("accept_prelabels")(target, "baseline", threshold=0.5)
    expected = target.filter_labels("baseline", F("confidence") >= 0.5).count("baseline.detections")
    accepted = target.count("ground_truth.detections.accepted_run")
    return failed + _problems(
        (accepted - rerun["promoted"] == 0, f"{accepted - rerun['promoted']} promoted before the failure remained"),
        (accepted == expected, f"{accepted} accepted after the rerun, expected {expected} (duplicates or gaps)"),
    )


def _uniqueness_knn_fails(target, res):
    with fail_on_call(plugin_module("quality.neighbors"), "knn", 1, "simulated failure in the neighbour search"):
        return operator("compute_uniqueness")(target)


register(
    Case(
        "accept_fails_mid_run_then_reruns",
        "accept_prelabels",
        FAULT,
        shapes,
        _accept_fails_mid_run,
        "simulated failure",
        verify=_accept_reruns,  # a failed accept is taken back whole (issue 19); the rerun promotes everything
    ),
    Case(
        "uniqueness_search_fails",
        "compute_uniqueness",
        FAULT,
        digits,
        _uniqueness_knn_fails,
        "simulated failure in the neighbour search",
        verify=_run_failed("uniqueness"),
    ),
)


# --- people editing labels while an operator runs: their edits must survive


def _while_people_edit(owner, attribute, call):
    """A call during which, at the first ``owner().attribute`` call, a reviewer adds a box to sample 5's ground
    truth and deletes the first box of sample 6 (samples the operator has read but not written yet)."""

    def run(target, res):
        ids = target.values("id")

        def edit():
            res.journal.add_detection(target, ids[5])
            res.journal.remove_detection(target, ids[6])

        with on_call(owner(), attribute, 1, edit):
            return call(target, res)

    return run


def _boxes_intact(target, res, result):
    broken = [d for d in target.values("ground_truth.detections", unwind=True) if d is None or not d.bounding_box]
    return _problems((not broken, f"{len(broken)} ground-truth boxes half-written by position"))


CONCURRENT = [
    ("prelabel", lambda: plugin_module("models.hf").HFPredictor, "predict", sdk("prelabel", DETECTOR, batch_size=4)),
    ("accept", lambda: plugin_module("prelabel.accept"), "_promote", sdk("accept_prelabels", "baseline")),
    (
        "mistakenness",
        lambda: plugin_module("quality.mistakenness"),
        "score_chunk",
        sdk("compute_mistakenness", "baseline"),
    ),
    (
        "compare",
        lambda: plugin_module("regression.compare"),
        "_compare_chunk",
        sdk("compare_models", "baseline", "candidate"),
    ),
]
OPERATORS = {"accept": "accept_prelabels", "mistakenness": "compute_mistakenness", "compare": "compare_models"}
for short, owner, attribute, call in CONCURRENT:
    register(
        Case(
            f"{short}_while_a_reviewer_edits",
            OPERATORS.get(short, short),
            CONCURRENCY,
            shapes,
            _while_people_edit(owner, attribute, call),
            None,
            verify=_boxes_intact,
        )
    )


# --- a person deletes the output field while pre-labelling writes it: no value is left undeclared

DELETED = "deleted while this run was writing it"


def _delete_field_elsewhere(target, field):
    """What ``delete_sample_field`` does to the database from another process (this one's dataset object keeps the
    field): every value unset, then the schema saved without the field."""
    dataset = target._root_dataset
    dataset._sample_collection.update_many({}, {"$unset": {field: ""}})
    foo.get_db_conn().datasets.update_one({"_id": dataset._doc.id}, {"$pull": {"sample_fields": {"name": field}}})


def _field_deleted_mid_run(target, res):
    with on_call(plugin_module("prelabel.run"), "_write", 2, lambda: _delete_field_elsewhere(target, "second_opinion")):
        return operator("prelabel")(target, res.path(CLASSIFIER), output_field="second_opinion", batch_size=BATCH)


def _readable_and_failed(target, res, error):
    target.reload()
    read = len(list(target.iter_samples()))  # raises FieldDoesNotExist when values are left in an undeclared field
    run = _latest_run(target, "prelabel")
    return _problems(
        (read == len(target), f"read {read} of {len(target)} samples"),
        (run["status"] == runs.FAILED and DELETED in (run["error"] or ""), f"run ended as {run['status']}"),
    )


register(
    Case(
        "prelabel_output_field_deleted_mid_run",
        "prelabel",
        FAULT,
        digits,
        _field_deleted_mid_run,
        DELETED,
        verify=_readable_and_failed,
    )
)
