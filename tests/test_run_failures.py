"""Issue 19: a failure at any stage of a run that writes fields (compare_models, compute_mistakenness, tagging the
regressed samples) leaves no written field, value or index, no running run and no lease behind."""

import uuid

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.core.utils as fou
from fiftyone.core.collections import SampleCollection

from core.quality import mistakenness as M
from core.regression import compare as R
from core.regression import report
from core.store import chunk_writes as CW
from core.store import runs, writes
from harness import injection as I
from testing import synthetic

START = [(SampleCollection, "register_run", 1), (writes, "Rollback", 1)]
END = [(fou.ProgressBar, "set_iteration", 1), (SampleCollection, "update_run_config", 1)]  # recording completion


def _compare(dataset):
    return R.compare(dataset, R.CompareRequest("ground_truth", "baseline", "candidate"))


def _mistakenness(dataset):
    return M.compute(dataset, M.MistakennessRequest("candidate"))


def _tag(dataset):
    return report.tag_regressed(dataset, "compare", "regression")


def _nothing(dataset):
    return None


OPERATIONS = {  # name: (dataset kind, what runs first, the call, the stages a failure is injected at as (owner,
    # attribute, nth call))
    "compare_detections": (
        "detections",
        _nothing,
        _compare,
        [*START, (fo.Dataset, "add_sample_field", 3), (SampleCollection, "create_index", 1), (CW, "FieldGuards", 1)]
        + [(R, "_chunk_results", 2), (CW, "bulk_set", 1), (CW, "bulk_set", 2), (R.Totals, "summary", 1), *END],
    ),
    "compare_classification": (
        "classification",
        _nothing,
        _compare,
        [*START, (fo.Dataset, "add_sample_field", 2), (R, "_chunk_results", 1), (CW, "bulk_set", 2)]
        + [(R.Totals, "summary", 1), *END],
    ),
    "mistakenness_detections": (
        "detections",
        _nothing,
        _mistakenness,
        [*START, (fo.Dataset, "add_sample_field", 3), (SampleCollection, "create_index", 1), (CW, "FieldGuards", 1)]
        + [(M, "_detections_chunk", 2), (CW, "bulk_set", 1), (CW, "bulk_set", 2), *END],
    ),
    "mistakenness_classification": (
        "classification",
        _nothing,
        _mistakenness,
        [*START, (fo.Dataset, "add_sample_field", 1), (M, "_classification_results", 1), (CW, "bulk_set", 2), *END],
    ),
    "tag_regressed": (
        "detections",
        _compare,
        _tag,
        [(SampleCollection, "register_run", 1), (SampleCollection, "tag_samples", 1)]
        + [(SampleCollection, "update_run_config", 1)],
    ),
}


@pytest.fixture(scope="module")
def sources():
    """A detection dataset and a classification dataset (confidences only) to clone for each case."""
    detections = synthetic.build(f"failures-det-{uuid.uuid4().hex[:8]}", 30, objects=4, seed=4)
    rng = np.random.default_rng(4)
    labels = lambda: [str(v) for v in rng.integers(0, 4, 30)]  # noqa: E731
    classification = fo.Dataset(f"failures-cls-{uuid.uuid4().hex[:8]}")
    classification.add_samples(
        fo.Sample(
            filepath=f"/{i}.png",
            ground_truth=fo.Classification(label=g),
            baseline=fo.Classification(label=b, confidence=float(rng.uniform(0.3, 1))),
            candidate=fo.Classification(label=c, confidence=float(rng.uniform(0.3, 1))),
        )
        for i, (g, b, c) in enumerate(zip(labels(), labels(), labels(), strict=True))
    )
    yield {"detections": detections, "classification": classification}
    detections.delete()
    classification.delete()


@pytest.mark.parametrize(("name", "stage", "after"), I.params(OPERATIONS))
def test_a_failure_at_any_stage_leaves_nothing_behind(sources, monkeypatch, name, stage, after):
    kind, prepare, call, _ = OPERATIONS[name]
    dataset = sources[kind].clone()
    prepare(dataset)
    monkeypatch.setattr(R, "CHUNK", 10)
    monkeypatch.setattr(M, "CHUNK", 10)
    before, previous_runs = I.state(dataset), runs.list_suite_runs(dataset)
    calls = I.inject(monkeypatch, stage, after)
    with pytest.raises((OSError, RuntimeError), match=I.INJECTED):
        call(dataset)
    monkeypatch.undo()
    I.reached(calls, stage)
    I.assert_failed_cleanly(dataset, before, previous_runs)
    dataset.delete()
