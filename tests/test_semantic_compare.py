"""core.regression.semantic: per-pixel comparison of semantic masks, checked against evaluate_segmentations."""

import inspect

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.regression import compare, gate, metrics, report, semantic
from core.regression.compare import CompareRequest
from core.store import runs
from harness import operators as ops
from testing import synthetic_segmentation as S

MODELS = ("baseline", "candidate")


def request(**kwargs):
    return CompareRequest("ground_truth", "baseline", "candidate", **kwargs)


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """300 samples, half with masks in the documents and half behind mask_path files, compared and evaluated."""
    directory = str(tmp_path_factory.mktemp("masks"))
    dataset = S.comparison("semantic-300", 150, seed=3)
    files = S.comparison("semantic-300-files", 150, seed=4, directory=directory)
    dataset.add_samples(files, progress=False)
    files.delete()
    result = semantic.compare(dataset, request(), progress=False)
    for field in MODELS:
        dataset.evaluate_segmentations(field, gt_field="ground_truth", eval_key=f"eval_{field}", progress=False)
    yield dataset, result
    dataset.delete()


def test_per_sample_accuracy_precision_recall_equal_evaluate_segmentations(compared):
    dataset, _ = compared
    assert len(dataset) == 300 and dataset.count("ground_truth.mask_path") == 150
    for field in MODELS:
        for metric in ("accuracy", "precision", "recall"):
            ours, theirs = dataset.values(f"compare_{field}_{metric}"), dataset.values(f"eval_{field}_{metric}")
            assert np.allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float)), (field, metric)


def test_per_class_pixels_equal_the_dataset_confusion_matrix(compared):
    dataset, result = compared
    numbers = metrics.model_metrics(result)
    for field in MODELS:
        evaluation = dataset.load_evaluation_results(f"eval_{field}")
        matrix = evaluation.pixel_confusion_matrix
        for i, name in enumerate(S.CLASSES[1:], start=1):
            counts = numbers["per_class"][name][field]
            tp = int(matrix[i, i])
            assert (counts["tp"], counts["fp"], counts["fn"]) == (tp, matrix[:, i].sum() - tp, matrix[i].sum() - tp)


def test_fixed_and_broken_pixels_follow_the_masks(compared):
    dataset, result = compared
    fixed, broken, score, classes = dataset.values(
        ["compare_fixed", "compare_broken", "compare_score", "compare_classes"]
    )
    gt, base, cand = (np.stack([s.get_mask() for s in dataset.values(f)]) for f in ("ground_truth", *MODELS))
    objects = gt > 0
    assert sum(fixed) == int((objects & (base != gt) & (cand == gt)).sum()) == result["overall"]["fixed"]
    assert sum(broken) == int((objects & (base == gt) & (cand != gt)).sum()) == result["overall"]["broken"]
    assert 0 < sum(fixed) and 0 < sum(broken)
    per_sample = [sum(c.get("broken", 0) for c in row) for row in classes]
    assert per_sample == broken
    assert result["regressed_samples"] == sum(s > 0 for s in score) > 0
    assert result["kind"] == "segmentation" and result["unlisted_pixels"] == 0


def test_the_run_is_saved_and_the_worst_sample_comes_first(compared):
    dataset, result = compared
    record = runs.list_suite_runs(dataset)[0]
    assert record["kind"] == "compare_models" and record["status"] == runs.COMPLETED
    assert record["counts"]["overall"] == result["overall"]
    worst = dataset.sort_by("compare_score", reverse=True).first()
    assert worst.compare_score == max(dataset.values("compare_score"))


