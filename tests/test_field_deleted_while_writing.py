"""A person deletes an output field while a run writes it (pre-labelling, a comparison, mistakenness, uniqueness,
accepting pre-labels, a CVAT review field, merging a review):
the dataset stays readable and the run fails saying so (issue 15, item 2). FiftyOne deletes a field in two steps,
unsetting its values on every sample and then saving the schema without it; a write landing after the first step
must not stay behind undeclared."""

import functools
import os
import subprocess
import sys

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.core.odm as foo

from core.annotation import merge as cvat_merge
from core.annotation import review_field as cvat_review
from core.models import source as models
from core.prelabel import accept as A
from core.prelabel import run as prelabel
from core.quality import mistakenness as M
from core.quality import uniqueness as U
from core.regression import compare as R
from core.store import chunk_writes as CW
from core.store import runs, writes
from core.store.declared import FieldGuard
from harness.processes import REPO
from testing import data

BATCH = 16
DELETED = "deleted while this run was writing it"


def request(model_dir):
    return prelabel.PrelabelRequest(
        source=models.parse_source("hf", model_dir), output_field="predictions", batch_size=BATCH
    )


def before_call(monkeypatch, owner, name, number, action):
    """Runs ``action()`` before the ``number``-th call of ``owner.name`` (e.g. a run's chunk write)."""
    original, calls = getattr(owner, name), [0]

    def call(*args, **kwargs):
        calls[0] += 1
        if calls[0] == number:
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, call)


def before_write(monkeypatch, number, action):
    """Runs ``action()`` before the ``number``-th batch write of pre-labelling (on the writer thread)."""
    before_call(monkeypatch, prelabel, "_write", number, action)


def delete_in_another_process(dataset, field):
    """``delete_sample_field`` as a person makes it from another process (returns once it is done)."""
    code = f"import fiftyone as fo; fo.load_dataset({dataset.name!r}).delete_sample_field({field!r})"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)


def assert_readable_and_failed(dataset, field="predictions"):
    dataset.reload()
    assert field not in dataset.get_field_schema()
    assert len(list(dataset.iter_samples())) == len(dataset)
    assert not dataset._sample_collection.count_documents({field: {"$exists": True}})
    run = runs.list_suite_runs(dataset)[0]
    assert run["status"] == runs.FAILED and DELETED in run["error"]


def test_a_field_deleted_between_two_batch_writes_leaves_no_undeclared_values(digits, tiny_models, monkeypatch):
    before_write(monkeypatch, 2, lambda: delete_in_another_process(digits, "predictions"))
    with pytest.raises(RuntimeError, match=DELETED):
        prelabel.prelabel(digits, request(tiny_models["classification"]))
    assert_readable_and_failed(digits)


def test_a_write_between_the_two_steps_of_a_deletion_is_taken_back(digits, tiny_models, monkeypatch):
    """Values unset (step one) before batch 2 is written, schema saved (step two) only after the run ended."""
    collection = digits._sample_collection
    before_write(monkeypatch, 2, lambda: collection.update_many({}, {"$unset": {"predictions": ""}}))
    with pytest.raises(RuntimeError, match=DELETED):
        prelabel.prelabel(digits, request(tiny_models["classification"]))
    field = {"$pull": {"sample_fields": {"name": "predictions"}}}
    foo.get_db_conn().datasets.update_one({"_id": digits._doc.id}, field)
    assert_readable_and_failed(digits)


def test_a_person_clearing_a_few_written_values_is_no_deletion(dataset):
    dataset.add_samples([fo.Sample(filepath=f"/tmp/{i}.png") for i in range(4)])
    dataset.add_sample_field("score", fo.FloatField)
    ids = dataset.values("id")
    dataset.set_values("score", dict.fromkeys(ids, 1.0), key_field="id")
    guard, collection = FieldGuard(dataset, "score"), dataset._sample_collection
    guard.check(ids[:2])
    collection.update_one({"_id": guard.written[0]}, {"$unset": {"score": ""}})  # mongoengine saves None so
    guard.check(ids[2:])
    collection.update_many({}, {"$unset": {"score": ""}})  # the first step of a deletion
    with pytest.raises(RuntimeError, match=DELETED):
        guard.check([])


