"""core.store.lease and its use by core.store.runs: one writer (or one job) per field, refusals that name the holder."""

import socket
from datetime import timedelta

import pytest

from core.exceptions import FieldBusy
from core.store import lease, runs
from harness.processes import wait_for


def holders(dataset, field):
    return [h["run_key"] for doc in lease.live_leases(dataset, [field]) for h in doc["holders"]]


def test_a_second_writer_is_refused_with_the_holder_and_what_to_do(dataset):
    with lease.acquire(dataset, ["predictions"], "prelabel_a", "alice"):
        with pytest.raises(FieldBusy) as refused:
            lease.acquire(dataset, ["predictions"], "prelabel_b", "bob")
    message = str(refused.value)
    assert isinstance(refused.value, RuntimeError)
    assert "'predictions'" in message and dataset.name in message and "prelabel_a" in message
    assert "alice" in message and socket.gethostname() in message and "since 20" in message
    assert "Wait for it to finish or write to another field" in message and "lease expires at" in message
    assert holders(dataset, "predictions") == []  # released on leaving the block


def test_a_refused_run_takes_none_of_its_fields(dataset):
    with lease.acquire(dataset, ["b"], "other", "bob"):
        with pytest.raises(FieldBusy):
            lease.acquire(dataset, ["a", "b"], "mine", "alice")
        assert holders(dataset, "a") == []
        lease.acquire(dataset, ["a"], "third", "carol").release()


def test_runs_of_one_job_share_the_lease_until_the_last_releases(dataset):
    first = lease.acquire(dataset, ["predictions"], "shard_1", "alice", job="job-1")
    second = lease.acquire(dataset, ["predictions"], "shard_2", "alice", job="job-1")
    assert holders(dataset, "predictions") == ["shard_1", "shard_2"]
    assert lease.problems(dataset, ["predictions"], job="job-1") == []
    first.release()
    with pytest.raises(FieldBusy, match="shard_2"):
        lease.acquire(dataset, ["predictions"], "intruder", "bob")
    second.release()
    assert lease.live_leases(dataset) == []


def test_attribute_paths_lease_their_label_field(dataset):
    with lease.acquire(dataset, ["predictions.detections.possible_missing"], "scores", "alice"):
        assert lease.problems(dataset, ["predictions"]) and holders(dataset, "predictions") == ["scores"]


def test_the_heartbeat_renews_the_lease(dataset):
    with lease.acquire(dataset, ["predictions"], "slow", "alice", ttl=0.6):
        [doc] = lease.live_leases(dataset)
        wait_for(lambda: lease.live_leases(dataset)[0]["expires_at"] > doc["expires_at"], "a renewal", timeout=20)


def test_a_run_holds_the_lease_on_its_fields_until_it_finishes(digits):
    key = runs.start_run(digits, "prelabel", fields=["predictions", "ground_truth"], user="alice")
    assert holders(digits, "predictions") == holders(digits, "ground_truth") == [key]
    with pytest.raises(FieldBusy, match=key):
        runs.start_run(digits, "accept_prelabels", fields=["ground_truth"])
    assert [r["key"] for r in runs.list_suite_runs(digits)] == [key]  # the refused run was not registered
    runs.finish_run(digits, key, error=ValueError("stopped"))
    assert lease.live_leases(digits) == []
    runs.finish_run(digits, runs.start_run(digits, "accept_prelabels", fields=["ground_truth"]))


def test_a_run_records_which_fields_it_created(digits):
    key = runs.start_run(digits, "prelabel", fields=["ground_truth", "predictions"])
    runs.finish_run(digits, key)
    [record] = runs.list_suite_runs(digits)
    assert record["fields"] == ["ground_truth", "predictions"] and record["created_fields"] == ["predictions"]


def test_the_ttl_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv(lease.TTL_ENV, "2.5")
    assert lease.default_ttl() == 2.5
    monkeypatch.delenv(lease.TTL_ENV)
    assert lease.default_ttl() == lease.DEFAULT_TTL


def test_a_lease_that_expires_while_it_is_being_taken_is_taken(dataset, monkeypatch):
    """The holder's lease runs out between the upsert and the check of who holds it: the retry asks again at the
    server's new time (with the first time kept, every retry was refused and the user told to try again)."""
    dead = lease.acquire(dataset, ["predictions"], "dead", "bob", ttl=1)
    expires = lease.live_leases(dataset, ["predictions"])[0]["expires_at"]
    times = iter([expires - timedelta(seconds=0.5)])  # the first look: still held; every later look: expired
    monkeypatch.setattr(lease, "_server_now", lambda: next(times, expires + timedelta(seconds=0.5)))
    lease.acquire(dataset, ["predictions"], "mine", "alice").release()
    dead.release()
