"""compute_mistakenness: flipped classifications rank first; missing and spurious objects are flagged exactly."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone import ViewField as F

from core.quality import mistakenness as M
from core.store import runs
from harness import operators as ops

CLASSES = [str(i) for i in range(10)]
FLIPPED = (3, 17, 28, 40, 55, 61, 77, 90, 101, 115)


@pytest.fixture
def mistakenness_op():
    return foo.get_operator(ops.uri("compute_mistakenness"))


def _known_predictions(digits, logits=True):
    """Right predictions with known logits, then the ground truth of FLIPPED samples changed to a wrong label."""
    rng = np.random.default_rng(0)
    truth = digits.values("ground_truth.label")
    predictions = []
    for label in truth:
        row = rng.normal(0, 0.5, 10)
        row[int(label)] += rng.uniform(3, 6)
        probs = np.exp(row) / np.exp(row).sum()
        prediction = fo.Classification(label=label, confidence=float(probs.max()))
        if logits:
            prediction.logits = row.tolist()
        predictions.append(prediction)
    digits.set_values("predictions", predictions)
    flipped = [str((int(t) + 1) % 10) if i in FLIPPED else t for i, t in enumerate(truth)]
    digits.set_values("ground_truth", [fo.Classification(label=t) for t in flipped])
    return predictions


def _ranked_first(samples, field, k):
    scores = np.array(samples.values(field), dtype=float)
    return set(np.argsort(-scores, kind="stable")[:k].tolist())


def test_flipped_labels_rank_first_with_one_minus_p_truth(digits, mistakenness_op):
    predictions = _known_predictions(digits)
    noise_aware = mistakenness_op(digits, "predictions", prefix="n_")
    assert _ranked_first(digits, "n_mistakenness", len(FLIPPED)) == set(FLIPPED) and noise_aware["logits"] == 120
    result = mistakenness_op(digits, "predictions", scorer="softmax")
    assert result["classes"] == CLASSES and result["logits"] == len(digits)
    assert _ranked_first(digits, "mistakenness", len(FLIPPED)) == set(FLIPPED)
    scores = digits.values("mistakenness")
    for score, prediction, truth in zip(scores, predictions, digits.values("ground_truth.label"), strict=True):
        logits = np.array(prediction.logits)
        assert score == pytest.approx(1 - np.exp(logits[int(truth)]) / np.exp(logits).sum())
    record = next(r for r in runs.list_suite_runs(digits) if r["key"] == result["run_key"])
    assert record["kind"] == "mistakenness" and record["fields"] == ["mistakenness"] and record["status"] == "completed"
    assert record["params"]["scorer"] == "softmax"


def test_confidence_fallback_without_logits(digits):
    predictions = _known_predictions(digits, logits=False)
    request = M.MistakennessRequest("predictions")
    assert M.check(digits, request) == [] and M.notes(digits, request) == [M.NO_LOGITS]
    result = M.compute(digits, request)
    assert result["confidence"] == len(digits) and result["classes"] is None
    scores = digits.values("mistakenness")
    for i, (score, prediction) in enumerate(zip(scores, predictions, strict=True)):
        c = prediction.confidence
        assert score == pytest.approx(1 - (1 - c) / 9 if i in FLIPPED else 1 - c)  # K = 10 labels
    assert _ranked_first(digits, "mistakenness", len(FLIPPED)) == set(FLIPPED)


def test_without_logits_a_disagreement_outranks_an_unsure_agreement(dataset):
    """Issue 19: agreement "3" at 0.50 scored 0.50, disagreement "8" at 0.45 only 0.45 (its true score is >= 0.55)."""
    rows = [("3", "3", 0.50), ("3", "8", 0.45), ("5", "5", 0.99)]
    dataset.add_samples(
        fo.Sample(
            filepath=f"/{i}.png",
            ground_truth=fo.Classification(label=gt),
            p=fo.Classification(label=pred, confidence=c),
        )
        for i, (gt, pred, c) in enumerate(rows)
    )
    M.compute(dataset, M.MistakennessRequest("p"))
    agree, disagree, sure = dataset.values("mistakenness")
    assert disagree == pytest.approx(1 - 0.55 / 2) and disagree >= 0.55 > agree == 0.5 > sure  # K = 3 labels


def test_without_logits_the_ranking_is_at_least_brain_defaults(digits):
    """Held-out check: noisy confidences (a disagreement is not always surer than an agreement), precision@k of
    ours >= fiftyone-brain's default scorer (use_logits=False)."""
    import fiftyone.brain as fob

    rng = np.random.default_rng(3)
    truth = digits.values("ground_truth.label")
    flipped = rng.random(len(truth)) < 0.15
    predicted = [str((int(t) + rng.integers(1, 10)) % 10) if rng.random() < 0.1 else t for t in truth]
    digits.set_values(
        "predictions",
        [fo.Classification(label=p, confidence=float(rng.uniform(0.2, 1.0))) for p in predicted],
    )
    noisy = [str((int(t) + 1) % 10) if f else t for t, f in zip(truth, flipped, strict=True)]
    digits.set_values("ground_truth", [fo.Classification(label=t) for t in noisy])
    M.compute(digits, M.MistakennessRequest("predictions", prefix="ours_"))
    fob.compute_mistakenness(digits, "predictions", label_field="ground_truth", progress=False)
    k = int(flipped.sum())
    ours, brain = (
        len(_ranked_first(digits, f, k) & set(np.flatnonzero(flipped))) for f in ("ours_mistakenness", "mistakenness")
    )
    assert ours >= brain > 0


