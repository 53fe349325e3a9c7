"""core.regression.compare: per-sample comparison, checked against evaluate_detections and on edge cases."""

import itertools

import pytest

import fiftyone as fo

from core.regression import compare as R
from core.store import runs, writes
from testing import data, synthetic


def request(**kwargs):
    return R.CompareRequest("ground_truth", "baseline", "candidate", **kwargs)


@pytest.fixture(scope="module")
def synthetic_1000():
    dataset = synthetic.build("synthetic-1000", 1000, seed=1)
    for field in ("baseline", "candidate"):
        dataset.evaluate_detections(field, gt_field="ground_truth", eval_key=f"eval_{field}")
    yield dataset
    dataset.delete()


def test_per_sample_tp_fp_fn_equal_evaluate_detections(synthetic_1000):
    dataset = synthetic_1000
    assert dataset.count("ground_truth.detections") > 9000 and dataset.count("ground_truth.detections.iscrowd") > 100
    R.compare(dataset, request())
    for field in ("baseline", "candidate"):
        for metric in ("tp", "fp", "fn"):
            assert dataset.values(f"compare_{field}_{metric}") == dataset.values(f"eval_{field}_{metric}"), metric


def test_object_categories_follow_the_two_evaluations(synthetic_1000):
    dataset = synthetic_1000
    R.compare(dataset, request(key="cats"))
    gt = dataset.values("ground_truth.detections", unwind=True)
    for obj in gt:
        before, after = obj["eval_baseline"] == "tp", obj["eval_candidate"] == "tp"
        expected = {(False, True): {"fixed"}, (False, False): {"unchanged_fn"}, (True, False): {"broken", "class_flip"}}
        assert obj["cats"] in expected.get(
            (before, after), {"unchanged_tp", "localisation_change", "confidence_change"}
        )
    for obj in dataset.values("candidate.detections", unwind=True):
        assert (obj["cats"] == "tp") == (obj["eval_candidate"] == "tp")


def test_summary_counts_add_up_and_the_run_is_saved(synthetic_1000):
    result = R.compare(synthetic_1000, request(key="summary"))
    overall = result["overall"]
    assert sum(overall[c] for c in R.GT_CATEGORIES if c in overall) == synthetic_1000.count("ground_truth.detections")
    assert overall["fixed"] > overall["broken"] > 0 and overall["removed_fp"] > overall["new_fp"] > 0
    assert sum(c.get("fixed", 0) for c in result["per_class"].values()) == overall["fixed"]
    assert set(result["per_class"]) == set(synthetic.CLASSES)
    assert synthetic_1000.sum("summary_fixed") == overall["fixed"]
    assert sum(s > 0 for s in synthetic_1000.values("summary_score")) == result["regressed_samples"]
    record = next(r for r in runs.list_suite_runs(synthetic_1000) if r["key"] == result["run_key"])
    assert record["kind"] == "compare_models" and record["params"]["iou"] == 0.5
    assert record["counts"]["overall"] == overall and "baseline: " in record["model"]


def test_edge_cases_empty_one_sided_and_crowd(dataset):
    box = [0.1, 0.1, 0.3, 0.3]
    det = lambda label, conf=None, **kw: fo.Detection(label=label, bounding_box=box, confidence=conf, **kw)  # noqa: E731
    dataset.add_samples(
        [
            fo.Sample(
                filepath="/a.png",
                ground_truth=fo.Detections(detections=[det("car")]),
                baseline=fo.Detections(detections=[det("car", 0.9)]),
                candidate=fo.Detections(),
            ),
            fo.Sample(
                filepath="/b.png",
                ground_truth=fo.Detections(),
                baseline=fo.Detections(),
                candidate=fo.Detections(detections=[det("dog", 0.8)]),
            ),
            fo.Sample(
                filepath="/c.png",
                ground_truth=fo.Detections(detections=[det("car")]),
                candidate=fo.Detections(detections=[det("car", 0.7)]),
            ),  # no baseline field value
            fo.Sample(
                filepath="/d.png",
                ground_truth=fo.Detections(detections=[det("car", iscrowd=True)]),
                baseline=fo.Detections(detections=[det("car", 0.9), det("car", 0.8)]),
                candidate=fo.Detections(detections=[det("dog", 0.9)]),
            ),
            fo.Sample(filepath="/e.png"),  # no labels at all
        ]
    )
    R.compare(dataset, request())
    rows = {s.filepath: s for s in dataset}
    assert rows["/a.png"].compare_broken == 1 and rows["/a.png"].compare_score == 1
    assert rows["/b.png"].compare_new_fp == 1 and rows["/b.png"].candidate.detections[0].compare == "new_fp"
    assert rows["/c.png"].compare_fixed == 1 and rows["/c.png"].compare_score == -1
    assert rows["/d.png"].compare_baseline_tp == 2 and rows["/d.png"].ground_truth.detections[0].compare == "class_flip"
    assert rows["/e.png"].compare_score == 0


