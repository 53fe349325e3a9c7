"""core.quality.segmentation_errors: label errors in semantic masks from a model's per-pixel probabilities."""

import inspect

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.quality import mistakenness
from core.quality import segmentation_errors as E
from core.quality.mistakenness import MistakennessRequest
from core.store import runs
from harness import operators as ops
from testing import synthetic_segmentation as S

TARGETS = {0: "background", 1: "road", 2: "car"}


def request(**kwargs):
    return MistakennessRequest("predictions", **kwargs)


def _probabilities(truth, sure=0.9, k=3):
    """Probabilities that believe ``truth`` with ``sure`` on every pixel."""
    probs = np.full((k, *truth.shape), (1 - sure) / (k - 1), dtype=np.float32)
    np.put_along_axis(probs, truth[None].astype(np.int64), sure, axis=0)
    return probs


def _sample(directory, name, gt, probs, **fields):
    path = str(directory / f"{name}.npy")
    np.save(path, probs)
    prediction = fo.Segmentation(mask=probs.argmax(axis=0).astype(np.uint8), probabilities_path=path)
    return fo.Sample(filepath=f"/{name}.png", ground_truth=fo.Segmentation(mask=gt), predictions=prediction, **fields)


@pytest.fixture
def erased(dataset, tmp_path):
    """A clean sample and one whose 'car' square was erased from the ground truth (the model still sees it)."""
    truth = np.zeros((20, 20), dtype=np.uint8)
    truth[5:10, 5:10] = 2
    truth[12:18, 2:18] = 1
    wrong = truth.copy()
    wrong[5:10, 5:10] = 0
    dataset.add_samples(
        [
            _sample(tmp_path, "clean", truth, _probabilities(truth)),
            _sample(tmp_path, "erased", wrong, _probabilities(truth)),
        ]
    )
    dataset.mask_targets = {"ground_truth": TARGETS, "predictions": TARGETS}
    dataset.save()
    return dataset


def test_an_erased_object_is_a_possible_missing_region(erased):
    result = E.compute(erased, request(), progress=False)
    clean, bad = erased.values("mistakenness")
    assert clean == 0.0 and bad > 0.0
    expected = 1 - np.exp(-25 * np.log((0.9 + E.FLOOR) / (0.05 + E.FLOOR)) ** 2 / 400)
    assert bad == pytest.approx(expected, rel=1e-4)
    assert erased.values("possible_missing") == [0, 1] and erased.values("possible_spurious") == [0, 0]
    (region,) = erased.values("suspect_regions.detections")[1]
    assert (region.label, region.given, region.kind, region.area) == ("car", "background", "possible_missing", 25)
    assert region.bounding_box == pytest.approx([0.25, 0.25, 0.25, 0.25]) and region.mask.all()
    assert region.confidence == pytest.approx(0.9) and region.mistakenness == pytest.approx(0.85)
    assert result["possible_missing"] == 1 and result["scored"] == 2
    assert runs.list_suite_runs(erased)[0]["kind"] == "mistakenness"
    assert erased.get_field("suspect_regions.detections.kind") is not None  # declared, so the App can filter


def test_logits_are_taken_through_a_softmax_and_speckle_is_ignored(dataset, tmp_path):
    truth = np.ones((40, 40), dtype=np.uint8)
    wrong = truth.copy()
    wrong[0, 0] = 2  # one pixel: speckle, below MIN_PIXELS
    wrong[10:20, 10:20] = 2
    logits = np.log(_probabilities(truth, sure=0.98))
    dataset.add_sample(_sample(tmp_path, "logits", wrong, logits))
    dataset.default_mask_targets = TARGETS
    dataset.save()
    E.compute(dataset, request(), progress=False)
    (region,) = dataset.values("suspect_regions.detections")[0]
    assert (region.kind, region.area, region.given, region.label) == ("class_error", 100, "car", "road")
    assert region.confidence == pytest.approx(0.98, abs=1e-3)


def _road_labelled_car(boxes, evidence):
    """A 'road' image whose ``boxes`` are labelled 'car', the model seeing road there with ``log(p(road) / p(car))``
    of ``evidence`` (one value per box, or one array the box's shape each)."""
    truth = np.ones((40, 40), dtype=np.uint8)
    probs = _probabilities(truth, sure=0.98)
    labels = truth.copy()
    for box, nats in zip(boxes, evidence, strict=True):
        labels[box] = 2
        car = np.full(labels[box].shape, 0.51) / np.exp(nats)
        probs[1][box], probs[2][box], probs[0][box] = 0.51, car, 0.49 - car
    return probs, labels


def _squared_evidence(probs, labels):
    own = np.take_along_axis(probs, labels[None].astype(np.int64), axis=0)[0]
    return float((np.log((probs.max(axis=0) + E.FLOOR) / (own + E.FLOOR)) ** 2).sum())


def test_a_region_the_model_disagrees_with_evenly_outranks_a_few_sure_pixels():
    box = np.s_[10:20, 10:20]
    even = _road_labelled_car([box], [np.full((10, 10), 3.0)])
    uneven = _road_labelled_car([box], [np.where(np.arange(100).reshape(10, 10) % 2, 0.1, np.sqrt(18.0 - 0.01))])
    assert _squared_evidence(*uneven) == pytest.approx(_squared_evidence(*even), rel=0.02)  # a tie by squared sums
    (even_score, (region,)), (uneven_score, _) = (E.score_sample(*s, TARGETS, 0.5) for s in (even, uneven))
    assert even_score > uneven_score + 0.01
    assert region["evidence"] == pytest.approx(100 * 3.0**2, rel=0.01) and region["area"] == 100