def test_prelabel_logits_use_the_models_class_order(digits, tiny_models, prelabel_op):
    zero = digits.match(F("ground_truth.label") == "0")
    zero.set_values("ground_truth.label", ["zero"] * len(zero))
    prelabel_op(digits, tiny_models["classification"], store_logits=True, class_map={"0": "zero"})
    request = M.MistakennessRequest("predictions", scorer=M.SOFTMAX)
    result = M.compute(digits, request)  # sorted labels would put "zero" last
    classes = ["zero", *CLASSES[1:]]
    assert result["classes"] == classes and result["logits"] == len(digits)
    for sample in digits:
        logits = np.array(sample.predictions.logits)
        p = np.exp(logits[classes.index(sample.ground_truth.label)]) / np.exp(logits).sum()
        assert sample.mistakenness == pytest.approx(1 - p)


def test_a_class_list_in_the_wrong_order_writes_nothing(digits):
    _known_predictions(digits)
    with pytest.raises(ValueError, match="not in the model's output order"):
        M.compute(digits, M.MistakennessRequest("predictions", classes=CLASSES[::-1]))
    assert not digits.has_field("mistakenness")
    record = runs.list_suite_runs(digits)[0]
    assert record["kind"] == "mistakenness" and record["status"] == "failed"


def _shapes_with_mistakes(shapes):
    """Predictions = jittered ground truth at 0.9 plus a 0.2 false positive per sample; then the ground truth loses
    one box on samples 0-9, gains a box nothing predicts on samples 10-19, and samples 20-24 get one class flip.
    Returns the expected (missing prediction ids, spurious ground-truth ids, class-flipped ground-truth ids)."""
    rng = np.random.default_rng(1)
    truths, predictions, missing, spurious, flipped = [], [], set(), set(), set()
    for i, gt in enumerate(shapes.values("ground_truth")):
        preds = []
        for det in gt.detections:
            x, y, w, h = det.bounding_box
            box = [x + rng.uniform(-0.02, 0.02) * w, y + rng.uniform(-0.02, 0.02) * h, w, h]
            preds.append(fo.Detection(label=det.label, bounding_box=box, confidence=0.9))
        preds.append(fo.Detection(label="circle", bounding_box=[0.97, 0.97, 0.02, 0.02], confidence=0.2))
        kept = list(gt.detections)
        if i < 10:
            kept.pop(0)
            missing.add(preds[0].id)
        elif i < 20:
            extra = fo.Detection(label="square", bounding_box=[0.0, 0.0, 0.02, 0.02])
            kept.append(extra)
            spurious.add(extra.id)
        elif i < 25:
            kept[0].label = next(s for s in ("circle", "square", "triangle") if s != kept[0].label)
            flipped.add(kept[0].id)
        truths.append(fo.Detections(detections=kept))
        predictions.append(fo.Detections(detections=preds))
    shapes.set_values("ground_truth", truths)
    shapes.set_values("predictions", predictions)
    return missing, spurious, flipped


def _flagged_ids(samples, field, flag):
    ids = samples.values(f"{field}.detections.id", unwind=True)
    flags = samples.values(f"{field}.detections.{flag}", unwind=True)
    return {i for i, f in zip(ids, flags, strict=True) if f}


def test_detections_flag_missing_and_spurious_exactly(shapes, mistakenness_op):
    missing, spurious, flipped = _shapes_with_mistakes(shapes)
    result = mistakenness_op(shapes, "predictions")
    assert _flagged_ids(shapes, "predictions", "possible_missing") == missing
    assert _flagged_ids(shapes, "ground_truth", "possible_spurious") == spurious
    assert result["possible_missing"] == len(missing) and result["possible_spurious"] == len(spurious)
    assert shapes.values("possible_missing")[:12] == [1] * 10 + [0] * 2
    assert shapes.values("possible_spurious")[8:22] == [0] * 2 + [1] * 10 + [0] * 2
    objects = shapes.values("ground_truth.detections", unwind=True)
    by_id = {d.id: d.mistakenness for d in objects}
    assert all(by_id[i] == pytest.approx(0.9) for i in flipped)
    assert all(by_id[i] is None for i in spurious)
    assert max(v for i, v in by_id.items() if i not in flipped | spurious) < 0.2  # jitter only
    assert _ranked_first(shapes, "mistakenness", len(flipped)) == set(range(20, 25))
    record = next(r for r in runs.list_suite_runs(shapes) if r["key"] == result["run_key"])
    assert record["kind"] == "mistakenness" and "predictions.detections.possible_missing" in record["fields"]


