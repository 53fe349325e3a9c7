"""Shared datasets: concurrent writers in separate processes are refused, recovered from, or run side by side."""

import signal
import socket
import time

import pytest

from fiftyone.operators.executor import ExecutionError

from core.exceptions import FieldBusy
from core.store import admin as run_admin
from core.store import lease, runs
from harness import processes

HOLD_LEASE = """
import fiftyone as fo
from core.store import runs
dataset = fo.load_dataset({name!r})
key = runs.start_run(dataset, "prelabel", fields=["predictions"], user="alice")
write_file({ready!r}, key)
wait_file({release!r})
runs.finish_run(dataset, key)
"""

PRELABEL_IN_STEP = """
import fiftyone as fo
from core.models import source as models
from core.prelabel import run as prelabel
dataset = fo.load_dataset({name!r})
request = prelabel.PrelabelRequest(models.parse_source("hf", {model!r}), {field!r}, batch_size=8)

def meet_the_other_run(bar):  # called after each batch: the first one waits until the other run is writing too
    if not os.path.exists({started!r}):
        write_file({started!r})
        wait_file({other_started!r})

result = prelabel.prelabel(dataset, request, progress=meet_the_other_run)
write_file({done!r}, result["run_key"])
"""


def hold_lease(dataset, tmp_path, **env):
    """A child process that takes the lease on 'predictions' as user alice; returns it and its run key."""
    ready, release = str(tmp_path / "ready"), str(tmp_path / "release")
    child = processes.spawn(HOLD_LEASE.format(name=dataset.name, ready=ready, release=release), **env)
    return child, processes.read_when_written(ready, child), release


def test_a_run_in_another_process_is_refused_and_named(digits, tiny_models, prelabel_op, tmp_path):
    child, key, release = hold_lease(digits, tmp_path)
    try:
        with pytest.raises(ExecutionError) as refused:
            prelabel_op(digits, tiny_models["classification"])  # the same output field, 'predictions'
        message = str(refused.value)
        assert key in message and "alice" in message and socket.gethostname() in message and "since" in message
        with pytest.raises(FieldBusy, match=key):
            runs.start_run(digits, "accept_prelabels", fields=["predictions"])
    finally:
        open(release, "w").close()
    processes.finish(child)
    assert prelabel_op(digits, tiny_models["classification"])["written"] == len(digits)


def test_the_lease_of_a_killed_holder_expires_and_another_process_takes_it(digits, tmp_path):
    ttl = 3.0
    child, key, _ = hold_lease(digits, tmp_path, **{lease.TTL_ENV: str(ttl)})
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    killed = time.monotonic()
    with pytest.raises(FieldBusy, match=key):  # not before its TTL has run out
        runs.start_run(digits, "prelabel", fields=["predictions"])

    def take_over():
        try:
            return runs.start_run(digits, "prelabel", fields=["predictions"])
        except FieldBusy:
            return None

    mine = processes.wait_for(take_over, "the dead holder's lease to expire", timeout=ttl + 30)
    assert time.monotonic() - killed <= ttl + 5
    statuses = {r["key"]: r["status"] for r in run_admin.list_runs(digits)}
    assert statuses == {key: run_admin.INTERRUPTED, mine: runs.RUNNING}
    runs.finish_run(digits, mine)
    assert run_admin.delete_run(digits, key) == {"run_key": key, "deleted_fields": [], "removed_labels": 0}


def test_two_processes_prelabel_different_fields_of_one_dataset_at_once(digits, tiny_models, tmp_path):
    human = digits.values("ground_truth")
    paths = {field: {k: str(tmp_path / f"{field}_{k}") for k in ("started", "done")} for field in ("pred_a", "pred_b")}
    children = [
        processes.spawn(
            PRELABEL_IN_STEP.format(
                name=digits.name,
                model=tiny_models["classification"],
                field=field,
                started=own["started"],
                other_started=paths[other]["started"],
                done=own["done"],
            )
        )
        for (field, own), other in zip(paths.items(), ("pred_b", "pred_a"), strict=True)
    ]
    for child in children:
        processes.finish(child)
    digits.reload()

    keys = {field: open(own["done"]).read() for field, own in paths.items()}
    for field, key in keys.items():
        assert digits.count(field) == len(digits)
        assert digits.distinct(f"{field}.prelabel_run") == [key]  # every label written, none clobbered
    assert digits.values("ground_truth") == human
    records = {r["key"]: r for r in runs.list_suite_runs(digits)}
    a, b = (records[keys[f]] for f in ("pred_a", "pred_b"))
    assert a["status"] == b["status"] == runs.COMPLETED
    assert a["started_at"] < b["finished_at"] and b["started_at"] < a["finished_at"]  # they overlapped
    assert lease.live_leases(digits) == []


DECLARE_FIELDS = """
import fiftyone as fo
from core.store import schema
dataset = fo.load_dataset({name!r})
write_file({ready!r})
wait_file({go!r})
for i in range(15):
    with schema.changing(dataset):
        dataset.add_sample_field(f"{prefix}_{{i}}", fo.FloatField)
"""


def test_fields_declared_by_two_processes_at_once_are_all_kept(dataset, tmp_path):
    go = str(tmp_path / "go")
    children = []
    for prefix in ("a", "b"):
        ready = str(tmp_path / f"ready_{prefix}")
        code = DECLARE_FIELDS.format(name=dataset.name, ready=ready, go=go, prefix=prefix)
        children.append((processes.spawn(code), ready))
    for child, ready in children:
        processes.read_when_written(ready, child)
    open(go, "w").close()
    for child, _ in children:
        processes.finish(child)
    dataset.reload()
    declared = [name for name in dataset.get_field_schema() if name[:2] in ("a_", "b_")]
    assert len(declared) == 30  # FiftyOne saves the field list whole: without the schema lease some are lost