def test_values_outside_the_targets_and_missing_masks_are_left_out_as_fiftyone_does(dataset):
    mask, wrong = np.array([[0, 1, 2, 9]], dtype=np.uint8), np.array([[1, 1, 9, 2]], dtype=np.uint8)
    for masks in ((mask, wrong, mask), (mask, None, mask)):
        fields = {f: fo.Segmentation(mask=m) for f, m in zip(("ground_truth", *MODELS), masks, strict=True)}
        dataset.add_sample(fo.Sample(filepath="/a.png", **fields))
    targets = dataset.default_mask_targets = {0: "background", 1: "road", 2: "car"}
    dataset.save()
    result = semantic.compare(dataset, request(), progress=False)
    assert dataset.values("compare_classes") == [[{"label": "road", "unchanged_tp": 1, "removed_fp": 1}], []]
    assert result["unlisted_pixels"] == 2 + 4  # the first sample's 9s; the second's missing baseline
    assert dataset.values("compare_baseline_precision") == [0.5, None]
    for field in MODELS:
        dataset.evaluate_segmentations(
            field, "ground_truth", eval_key=f"e_{field}", mask_targets=targets, progress=False
        )
        for metric in ("accuracy", "precision", "recall"):
            assert dataset.values(f"compare_{field}_{metric}") == dataset.values(f"e_{field}_{metric}")


def test_options_of_other_label_types_are_refused(compared):
    dataset, _ = compared
    problems = semantic.check(dataset, request(key="other", keypoint_sigmas=[1.0]))
    assert problems == ["use_masks and keypoint_sigmas apply to Detections and Keypoints: leave them unset."]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: None, "mask targets differ"),
        (lambda d: setattr(d, "mask_targets", {}), "No mask targets"),
    ],
)
def test_bad_mask_targets_are_refused(dataset, change, expected):
    mask = np.zeros((4, 4), dtype=np.uint8)
    dataset.add_sample(
        fo.Sample(filepath="/a.png", **{f: fo.Segmentation(mask=mask) for f in ("ground_truth", *MODELS)})
    )
    dataset.mask_targets = {"ground_truth": S.TARGETS, "baseline": S.TARGETS, "candidate": {0: "x", 1: "y"}}
    change(dataset)
    dataset.save()
    with pytest.raises(ValueError, match=expected):
        semantic.compare(dataset, request(), progress=False)
    assert not dataset.has_field("compare_score")


def _bad_shape(dataset):
    sample = dataset.first()
    sample["candidate"].mask = np.zeros((5, 4), dtype=np.uint8)
    sample.save()


def _bigger_than_the_image(dataset):
    sample = dataset.first()
    sample.metadata = fo.ImageMetadata(width=8, height=8)
    sample.save()


def _missing_file(dataset):
    sample = dataset.first()
    sample["baseline"] = fo.Segmentation(mask_path="/nonexistent/mask.png")
    sample.save()


def _rgb_mask(dataset):
    sample = dataset.first()
    sample["baseline"] = fo.Segmentation(mask=np.zeros((4, 4, 3), dtype=np.uint8))
    sample.save()


@pytest.mark.parametrize(
    "change, expected",
    [
        (_bad_shape, r"shapes differ \('ground_truth' \(4, 4\), 'baseline' \(4, 4\), 'candidate' \(5, 4\)\)"),
        (_bigger_than_the_image, r"shape \(4, 4\) but the image is 8 x 8"),
        (_missing_file, "mask_path '/nonexistent/mask.png' does not exist"),
        (_rgb_mask, r"shape \(4, 4, 3\).*give a 2-d integer mask"),
    ],
)
def test_bad_masks_are_refused_before_anything_is_written(dataset, change, expected):
    mask = np.zeros((4, 4), dtype=np.uint8)
    for i in range(5):
        dataset.add_sample(
            fo.Sample(filepath=f"/{i}.png", **{f: fo.Segmentation(mask=mask) for f in ("ground_truth", *MODELS)})
        )
    dataset.default_mask_targets = S.TARGETS
    dataset.save()
    sample = dataset.first()
    change(dataset)
    sample.save()
    with pytest.raises(ValueError, match=f"1 samples have bad masks: sample {sample.id}: .*{expected}"):
        semantic.compare(dataset, request(), progress=False)
    assert not dataset.has_field("compare_score") and not runs.list_suite_runs(dataset)