@pytest.mark.parametrize("rerun", [False, True])
def test_a_field_deleted_between_two_chunk_writes_of_a_comparison_fails_it(shapes, monkeypatch, rerun):
    """A first run creates the fields, whose deletion by the rollback must not fail; a rerun finds them, whose earlier
    values the rollback restores, except into the deleted field."""
    data.add_simulated_predictions(shapes)
    request = R.CompareRequest("ground_truth", "baseline", "candidate")
    if rerun:
        R.compare(shapes, request)
        fixed = shapes.values("compare_fixed")
    monkeypatch.setattr(R, "CHUNK", 8)
    before_call(monkeypatch, CW, "bulk_set", 2, lambda: delete_in_another_process(shapes, "compare_score"))
    with pytest.raises(RuntimeError, match=DELETED):
        R.compare(shapes, request)
    assert_readable_and_failed(shapes, "compare_score")
    written = [name for name in shapes.get_field_schema() if name.startswith("compare")]
    assert shapes.values("compare_fixed") == fixed if rerun else not written


def test_a_field_deleted_between_two_chunk_writes_of_mistakenness_fails_it(shapes, monkeypatch):
    data.add_simulated_predictions(shapes)
    monkeypatch.setattr(M, "CHUNK", 8)
    before_call(monkeypatch, CW, "bulk_set", 2, lambda: delete_in_another_process(shapes, "possible_missing"))
    with pytest.raises(RuntimeError, match=DELETED):
        M.compute(shapes, M.MistakennessRequest("candidate"))
    assert_readable_and_failed(shapes, "possible_missing")


def test_a_field_deleted_between_two_chunk_writes_of_uniqueness_fails_it(dataset, monkeypatch):
    dataset.add_samples([fo.Sample(filepath=f"/img/{i}.png") for i in range(20)])
    dataset.set_values("emb", list(np.random.default_rng(0).normal(size=(20, 8))))
    monkeypatch.setattr(U, "CHUNK", 5)
    before_call(monkeypatch, writes, "bulk_set", 2, lambda: delete_in_another_process(dataset, "uniqueness"))
    with pytest.raises(RuntimeError, match=DELETED):
        U.compute_uniqueness(dataset, "emb")
    assert_readable_and_failed(dataset, "uniqueness")


def assert_readable_without(dataset, field):
    """The dataset reads, and ``field`` is neither declared nor set on any sample."""
    dataset.reload()
    assert field not in dataset.get_field_schema()
    assert len(list(dataset.iter_samples())) == len(dataset)
    assert not dataset._sample_collection.count_documents({field: {"$exists": True}})


def test_the_ground_truth_deleted_between_two_chunks_of_accept_fails_it(shapes, monkeypatch):
    data.add_simulated_predictions(shapes)
    shapes.set_values("ground_truth", [None] * len(shapes))  # every sample takes the candidate's boxes
    monkeypatch.setattr(A, "CHUNK", 8)
    before_call(monkeypatch, A, "_accept_chunk", 2, lambda: delete_in_another_process(shapes, "ground_truth"))
    with pytest.raises(RuntimeError, match=DELETED):
        A.accept(shapes, "candidate", threshold=0.0)
    assert_readable_and_failed(shapes, "ground_truth")


def test_the_review_field_deleted_between_two_chunks_of_a_send_fails_it(shapes, monkeypatch):
    monkeypatch.setattr(cvat_review, "CHUNK", 8)
    delete = functools.partial(delete_in_another_process, shapes, "ground_truth_review")
    before_call(monkeypatch, cvat_review, "bulk_set", 2, delete)
    with pytest.raises(RuntimeError, match=DELETED):
        cvat_review.build(shapes, "ground_truth", "ground_truth_review")
    assert_readable_without(shapes, "ground_truth_review")


def test_the_ground_truth_deleted_between_two_chunks_of_a_merge_fails_it(shapes, monkeypatch):
    cvat_review.build(shapes, "ground_truth", "ground_truth_review")
    sent = dict(zip(shapes.values("id"), shapes.values("ground_truth.detections.id"), strict=True))
    monkeypatch.setattr(cvat_merge, "CHUNK", 8)
    collection = fo.core.collections.SampleCollection
    before_call(monkeypatch, collection, "set_values", 3, lambda: delete_in_another_process(shapes, "ground_truth"))
    with pytest.raises(RuntimeError, match=DELETED):
        cvat_merge.merge(shapes, "ground_truth", "ground_truth_review", backup_field="gt_backup", sent_ids=sent)
    assert_readable_without(shapes, "ground_truth")
