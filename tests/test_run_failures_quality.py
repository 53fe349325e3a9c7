"""Issue 19: a failure at any stage of uniqueness, near duplicates, embedding maps, active learning selection and
accepting pre-labels leaves no written field, value, tag, label attribute or brain run, no running run and no lease
behind."""

import uuid

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.brain as fob
import fiftyone.core.utils as fou
from fiftyone.core.collections import SampleCollection

from core.prelabel import accept as A
from core.quality import active_learning as L
from core.quality import embedding_map as E
from core.quality import uniqueness as U
from core.store import declared, runs, writes
from core.store.declared import FieldGuard
from harness import injection as I
from testing import synthetic

START = [(SampleCollection, "register_run", 1)]
END = [(SampleCollection, "update_run_config", 1)]  # recording completion


def _uniqueness(dataset):
    return U.compute_uniqueness(dataset, "embeddings", k=2)


def _duplicates(dataset):
    return U.find_near_duplicates(dataset, "embeddings", threshold=0.05, duplicate_tag="dup", member_tag="member")


def _map(dataset):
    return E.compute(dataset, embeddings_field="embeddings", method="pca", brain_key="failing_map")


def _select(dataset):
    return L.select(dataset, "candidate", 5, embeddings_field="embeddings", tag="to_annotate")


def _accept_new(dataset):
    return A.accept(dataset, "candidate", gt_field="accepted", threshold=0.5)


def _accept_existing(dataset):
    return A.accept(dataset, "candidate", gt_field="ground_truth", threshold=0.5)


def _accept_classification(dataset):
    return A.accept(dataset, "predictions", gt_field="labels", threshold=0.5)


def _nothing(dataset):
    return None


def _earlier_uniqueness(dataset):
    U.compute_uniqueness(dataset, "embeddings", k=3)


def _earlier_duplicates(dataset):
    U.find_near_duplicates(dataset, "embeddings", threshold=0.2, duplicate_tag="dup")


def _earlier_selection(dataset):
    L.select(dataset, "candidate", 3, tag="to_annotate")


def _earlier_accept(dataset):
    A.accept(dataset, "candidate", gt_field="ground_truth", threshold=0.9)


WRITES = [(writes, "bulk_set", 1), (writes, "bulk_set", 2), (FieldGuard, "check", 2)]
GROUP_WRITES = [(declared, "set_all", 1), (writes, "bulk_set", 1), (FieldGuard, "check", 2)]
OPERATIONS = {  # name: (dataset kind, what runs first, the call, the stages a failure is injected at)
    "uniqueness_new": (
        "detections",
        _nothing,
        _uniqueness,
        [*START, (fou.ProgressBar, "set_iteration", 1), (fo.Dataset, "add_sample_field", 1), *WRITES, *END],
    ),
    "uniqueness_again": ("detections", _earlier_uniqueness, _uniqueness, [*WRITES, *END]),
    "near_duplicates_new": (
        "detections",
        _nothing,
        _duplicates,
        [*START, (fo.Dataset, "add_sample_field", 2), *GROUP_WRITES]
        + [(SampleCollection, "untag_samples", 1), (SampleCollection, "tag_samples", 1)]
        + [(SampleCollection, "tag_samples", 2), *END],
    ),
    "near_duplicates_again": (
        "detections",
        _earlier_duplicates,
        _duplicates,
        [(writes, "bulk_set", 1), (SampleCollection, "untag_samples", 1)]
        + [(SampleCollection, "tag_samples", 2), *END],
    ),
    "embedding_map": (
        "detections",
        _nothing,
        _map,
        [*START, (E, "reduce", 1), (fob, "compute_visualization", 1), *END],
    ),
    "select": (
        "detections",
        _earlier_selection,
        _select,
        [*START, (L, "pick", 1), (SampleCollection, "tag_samples", 1), *END],
    ),
    "accept_new_field": (
        "detections",
        _nothing,
        _accept_new,
        [*START, (fo.Dataset, "add_sample_field", 1), (A, "_accept_chunk", 2), (FieldGuard, "check", 2)]
        + [(fo.Dataset, "add_dynamic_sample_fields", 1), *END],
    ),
    "accept_into_ground_truth": (
        "detections",
        _earlier_accept,
        _accept_existing,
        [(A, "_accept_chunk", 1), (A, "_accept_chunk", 2), (fo.Dataset, "add_dynamic_sample_fields", 1), *END],
    ),
    "accept_classification": (
        "classification",
        _nothing,
        _accept_classification,
        [(fo.Dataset, "add_sample_field", 1), (A, "_accept_chunk", 2), (fo.Dataset, "add_dynamic_sample_fields", 1)]
        + END,
    ),
}


@pytest.fixture(scope="module")
def sources():
    """A detection dataset with embeddings (two groups of near duplicates) and a classification dataset with
    confidences and half its labels, to clone for each case."""
    rng = np.random.default_rng(19)
    detections = synthetic.build(f"failures-q-{uuid.uuid4().hex[:8]}", 30, objects=3, seed=19)
    vectors = rng.normal(size=(30, 8))
    vectors[[1, 2]] = vectors[0] + 1e-3
    vectors[[11, 12]] = vectors[10] + 1e-3
    detections.set_values("embeddings", list(vectors))
    classification = fo.Dataset(f"failures-qc-{uuid.uuid4().hex[:8]}")
    classification.add_samples(
        fo.Sample(
            filepath=f"/{i}.png",
            predictions=fo.Classification(label=str(i % 3), confidence=float(rng.uniform(0.3, 1))),
        )
        for i in range(30)
    )
    yield {"detections": detections, "classification": classification}
    detections.delete()
    classification.delete()


@pytest.mark.parametrize(("name", "stage", "after"), I.params(OPERATIONS))
def test_a_failure_at_any_stage_leaves_nothing_behind(sources, monkeypatch, name, stage, after):
    kind, prepare, call, _ = OPERATIONS[name]
    dataset = sources[kind].clone()
    prepare(dataset)
    for module in (U, A):
        monkeypatch.setattr(module, "CHUNK", 10)
    before, previous_runs = I.state(dataset), runs.list_suite_runs(dataset)
    calls = I.inject(monkeypatch, stage, after)
    with pytest.raises((OSError, RuntimeError), match=I.INJECTED):
        call(dataset)
    monkeypatch.undo()
    I.reached(calls, stage)
    I.assert_failed_cleanly(dataset, before, previous_runs)
    dataset.delete()


@pytest.mark.parametrize("call", [_duplicates, _select])
def test_tags_a_person_adds_while_a_run_fails_survive_its_rollback(sources, monkeypatch, call):
    dataset = sources["detections"].clone()
    original = SampleCollection.tag_samples

    def tag_then_fail(self, tags):
        original(self, tags)
        monkeypatch.setattr(SampleCollection, "tag_samples", original)  # the rollback may tag again
        dataset._sample_collection.update_many({}, {"$addToSet": {"tags": "checked"}})  # a person, meanwhile
        raise OSError(I.INJECTED)

    monkeypatch.setattr(SampleCollection, "tag_samples", tag_then_fail)
    with pytest.raises(RuntimeError, match=I.INJECTED):
        call(dataset)
    monkeypatch.undo()
    assert dataset.count_sample_tags() == {"checked": len(dataset)}
    dataset.delete()