def test_a_view_is_summarised_from_the_samples_counts(compared):
    dataset, result = compared
    params = {"key": "compare"}
    whole = semantic.summarize(dataset, params)
    assert whole == {k: v for k, v in result.items() if k not in ("run_key", "key", "unlisted_pixels")}
    view = dataset.match(fo.ViewField("compare_score") > 0)
    part = semantic.summarize(view, params)
    assert part["samples"] == part["regressed_samples"] == len(view) < len(dataset)
    assert part["overall"]["broken"] == sum(view.values("compare_broken")) < whole["overall"]["broken"]
    cars = semantic.samples_with(dataset, params, "car", "fixed")
    fixed = [sum(c.get("fixed", 0) for c in row if c["label"] == "car") for row in dataset.values("compare_classes")]
    assert len(cars) == sum(n > 0 for n in fixed) > 0


DISPATCHED = "semantic" in inspect.getsource(compare.compare)
needs_dispatch = pytest.mark.skipif(not DISPATCHED, reason="compare.py does not dispatch Segmentation yet")


@needs_dispatch
def test_compare_models_the_gate_and_the_reports_take_semantic_masks(compared, tmp_path):
    dataset, _ = compared
    result = compare.compare(dataset, request(key="sdk"), progress=False)
    assert result["kind"] == "segmentation" and result["overall"]["fixed"] > 0
    swapped = CompareRequest("ground_truth", "candidate", "baseline", key="sdk2")
    assert compare.check(dataset, swapped) == []
    saved = next(c for c in report.comparisons(dataset) if c["key"] == "sdk")
    view = dataset.match(fo.ViewField("sdk_score") > 0)
    assert report.summary_for(view, saved) == semantic.summarize(view, saved)
    assert report.charted(result) == ("fixed", "broken", "new_fp", "removed_fp")
    assert len(report.objects_view(dataset, saved, "car", "broken")) > 0
    assert report.changed_labels(dataset, saved, dataset.first().id) == []
    markdown = tmp_path / "gate.md"
    code = gate.main(
        ["--dataset", dataset.name, "--baseline", "baseline", "--candidate", "candidate", "--max-broken", "0"]
        + ["--markdown", str(markdown)]
    )
    assert code == 1 and "**FAILED**" in markdown.read_text()


@needs_dispatch
def test_the_operator_and_the_panel_take_semantic_masks(compared):
    dataset, _ = compared
    result = foo.get_operator(ops.uri("compare_models"))(dataset, "baseline", "candidate", key="app")
    assert result["overall"]["fixed"] == sum(dataset.values("app_fixed")) > 0
    [output] = ops.run_panel("labelloop_regression", dataset, "on_load")["show_panel_output"]
    shown = output["output"]["type"]["properties"]
    assert f"Fixed {sum(dataset.values('app_fixed'))}" in shown["headline"]["default"]
    bars = ops.run_panel(
        "labelloop_regression", dataset, "on_click_bar", event_args={"id": "car", "x": "car", "trace": "broken"}
    )
    assert "set_view" in bars


@needs_dispatch
def test_the_form_blocks_fields_whose_mask_targets_differ(dataset):
    mask = np.zeros((4, 4), dtype=np.uint8)
    fields = {f: fo.Segmentation(mask=mask) for f in ("ground_truth", *MODELS)}
    dataset.add_sample(fo.Sample(filepath="/a.png", **fields))
    dataset.mask_targets = {"ground_truth": S.TARGETS, "baseline": S.TARGETS, "candidate": {0: "x", 1: "y"}}
    dataset.save()
    params = {"gt_field": "ground_truth", "baseline_field": "baseline", "candidate_field": "candidate"}
    assert "mask targets differ" in ops.validation_error("compare_models", dataset, params)