def test_spurious_boxes_under_unsure_predictions_and_duplicate_boxes_are_flagged(dataset):
    """A made-up box that only a low-confidence false positive covers, and a box drawn twice, are spurious; a box a
    confident prediction matches is not."""
    real, made_up = [0.1, 0.1, 0.2, 0.2], [0.6, 0.6, 0.2, 0.2]
    truth = [fo.Detection(label="car", bounding_box=b) for b in (real, made_up, real)]
    preds = [
        fo.Detection(label="car", bounding_box=real, confidence=0.9),
        fo.Detection(label="dog", bounding_box=made_up, confidence=0.1),
    ]
    dataset.add_sample(
        fo.Sample(filepath="/a.png", ground_truth=fo.Detections(detections=truth), p=fo.Detections(detections=preds))
    )
    result = M.compute(dataset, M.MistakennessRequest("p"))
    first, unsure, second = dataset.values("ground_truth.detections.possible_spurious", unwind=True)
    assert unsure and first != second  # one of the two copies
    assert result["possible_spurious"] == 2 and result["possible_missing"] == 0


def test_thresholds_are_respected_and_reruns_clear_stale_flags(shapes):
    missing, spurious, _ = _shapes_with_mistakes(shapes)
    M.compute(shapes, M.MistakennessRequest("predictions"))
    low = M.compute(shapes, M.MistakennessRequest("predictions", confidence_thresh=0.1, prefix="low_"))
    assert low["possible_missing"] == len(missing) + len(shapes)  # every 0.2 false positive too
    assert _flagged_ids(shapes, "predictions", "possible_missing") == missing  # the default fields are untouched
    strict = M.compute(shapes, M.MistakennessRequest("predictions", confidence_thresh=0.95))
    assert strict["possible_missing"] == 0 and _flagged_ids(shapes, "predictions", "possible_missing") == set()
    tight = M.compute(shapes, M.MistakennessRequest("predictions", iou=0.999, prefix="tight_"))
    n_gt = shapes.count("ground_truth.detections")
    assert tight["possible_spurious"] == n_gt and shapes.sum("tight_possible_spurious") == n_gt


def test_classwise_off_still_scores_class_flips(shapes):
    _, _, flipped = _shapes_with_mistakes(shapes)
    M.compute(shapes, M.MistakennessRequest("predictions", classwise=False))
    by_id = {d.id: d.mistakenness for d in shapes.values("ground_truth.detections", unwind=True)}
    assert all(by_id[i] == pytest.approx(0.9) for i in flipped)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pred_field": "split"}, "'split' is not a label field of the dataset"),
        ({"pred_field": "boxes"}, "must hold the same label type: 'boxes' holds Detections"),
        ({"pred_field": "predictions", "gt_field": "predictions"}, "two different fields"),
        ({"pred_field": "predictions", "classes": "0,1,2"}, "3 classes were given but the logits have 10 values"),
        ({"pred_field": "predictions", "prefix": "bad-"}, "Prefix 'bad-' must be letters"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(digits, params, expected):
    _known_predictions(digits)
    digits.set_values("boxes", [fo.Detections()] * len(digits))
    message = ops.validation_error("compute_mistakenness", digits, params)
    assert expected in message
    assert not any(name.endswith("mistakenness") for name in digits.get_field_schema())


def test_an_empty_view_and_unscored_predictions_are_refused(digits, shapes):
    _known_predictions(digits)
    empty = digits.match(F("ground_truth.label") == "nope")
    assert "no samples" in ops.validation_error("compute_mistakenness", empty, {"pred_field": "predictions"})
    digits.set_values("predictions", [fo.Classification(label="1")] * len(digits))
    message = ops.validation_error("compute_mistakenness", digits, {"pred_field": "predictions"})
    assert f"{len(digits)} of {len(digits)} predictions in 'predictions' have no confidence nor logits" in message
    shapes.set_values("predictions", shapes.values("ground_truth"))
    message = ops.validation_error("compute_mistakenness", shapes, {"pred_field": "predictions"})
    assert "have no confidence: score them first" in message
    assert not digits.has_field("mistakenness") and not shapes.has_field("mistakenness")


def test_delegated_run_in_a_worker(shapes):
    missing, spurious, _ = _shapes_with_mistakes(shapes)
    queued = ops.run("compute_mistakenness", shapes, {"pred_field": "predictions"}, delegated=True)
    assert not shapes.has_field("mistakenness")
    ops.run_queued_in_child(shapes.name)
    shapes.reload()
    done = ops.delegated_operation(queued.result["id"])
    assert done.run_state == "completed", done.status
    assert done.result.result["possible_missing"] == len(missing) and shapes.sum("possible_spurious") == len(spurious)
    assert done.status.progress == 1.0
