"""A person deletes the output field while pre-labelling writes it: the dataset stays readable and the run fails
saying so (issue 15, item 2). FiftyOne deletes a field in two steps, unsetting its values on every sample and then
saving the schema without it; a write landing after the first step must not stay behind undeclared."""

import os
import subprocess
import sys

import pytest

import fiftyone as fo
import fiftyone.core.odm as foo

from core.models import source as models
from core.prelabel import run as prelabel
from core.store import runs
from core.store.declared import FieldGuard
from harness.processes import REPO

BATCH = 16
DELETED = "deleted while this run was writing it"


def request(model_dir):
    return prelabel.PrelabelRequest(
        source=models.parse_source("hf", model_dir), output_field="predictions", batch_size=BATCH
    )


def before_write(monkeypatch, number, action):
    """Runs ``action()`` before the ``number``-th batch write of pre-labelling (on the writer thread)."""
    original, calls = prelabel._write, [0]

    def write(*args):
        calls[0] += 1
        if calls[0] == number:
            action()
        return original(*args)

    monkeypatch.setattr(prelabel, "_write", write)


def delete_in_another_process(dataset, field):
    """``delete_sample_field`` as a person makes it from another process (returns once it is done)."""
    code = f"import fiftyone as fo; fo.load_dataset({dataset.name!r}).delete_sample_field({field!r})"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": REPO}, timeout=120)


def assert_readable_and_failed(dataset):
    dataset.reload()
    assert "predictions" not in dataset.get_field_schema()
    assert len(list(dataset.iter_samples())) == len(dataset)
    assert not dataset._sample_collection.count_documents({"predictions": {"$exists": True}})
    [run] = runs.list_suite_runs(dataset)
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
