"""Issue 12 (beyond Model Evaluation): each model's numbers in the regression panel are the ones FiftyOne's own
evaluation gives, overall and per class, for the whole dataset (saved with the run) and for any view."""

import uuid

import pytest

import fiftyone as fo

from core.regression import compare as R
from core.regression import metrics, report
from testing import synthetic

F = fo.ViewField


@pytest.fixture
def detections():
    dataset = synthetic.build(f"metrics-det-{uuid.uuid4().hex[:8]}", 60, objects=5, seed=3, crowd_rate=0.0)
    yield dataset
    dataset.delete()


@pytest.fixture
def classifications(digits):
    truth = digits.values("ground_truth.label")
    for field, every in (("baseline", 4), ("candidate", 6)):
        labels = [str((int(t) + i) % 10) if i % every == 0 else t for i, t in enumerate(truth)]
        labels[1] = None  # a sample the model left without a label
        digits.set_values(field, [None if x is None else fo.Classification(label=x, confidence=0.8) for x in labels])
    return digits


def fiftyone_numbers(samples, pred_field, evaluate):
    results = evaluate(samples, pred_field)
    overall, per_class = results.metrics(), results.report()
    return overall, per_class


def _evaluate_detections(samples, pred_field):
    return samples.evaluate_detections(pred_field, "ground_truth", eval_key=f"ev_{pred_field}")


def _evaluate_classifications(samples, pred_field):
    return samples.evaluate_classifications(pred_field, "ground_truth", eval_key=f"ev_{pred_field}")


def assert_same(ours, samples, evaluate):
    for model in metrics.MODELS:
        overall, per_class = fiftyone_numbers(samples, model, evaluate)
        mine = ours["overall"][model]
        for name, theirs in (
            ("precision", "precision"),
            ("recall", "recall"),
            ("f1", "fscore"),
            ("accuracy", "accuracy"),
        ):
            assert mine[name] == pytest.approx(overall[theirs]), (model, name)
        for label, numbers in per_class.items():
            if label in ("micro avg", "macro avg", "weighted avg", "accuracy"):
                continue
            theirs = ours["per_class"][label][model]
            assert (theirs["precision"], theirs["recall"], theirs["f1"], theirs["support"]) == pytest.approx(
                (numbers["precision"], numbers["recall"], numbers["f1-score"], numbers["support"])
            ), (model, label)


@pytest.mark.parametrize("where", ["dataset", "view"])
def test_detection_numbers_are_fiftyones(detections, where):
    R.compare(detections, R.CompareRequest("ground_truth", "baseline", "candidate"))
    samples = detections if where == "dataset" else detections.skip(7).limit(40)
    summary = report.summary_for(samples, report.comparisons(detections)[0])
    assert_same(metrics.model_metrics(summary), samples, _evaluate_detections)


@pytest.mark.parametrize("where", ["dataset", "view"])
def test_classification_numbers_and_transitions_are_fiftyones(classifications, where):
    R.compare(classifications, R.CompareRequest("ground_truth", "baseline", "candidate"))
    samples = classifications if where == "dataset" else classifications.match(F("digit_index") % 3 != 0)
    summary = report.summary_for(samples, report.comparisons(classifications)[0])
    assert_same(metrics.model_metrics(summary), samples, _evaluate_classifications)
    pairs = zip(*samples.values(["baseline.label", "candidate.label"]), strict=True)
    expected = {}
    for base, cand in pairs:
        row = expected.setdefault(base or R.NO_LABEL, {})
        row[cand or R.NO_LABEL] = row.get(cand or R.NO_LABEL, 0) + 1
    assert summary["transitions"] == expected