def test_one_surely_wrong_region_outranks_the_same_evidence_in_many_small_ones():
    one = _road_labelled_car([np.s_[10:20, 10:20]], [3.0])
    corners = [np.s_[r : r + 5, c : c + 5] for r in (2, 30) for c in (2, 30)]
    many = _road_labelled_car(corners, [3.0] * 4)
    assert _squared_evidence(*one) == pytest.approx(_squared_evidence(*many), rel=1e-3)
    (one_score, _), (many_score, regions) = (E.score_sample(*s, TARGETS, 0.5) for s in (one, many))
    assert len(regions) == 4 and one_score > many_score + 0.01


def test_corrupted_samples_rank_above_clean_ones(dataset, tmp_path):
    synthetic, corrupted = S.label_errors("seg-errors-test", 60, str(tmp_path), rate=0.3, noise=0.3, seed=2)
    try:
        E.compute(synthetic, request(), progress=False)
        filepaths, scores = synthetic.values(["filepath", "mistakenness"])
        truth = np.array([f in corrupted for f in filepaths])
        top = np.argsort(-np.array(scores))[: truth.sum()]
        assert truth[top].mean() >= 0.8
    finally:
        synthetic.delete()


def _shape_vs_image(dataset, tmp_path):
    sample = dataset.first()
    sample.metadata = fo.ImageMetadata(width=30, height=20)
    sample.save()


def _probabilities_shape(dataset, tmp_path):
    np.save(dataset.first().predictions.probabilities_path, np.zeros((3, 10, 20), dtype=np.float32))


def _too_few_channels(dataset, tmp_path):
    np.save(dataset.first().predictions.probabilities_path, np.zeros((2, 20, 20), dtype=np.float32))


def _missing_mask_file(dataset, tmp_path):
    sample = dataset.first()
    sample.ground_truth = fo.Segmentation(mask_path=str(tmp_path / "gone.png"))
    sample.save()


def _no_probabilities(dataset, tmp_path):
    sample = dataset.first()
    sample.predictions.probabilities_path = None
    sample.save()


@pytest.mark.parametrize(
    "change, expected",
    [
        (_shape_vs_image, r"shape \(20, 20\) but the image is 20 x 30"),
        (_probabilities_shape, r"has shape \(3, 10, 20\): give \(K, 20, 20\) with K > 2"),
        (_too_few_channels, r"has shape \(2, 20, 20\): give \(K, 20, 20\) with K > 2"),
        (_missing_mask_file, "'ground_truth': mask_path '.*gone.png' does not exist"),
        (_no_probabilities, "'predictions' has no probabilities_path"),
    ],
)
def test_bad_masks_and_probabilities_are_refused_before_anything_is_written(erased, tmp_path, change, expected):
    change(erased, tmp_path)
    with pytest.raises(ValueError, match=f"1 samples have bad masks: sample {erased.first().id}: .*{expected}"):
        E.compute(erased, request(), progress=False)
    assert not erased.has_field("mistakenness") and not runs.list_suite_runs(erased)


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda d: d.mask_targets.update(predictions={0: "background", 1: "car"}), "mask targets differ"),
        (lambda d: setattr(d, "mask_targets", {}), "No mask targets"),
        (
            lambda d: d.add_sample_field("possible_missing", fo.StringField),
            "'possible_missing' exists with another type",
        ),
        (lambda d: d.add_sample_field("scores", fo.FloatField), None),
    ],
)
def test_bad_requests_are_refused(erased, change, expected):
    change(erased)
    erased.save()
    problems = E.check(erased, request())
    if expected is None:
        assert problems == []
        return
    assert any(expected in p for p in problems), problems
    with pytest.raises(ValueError, match=expected):
        E.compute(erased, request(), progress=False)
    assert not erased.has_field("mistakenness")


def test_other_label_types_are_refused(erased):
    erased.add_sample_field("boxes", fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    assert E.check(erased, request(gt_field="boxes")) == [
        "'boxes' holds Detections: score a Segmentation field with Segmentation predictions."
    ]


@pytest.mark.skipif(
    "segmentation_errors" not in inspect.getsource(mistakenness.compute),
    reason="mistakenness.py does not dispatch Segmentation yet",
)
def test_compute_mistakenness_takes_semantic_masks(erased):
    assert mistakenness.check(erased, request()) == []
    result = mistakenness.compute(erased, request(prefix="sdk_"), progress=False)
    assert result["possible_missing"] == 1 and erased.values("sdk_possible_missing") == [0, 1]
    result = foo.get_operator(ops.uri("compute_mistakenness"))(erased, "predictions", prefix="app_")
    assert result["possible_missing"] == 1 and erased.values("app_possible_missing") == [0, 1]
    erased.mask_targets["predictions"] = {0: "background", 1: "car"}
    erased.save()
    params = {"pred_field": "predictions", "gt_field": "ground_truth", "prefix": "form_"}
    assert "mask targets differ" in ops.validation_error("compute_mistakenness", erased, params)


def test_options_of_other_label_types_are_refused(erased):
    assert E.check(erased, request(use_masks=True)) == [
        "use_masks and keypoint_sigmas apply to Detections and Keypoints: leave them unset."
    ]


def test_a_regions_field_of_another_type_is_refused(erased):
    erased.add_sample_field("suspect_regions", fo.EmbeddedDocumentField, embedded_doc_type=fo.Classification)
    assert E.check(erased, request()) == ["Field 'suspect_regions' exists with another type: choose another prefix."]
    assert E.check(erased, request(prefix="other_")) == []
