"""Issue 19 for pre-labelling and embeddings, which keep their written batches on purpose so that a rerun resumes: a
failure at any stage finishes the run as failed, releases the lease and leaves only whole, declared batches; the
rerun writes only what is missing, and the result equals an uninterrupted run's."""

import uuid

import numpy as np
import pytest

import fiftyone as fo
from fiftyone.core.collections import SampleCollection

from core.models import source as models
from core.models.hf import HFPredictor
from core.prelabel import run as prelabel
from core.quality import embeddings as E
from core.store import fields, lease, runs
from core.store.declared import FieldGuard
from harness import injection as I
from testing import data

COUNT, BATCH = 24, 8
STAGES = [
    (fo.Dataset, "add_sample_field", 1),
    (HFPredictor, "predict", 2),
    (SampleCollection, "set_values", 2),
    (FieldGuard, "check", 2),
    (fo.Dataset, "add_dynamic_sample_fields", 1),
    (SampleCollection, "update_run_config", 1),
]
OPERATIONS = {  # name: (tiny model, output field, values to compare, stages)
    "prelabel": ("classification", "predictions", "predictions.label", STAGES),
    "embeddings": ("embedding", "embeddings", "embeddings", STAGES),
}


def _run(dataset, model_dir, field):
    """Pre-labels ``dataset`` (computes its missing embeddings for ``embeddings``) as the operators do."""
    request = prelabel.PrelabelRequest(models.parse_source("hf", model_dir), field, batch_size=BATCH, num_workers=1)
    if field == "embeddings":
        E.compute_missing(dataset, request)
    else:
        prelabel.prelabel(dataset, request)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    dataset = data.build_digits(f"failures-p-{uuid.uuid4().hex[:8]}", str(tmp_path_factory.mktemp("d")), COUNT)
    yield dataset
    dataset.delete()


@pytest.fixture(scope="module")
def uninterrupted(source, tiny_models):
    """The values of an uninterrupted run of each operation, by sample id."""
    values = {}
    for name, (model, field, path, _) in OPERATIONS.items():
        dataset = source.clone()
        _run(dataset, tiny_models[model], field)
        values[name] = dict(zip(*dataset.values(["id", path]), strict=True))
        dataset.delete()
    return values


@pytest.mark.parametrize(("name", "stage", "after"), I.params(OPERATIONS))
def test_a_failure_keeps_whole_batches_and_the_rerun_completes_them(
    source, tiny_models, uninterrupted, monkeypatch, name, stage, after
):
    model, field, path, _ = OPERATIONS[name]
    dataset = source.clone()
    calls = I.inject(monkeypatch, stage, after)
    with pytest.raises(OSError, match=I.INJECTED):
        _run(dataset, tiny_models[model], field)
    monkeypatch.undo()
    I.reached(calls, stage)
    [failed] = runs.list_suite_runs(dataset) or [None]
    assert failed is None or failed["status"] == runs.FAILED
    assert lease.live_leases(dataset) == []

    dataset.reload()
    undeclared = dataset._sample_collection.count_documents({field: {"$ne": None}})
    assert dataset.has_field(field) or not undeclared, "values were left in an undeclared field"
    kept = dataset.exists(field).values(["id", path]) if dataset.has_field(field) else ([], [])
    assert len(kept[0]) % BATCH == 0, "a batch was half written"
    if failed is not None and kept[0] and field != "embeddings":
        assert set(dataset.distinct(f"{field}.{fields.PRELABEL_RUN}")) <= {failed["key"]}
    _assert_same(dict(zip(*kept, strict=True)), uninterrupted[name])

    _run(dataset, tiny_models[model], field)
    rerun = runs.list_suite_runs(dataset)[0]
    assert rerun["status"] == runs.COMPLETED and rerun["counts"]["written"] == COUNT - len(kept[0])
    _assert_same(dict(zip(*dataset.values(["id", path]), strict=True)), uninterrupted[name], every=True)
    dataset.delete()


def _assert_same(values, expected, every=False):
    """``values`` ({id: value}) equal those of an uninterrupted run (for every sample when ``every``)."""
    assert not every or set(values) == set(expected)
    for sample_id, value in values.items():
        wanted = expected[sample_id]
        assert value == wanted if isinstance(wanted, str) else np.allclose(value, wanted, atol=1e-5)
