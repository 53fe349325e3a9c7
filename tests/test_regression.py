"""core.regression.compare: per-sample comparison, checked against evaluate_detections and on edge cases."""

import itertools

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.regression import compare as R
from core.store import chunk_writes as CW
from core.store import lease, runs, writes
from harness import operators as ops
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


def _legacy_detections(rng, objects, none_rate):
    """Detections of ``(label, box, confidence, crowd)`` tuples whose crowd flags sit, for every other crowd, in the
    legacy ``attributes`` dict (boolean or numeric), and whose labels are None at ``none_rate``."""
    detections = []
    for n, (label, box, confidence, crowd) in enumerate(objects):
        label = None if rng.random() < none_rate else label
        detection = fo.Detection(label=label, bounding_box=[float(v) for v in box], confidence=confidence)
        if crowd and n % 2:
            detection.attributes = {
                "iscrowd": fo.BooleanAttribute(value=True) if n % 4 == 1 else fo.NumericAttribute(value=1)
            }
        elif crowd:
            detection["iscrowd"] = True
        detections.append(detection)
    return fo.Detections(detections=detections)


def test_legacy_crowd_attributes_and_none_labels_match_evaluate_detections(dataset):
    """Issue 19: crowds in the legacy ``attributes`` dict are crowds, and None labels neither crash nor differ."""
    rng = np.random.default_rng(5)
    samples = []
    for i in range(300):
        gt = synthetic._ground_truth(rng, int(rng.integers(0, 12)), crowd_rate=0.2)
        fields = {role: synthetic.predictions(rng, gt, *params) for role, params in synthetic.MODELS.items()}
        fields = {role: _legacy_detections(rng, objects, 0.05) for role, objects in fields.items()}
        samples.append(fo.Sample(filepath=f"/{i}.png", ground_truth=_legacy_detections(rng, gt, 0.05), **fields))
    dataset.add_samples(samples, progress=False)
    assert dataset.count("ground_truth.detections.attributes.iscrowd") > 20
    assert dataset.count_values("candidate.detections.label")[None] > 10
    for field in ("baseline", "candidate"):
        dataset.evaluate_detections(field, gt_field="ground_truth", eval_key=f"eval_{field}")
    result = R.compare(dataset, request())
    labelled = [None not in a + b + c for a, b, c in zip(*_all_labels(dataset), strict=True)]
    assert 50 < sum(labelled) < len(dataset)
    for field in ("baseline", "candidate"):
        ours = list(zip(*(dataset.values(f"compare_{field}_{m}") for m in ("tp", "fp", "fn")), strict=True))
        assert ours == _counted_objects(dataset, field)
        theirs = zip(*(dataset.values(f"eval_{field}_{m}") for m in ("tp", "fp", "fn")), strict=True)
        assert [o for o, t, keep in zip(ours, theirs, labelled, strict=True) if keep and o != t] == []
    _assert_categories_follow_the_evaluations(dataset, "compare")
    assert result["per_class"][R.NO_LABEL]["new_fp"] > 0 and runs.list_suite_runs(dataset)[0]["status"] == "completed"


def _all_labels(dataset):
    """Per field, each sample's labels."""
    return [[labels or [] for labels in dataset.values(f"{f}.detections.label")] for f in R._fields(request())]


def _counted_objects(dataset, field):
    """Per sample, (tp, fp, fn) counted from evaluate_detections' per-object results (its per-sample tallies count
    a None-labelled ground-truth object as a false positive even when a prediction matches it)."""
    preds = [p or [] for p in dataset.values(f"{field}.detections.eval_{field}")]
    gts = [g or [] for g in dataset.values(f"ground_truth.detections.eval_{field}")]
    return [(p.count("tp"), p.count("fp"), g.count("fn")) for p, g in zip(preds, gts, strict=True)]


def _assert_categories_follow_the_evaluations(dataset, key):
    for obj in dataset.values("ground_truth.detections", unwind=True):
        before, after = obj["eval_baseline"] == "tp", obj["eval_candidate"] == "tp"
        expected = {(False, True): {"fixed"}, (False, False): {"unchanged_fn"}, (True, False): {"broken", "class_flip"}}
        assert obj[key] in expected.get((before, after), {"unchanged_tp", "localisation_change", "confidence_change"})
    for obj in dataset.values("candidate.detections", unwind=True):
        assert (obj[key] == "tp") == (obj["eval_candidate"] == "tp")


