"""core.prelabel.run on its own: an interrupted run keeps finished batches and the rerun resumes; label rules."""

from types import SimpleNamespace

import pytest

import fiftyone as fo

from core.models import source as models
from core.models.hf import HFPredictor
from core.models.predictor import Predictor
from core.models.zoo import ZooPredictor
from core.prelabel import mapping
from core.prelabel import run as prelabel
from core.store import fields, runs


def request(model_dir, **kwargs):
    options = {"output_field": "predictions", "batch_size": 16, **kwargs}
    return prelabel.PrelabelRequest(source=models.parse_source("hf", model_dir), **options)


def test_an_interrupted_run_keeps_finished_batches_and_resumes(digits, tiny_models, monkeypatch):
    calls = {"n": 0}
    original = HFPredictor.predict

    def crash_on_third_batch(self, prepared):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("worker killed")
        return original(self, prepared)

    monkeypatch.setattr(HFPredictor, "predict", crash_on_third_batch)
    with pytest.raises(KeyboardInterrupt):
        prelabel.prelabel(digits, request(tiny_models["classification"]))
    assert digits.count("predictions") == 32  # two whole batches, nothing half-written
    [failed] = runs.list_suite_runs(digits)
    assert failed["status"] == "failed" and "worker killed" in failed["error"]

    monkeypatch.setattr(HFPredictor, "predict", original)
    result = prelabel.prelabel(digits, request(tiny_models["classification"]))
    assert result["skipped_existing"] == 32 and result["written"] == len(digits) - 32
    assert digits.count("predictions") == len(digits)


def test_memory_stays_bounded_by_the_batches_in_flight(digits, tiny_models, monkeypatch):
    in_flight, peak = [0], [0]
    original_prepare = HFPredictor.prepare

    def counting_prepare(self, images):
        in_flight[0] += 1
        peak[0] = max(peak[0], in_flight[0])
        return original_prepare(self, images)

    original_predict = HFPredictor.predict

    def counting_predict(self, prepared):
        in_flight[0] -= 1
        return original_predict(self, prepared)

    monkeypatch.setattr(HFPredictor, "prepare", counting_prepare)
    monkeypatch.setattr(HFPredictor, "predict", counting_predict)
    prelabel.prelabel(digits, request(tiny_models["classification"], batch_size=8, num_workers=2))
    assert peak[0] <= 4  # num_workers + 1 batches ahead, plus the one being predicted


def test_label_mapper_policies():
    keep = mapping.LabelMapper({"a": "x"}, "keep", {"x"})
    assert keep.name("a") == "x" and keep.name("b") == "b"
    drop = mapping.LabelMapper({}, "drop", {"x"})
    assert drop.name("x") == "x" and drop.name("b") is None and drop.dropped == 1
    with pytest.raises(ValueError, match="neither in the dataset nor mapped"):
        mapping.LabelMapper({}, "error", {"x"}).name("b")


def test_human_label_count_ignores_model_labels(dataset):
    dataset.add_samples([fo.Sample(filepath=f"/x/{i}.png") for i in range(3)])
    dataset.set_values("gt", [fo.Classification(label="a"), fo.Classification(label="b", model_version="m"), None])
    assert fields.count_human_labels(dataset, "gt") == 1
    assert fields.count_human_labels(dataset, "missing") == 0


def test_check_reports_every_problem_at_once(digits, tiny_models):
    bad = request(tiny_models["classification"], threshold=2.0, top_k=0, batch_size=0, unknown_labels="maybe")
    problems = prelabel.check(digits, bad)
    assert len(problems) == 4 and any("maybe" in p for p in problems)


def test_both_predictors_satisfy_the_predictor_protocol(tiny_models, monkeypatch):
    predictor = prelabel.load_predictor(request(tiny_models["classification"]))
    assert isinstance(predictor, HFPredictor) and isinstance(predictor, Predictor)
    assert predictor.label_type is fo.Classification

    assert isinstance(ZooPredictor.label_type, property)
    assert callable(ZooPredictor.prepare) and callable(ZooPredictor.predict)
    # and an instance, with the zoo (weights, downloads) stood in for
    monkeypatch.setattr(models, "zoo_entry", lambda name: SimpleNamespace(name=name, tags=["classification"]))
    monkeypatch.setattr("fiftyone.zoo.load_zoo_model", lambda name, **kwargs: SimpleNamespace(classes=["a", "b"]))
    zoo = ZooPredictor(models.parse_source("zoo", "some-classifier"))
    assert isinstance(zoo, Predictor) and zoo.label_type is fo.Classification and zoo.labels == ["a", "b"]