def test_classifications(digits):
    digits.set_values("baseline", [fo.Classification(label="1", confidence=0.9)] * len(digits))
    truth = digits.values("ground_truth.label")
    digits.set_values(
        "candidate",
        [fo.Classification(label=t, confidence=0.5) for t in truth[:60]]
        + [fo.Classification(label="1", confidence=0.1)] * (len(digits) - 60),
    )
    result = R.compare(digits, request())
    ones = [i for i, t in enumerate(truth) if t == "1"]
    fixed = sum(1 for i in range(60) if truth[i] != "1")
    assert result["kind"] == "classification" and result["overall"]["fixed"] == fixed
    assert result["overall"].get("broken", 0) == 0
    assert result["overall"]["confidence_change"] == len(ones)  # right in both, confidence moved by > 0.2
    assert digits.count_values("compare")["fixed"] == fixed


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (("ground_truth", "baseline", "baseline"), "three different fields"),
        (("ground_truth", "baseline", "nope"), "No Detections or Classification field 'nope'"),
        (("ground_truth", "baseline", "labels"), "must hold the same label type"),
    ],
)
def test_bad_requests(shapes, fields, expected):
    shapes.set_values("baseline", shapes.values("ground_truth"))
    shapes.set_values("labels", [fo.Classification(label="x")] * len(shapes))
    with pytest.raises(ValueError, match=expected):
        R.compare(shapes, R.CompareRequest(*fields))
    assert not shapes.has_field("compare_score")


def test_a_key_is_refused_when_its_fields_hold_other_data(shapes):
    data.add_simulated_predictions(shapes)
    R.compare(shapes, request())
    assert R.check(shapes, request()) == []  # a rerun of the same key overwrites only its own results
    assert "the label attribute 'ground_truth.detections.label'" in R.check(shapes, request(key="label"))[0]
    sample = shapes.first()
    sample.ground_truth.detections[0]["reviewed"] = "yes"  # an undeclared attribute
    sample.save()
    assert "choose another key" in R.check(shapes, request(key="reviewed"))[0]
    assert "reserved" in R.check(shapes, request(key="_rand"))[0]


def _failing_from_call(number):
    calls = itertools.count(1)

    def bulk_set(*args):
        if next(calls) >= number:
            raise OSError("disk full")
        writes.bulk_set(*args)

    return bulk_set


def test_a_failed_rerun_restores_the_earlier_results(shapes, monkeypatch):
    data.add_simulated_predictions(shapes)
    R.compare(shapes, request())
    paths = ("compare_score", "ground_truth.detections.compare", "candidate.detections.compare")
    before = [shapes.values(path) for path in paths]
    monkeypatch.setattr(R, "CHUNK", 10)
    monkeypatch.setattr(R, "bulk_set", _failing_from_call(3))
    with pytest.raises(RuntimeError, match="comparison failed and what it had written was taken back: disk full"):
        R.compare(shapes, request(iou=0.9))  # other categories
    assert [shapes.values(path) for path in paths] == before
    assert runs.list_suite_runs(shapes)[0]["status"] == runs.FAILED


def test_summary_of_a_view_equals_the_compare_result(synthetic_1000):
    from core.regression import report

    result = R.compare(synthetic_1000, request(key="again"))
    params = report.comparisons(synthetic_1000)[0]
    assert params["key"] == "again" and params["run_key"] == result["run_key"]
    summary = report.summarize(synthetic_1000, params)
    assert summary["overall"] == result["overall"] and summary["per_class"] == result["per_class"]
    assert summary["regressed_samples"] == result["regressed_samples"]
    half = report.summarize(synthetic_1000.limit(500), params)
    assert half["samples"] == 500 and half["overall"]["fixed"] < result["overall"]["fixed"]
    top = report.top_regressions(synthetic_1000, "again", limit=5)
    assert [t["score"] for t in top] == sorted((t["score"] for t in top), reverse=True) and top[0]["score"] > 0


def test_gate_and_reports():
    from core.regression import report

    summary = {
        "samples": 10,
        "regressed_samples": 2,
        "overall": {"fixed": 10, "broken": 3, "class_flip": 1},
        "per_class": {"car": {"fixed": 10, "broken": 1}, "dog": {"broken": 2, "class_flip": 1}},
    }
    assert report.gate_failures(summary, max_broken=10, max_ratio=0.5, per_class=False) == []
    failures = report.gate_failures(summary, max_broken=3, max_ratio=0.5)
    assert failures == [
        "overall: 4 broken > 3 allowed",
        "class 'dog': broken/fixed = 3/0 = inf > 0.5",
    ]
    params = {"gt_field": "gt", "baseline_field": "b", "candidate_field": "c", "iou": 0.5, "key": "k"}
    top = [{"id": "abc", "filepath": "/x.png", "score": 3, "broken": 3, "fixed": 0}]
    text = report.markdown(report.report(summary, params, failures, top))
    assert "**FAILED**" in text and "| dog | 0 | 2 | 1 | 0 | 0 |" in text and "| abc | 3 | 3 | 0 | /x.png |" in text