def test_object_categories_follow_the_two_evaluations(synthetic_1000):
    R.compare(synthetic_1000, request(key="cats"))
    _assert_categories_follow_the_evaluations(synthetic_1000, "cats")


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


def test_a_detection_without_a_label_is_compared_through_the_sdk(dataset):
    """Issue 19: ground truth car, baseline car, candidate ``Detection(label=None)`` crashed the per-class summary."""
    box = [0.1, 0.1, 0.3, 0.3]
    car = fo.Detections(detections=[fo.Detection(label="car", bounding_box=box, confidence=0.9)])
    unlabelled = fo.Detections(detections=[fo.Detection(label=None, bounding_box=box, confidence=0.9)])
    dataset.add_sample(fo.Sample(filepath="/a.png", ground_truth=car, baseline=car.copy(), candidate=unlabelled))
    result = foo.get_operator(ops.uri("compare_models"))(dataset, "baseline", "candidate")
    assert result["overall"] == {"class_flip": 1, "new_fp": 1}
    assert result["per_class"] == {"car": {"class_flip": 1}, R.NO_LABEL: {"new_fp": 1}}
    assert runs.list_suite_runs(dataset)[0]["status"] == "completed" and lease.live_leases(dataset) == []


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
    monkeypatch.setattr(CW, "bulk_set", _failing_from_call(3))
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


CLASSIFICATION_CASES = [  # ground truth, baseline, candidate -> category (before issues 19 and 12.9)
    (None, None, "3", "no_ground_truth"),  # was broken
    (None, "3", "5", "no_ground_truth"),  # was class_flip
    (None, "3", None, "no_ground_truth"),  # was fixed
    ("5", "9", "0", "wrong_to_wrong"),  # was class_flip, counted as broken
    ("5", "5", "3", "broken"),
    ("5", "3", "5", "fixed"),
]


def classification_cases(dataset):
    """A sample per ``CLASSIFICATION_CASES`` row."""
    label = lambda value: fo.Classification(label=value, confidence=0.9) if value else None  # noqa: E731
    dataset.add_samples(
        fo.Sample(filepath=f"/{i}.png", ground_truth=label(g), baseline=label(b), candidate=label(c))
        for i, (g, b, c, _) in enumerate(CLASSIFICATION_CASES)
    )
    return dataset


def test_classifications_without_ground_truth_or_wrong_to_wrong_are_counted_apart(dataset):
    from core.regression import report

    result = R.compare(classification_cases(dataset), request())
    assert dataset.values("compare") == [row[-1] for row in CLASSIFICATION_CASES]
    assert dataset.values("compare_score") == [0, 0, 0, 0, 1, -1] and result["regressed_samples"] == 1
    assert result["overall"] == {"no_ground_truth": 3, "wrong_to_wrong": 1, "broken": 1, "fixed": 1}
    categories = {
        label: {k: n for k, n in c.items() if k in R.CLS_CATEGORIES} for label, c in result["per_class"].items()
    }
    assert {label: c for label, c in categories.items() if c} == {"5": {"wrong_to_wrong": 1, "broken": 1, "fixed": 1}}
    summary = report.summarize(dataset, report.comparisons(dataset)[0])
    assert (summary["overall"], summary["per_class"]) == (result["overall"], result["per_class"])
    assert report.gate_failures(summary, max_broken=0) == [
        "overall: 1 broken > 0 allowed",
        "class '5': 1 broken > 0 allowed",
    ]
    assert report.gate_failures(summary, max_broken=1) == []
    assert report.gate_failures(summary, max_broken=1, per_class=False, wrong_to_wrong=True) == [
        "overall: 2 broken > 1 allowed"
    ]
    text = report.markdown(report.report(summary, report.comparisons(dataset)[0], [], []))
    assert "| scope | fixed | broken | class_flip | new_fp | removed_fp | wrong_to_wrong | no_ground_truth |" in text
    assert "| overall | 1 | 1 | 0 | 0 | 0 | 1 | 3 |" in text
