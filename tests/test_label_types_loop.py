"""Each new label type through the whole loop from the SDK, as a user calls the operators: prelabel (tiny local
models) -> accept_prelabels (the ground truth, then deliberately spoiled) -> compute_mistakenness (flags exactly the
spoiled samples) -> send_to_cvat pre-populated from the predictions -> a person fixes one label in CVAT ->
load_from_cvat -> finish_cvat_review -> compare_models (per-sample counts follow the candidate's changes). On the CVAT
double, then the real server when configured."""

import uuid
from dataclasses import dataclass, field

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from harness import operators
from testing import data
from testing import tiny_models as tm
from testing.cvat_annotator import Annotator

SIZE = 64  # the images' width and height, in pixels
SHIFT = 4  # pixels a spoiled keypoint is moved (and moved back in CVAT): off by OKS, still over its box
BLOCK = (slice(16, 48), slice(16, 48))  # the pixels of a semantic mask that are spoiled
CONFIDENT = 0.9  # the confidence of the prompt boxes, a confident detector's
SIGMAS = {"keypoint_sigmas": [0.1] * len(tm.POSE_KEYPOINTS)}  # COCO-like: the tiny model's points are close together


def op(name):
    return foo.get_operator(operators.uri(name))


@dataclass
class Kind:
    """How one label type is made and spoiled: the model, the prelabel options, the list attribute of its labels
    and the thresholds its confidences need."""

    model: str
    options: dict = field(default_factory=dict)
    objects: str = "detections"
    threshold: float = 0.5
    cvat_shape: str = "mask"
    matching: dict = field(default_factory=dict)


KINDS = {
    "instance_masks": Kind("sam"),
    # a coarse tolerance drops the random masks' specks: one polygon per object, as CVAT edits them
    "polygons": Kind("sam", {"polygons": True, "tolerance": 4}, "polylines", cvat_shape="polygon"),
    "keypoints": Kind("pose", objects="keypoints", threshold=0.1, cvat_shape="skeleton", matching=SIGMAS),
}


@pytest.fixture(scope="module")
def loop_models(tmp_path_factory):
    """A tiny SAM and a tiny ViTPose (masks and keypoints from boxes)."""
    root = tmp_path_factory.mktemp("loop_models")
    return {"sam": tm.sam(root / "sam"), "pose": tm.pose_model(root / "pose")}


@pytest.fixture
def small_shapes(tmp_path):
    """10 synthetic 64x64 shapes images with ground-truth boxes."""
    ds = data.build_shapes(f"loop-{uuid.uuid4().hex[:10]}", str(tmp_path / "shapes"), count=10, size=SIZE)
    yield ds
    ds.delete()


def _prompt_boxes(dataset):
    """``boxes``: the ground-truth boxes as a confident detector's (the tiny detector's boxes are degenerate)."""
    values = [
        fo.Detections(
            detections=[
                fo.Detection(label=d.label, bounding_box=d.bounding_box, confidence=CONFIDENT) for d in gt.detections
            ]
        )
        for gt in dataset.values("ground_truth")
    ]
    dataset.set_values("boxes", values)


def _usable(label, objects):
    """Whether every object of ``label`` can be ground truth and sent to CVAT (random weights give some empty masks
    and multi-part polygons)."""
    found = label[objects] if label is not None else []
    if objects == "detections":
        return bool(found) and all(d.mask.sum() >= 4 for d in found)
    if objects == "polylines":
        return bool(found) and all(len(p.points) == 1 and len(p.points[0]) >= 3 for p in found)
    return bool(found)


def _samples(dataset, ids):
    """A new view of the samples ``ids`` (a view iterated before an operator's run keeps the schema it saw then)."""
    return dataset.select(ids, ordered=True)


def _by_id(values, objects):
    return {o.id: o for value in values if value is not None for o in value[objects]}


def _other_class(label):
    return next(c for c in data.SHAPES if c != label)


def _same(a, b, objects):
    """Whether objects ``a`` and ``b`` have the same class and geometry (to float precision)."""
    if a.label != b.label:
        return False
    if objects == "detections":
        return np.array_equal(a.mask, b.mask) and np.allclose(a.bounding_box, b.bounding_box, atol=1e-9)
    return np.allclose(np.array(a.points, dtype=float), np.array(b.points, dtype=float), atol=1e-9)


def _spoil(view, objects):
    """Spoils the ground truth ``truth``: removes the first sample's first object (missed by the annotators), and
    gives the second sample's first object another class (a keypoint: moves it off its object). Returns the removed
    and the spoiled object, and how a person fixes the spoiled one in CVAT: ``fix(person, task_id, shape)``."""
    first, second = view.first(), view.skip(1).first()
    removed = first.truth[objects].pop(0)
    first.save()
    spoiled = second.truth[objects][0]
    if objects == "keypoints":
        pixels = SHIFT if max(x for x, _ in spoiled.points) + SHIFT / SIZE <= 1 else -SHIFT
        spoiled.points = [(x + pixels / SIZE, y) for x, y in spoiled.points]
        fix = lambda person, task_id, shape: person.move_shape(task_id, shape, -pixels, 0)  # noqa: E731
    else:
        true_class, spoiled.label = spoiled.label, _other_class(spoiled.label)
        fix = lambda person, task_id, shape: person.relabel_shape(task_id, shape, true_class)  # noqa: E731
    second.save()
    return removed, spoiled, fix


def _candidate(dataset, view, objects):
    """``candidate``: the baseline, less the third sample's first object, with the fourth's first of another class."""
    dataset.clone_sample_field("baseline", "candidate")
    third, fourth = view.skip(2).first(), view.skip(3).first()
    third.candidate[objects].pop(0)
    third.save()
    wrong = fourth.candidate[objects][0]
    wrong.label = _other_class(wrong.label)
    fourth.save()


def _counts(view, key, role):
    return list(zip(*(view.values(f"{key}_{role}_{m}") for m in ("tp", "fp", "fn")), strict=True))


@pytest.mark.parametrize("name", list(KINDS))
def test_objects_go_through_the_whole_loop(small_shapes, loop_models, cvat_env, name):
    kind, dataset = KINDS[name], small_shapes
    objects = kind.objects

    # 1. prelabel: masks, polygons or keypoints from the boxes, with both models' provenance
    _prompt_boxes(dataset)
    made = op("prelabel")(
        dataset, loop_models[kind.model], output_field="baseline", prompt_field="boxes", **kind.options
    )
    assert made["written"] == len(dataset) and made["labels"] > 0
    predictions = _by_id(dataset.values("baseline"), objects)
    assert all(p.prelabel_run == made["run_key"] and p.prompt_id for p in predictions.values())
    ids = [s.id for s in dataset.select_fields("baseline") if _usable(s.baseline, objects)][:6]
    assert len(ids) >= 4, f"only {len(ids)} samples with usable {name}"
    view = _samples(dataset, ids)
    total = view.count(f"baseline.{objects}")

    # 2. the ground truth: the accepted predictions, then deliberately spoiled on the first two samples
    accepted = op("accept_prelabels")(view, "baseline", gt_field="truth", threshold=0.0)
    assert (accepted["promoted"], accepted["skipped_invalid"]) == (total, 0)
    removed, spoiled, fix = _spoil(view, objects)
    truth = _by_id(view.values("truth"), objects)

    # 3. mistakenness flags exactly the spoiled samples, and the missed object's prediction
    options = {"confidence_thresh": kind.threshold, **kind.matching}
    scored = op("compute_mistakenness")(view, "baseline", gt_field="truth", **options)
    view = _samples(dataset, ids)
    missing, spurious, score = (view.values(f) for f in ("possible_missing", "possible_spurious", "mistakenness"))
    assert (missing[0], spurious[0]) == (1, 0)
    [missed] = [p for p in view.first().baseline[objects] if p.possible_missing]
    assert missed.id == removed.accepted_source_id
    flagged = view.skip(1).first().truth[objects][0]
    if objects == "keypoints":  # no longer matches its prediction: both flagged
        assert (missing[1], spurious[1], flagged.possible_spurious) == (1, 1, True)
    else:  # overlapped by a confident prediction of another class
        assert (missing[1], spurious[1], score[1]) == (0, 0, pytest.approx(CONFIDENT))
        assert flagged.mistakenness == pytest.approx(CONFIDENT)
    assert missing[2:] == spurious[2:] == [0] * (len(ids) - 2) and score[2:] == [0.0] * (len(ids) - 2)
    assert scored["possible_missing"] == sum(missing)

    # 4. send to CVAT, pre-populated from the predictions: the missed object's prediction is offered
    sent = op("send_to_cvat")(view, gt_field="truth", pred_field="baseline", threshold=kind.threshold)
    key, task_id = sent["run_key"], sent["task_ids"][0]
    cvat_shapes = cvat_env.annotations(task_id)["shapes"]
    assert {s["type"] for s in cvat_shapes} == {kind.cvat_shape} and len(cvat_shapes) == len(truth) + 1
    assert (sent["gt_labels"], sent["prefilled"]) == (len(truth), 1)

    # 5. a person fixes the spoiled label, and leaves the offered prediction
    person = Annotator(cvat_env.url, cvat_env.owner.username, cvat_env.owner.password)
    fix(person, task_id, person.find(task_id, "shapes", spoiled.id))

    # 6. load: one edit, one accepted prediction; every other label as it was, with its identity
    loaded = op("load_from_cvat")(dataset, review=key)
    assert (loaded["edited"], loaded["accepted_predictions"], loaded["deleted"], loaded["drawn"]) == (1, 1, 0, 0)
    assert loaded["unchanged"] == len(truth) - 1
    after = _by_id(view.values("truth"), objects)
    assert set(truth) <= set(after) and len(after) == len(truth) + 1
    for label_id, label in truth.items():
        if label_id != spoiled.id:
            assert _same(after[label_id], label, objects)
    back, source = after[spoiled.id], predictions[spoiled.accepted_source_id]  # the fixed label keeps its identity
    if objects == "keypoints":  # moved back to whole pixels in CVAT
        assert back.label == source.label and np.allclose(back.points, source.points, atol=0.51 / SIZE)
    else:
        assert _same(back, source, objects)
    [new] = [label for label_id, label in after.items() if label_id not in truth]
    assert _same(new, predictions[removed.accepted_source_id], objects)  # the offered prediction, as predicted
    assert dataset.has_field(f"truth_before_{key}")
    assert op("finish_cvat_review")(dataset, review=key, action="accept")["accepted"] == key
    assert not dataset.has_field(f"truth_before_{key}")

    # 7. compare: the baseline made the corrected ground truth; the candidate lost one object and got one wrong
    _candidate(dataset, view, objects)
    compared = op("compare_models")(view, "baseline", "candidate", gt_field="truth", key="loop", **kind.matching)
    view = _samples(dataset, ids)
    sizes = [len(label[objects]) for label in view.values("baseline")]
    assert _counts(view, "loop", "baseline") == [(n, 0, 0) for n in sizes]
    expected = [(n, 0, 0) for n in sizes]
    expected[2] = (sizes[2] - 1, 0, 1)
    expected[3] = (sizes[3] - 1, 1, 1)
    assert _counts(view, "loop", "candidate") == expected
    assert compared["samples"] == len(ids) and compared["regressed_samples"] == 2


def _regions(dataset, review_field, sample_id):
    return {region.label: region for region in dataset[sample_id][review_field].detections}


def test_semantic_masks_go_through_the_whole_loop(small_shapes, tiny_models, cvat_env):
    dataset = small_shapes

    # 1. prelabel: a semantic segmenter with its per-pixel probabilities saved
    made = op("prelabel")(dataset, tiny_models["segmentation"], output_field="baseline", store_logits=True)
    assert made["written"] == len(dataset) and all(dataset.values("baseline.probabilities_path"))
    masks = {s.id: s.baseline.get_mask() for s in dataset.select_fields("baseline")}
    sure = {s.id: np.diff(np.load(s.baseline.probabilities_path), axis=0)[0] > 0 for s in dataset}  # p(shape) wins
    full = [i for i in masks if sure[i][BLOCK].all()]  # the erased block: one region
    ids = [*full[:1], *(i for i, mask in masks.items() if i not in full[:1] and (mask[BLOCK] == 1).sum() >= 100)][:4]
    assert len(ids) == 4 and full, "the tiny segmenter painted too little 'shape'"
    view = _samples(dataset, ids)

    # 2. the ground truth: the accepted masks, the first with the 'shape' pixels of a block erased
    accepted = op("accept_prelabels")(view, "baseline", gt_field="truth", threshold=0.0)
    assert accepted["promoted"] == len(ids) and dataset.mask_targets["truth"] == dataset.mask_targets["baseline"]
    first = view.first()
    erased = first.truth.get_mask().copy()
    erased[BLOCK] = 0
    first.truth.mask = erased
    first.save()
    truth_ids = view.values("truth.id")

    # 3. mistakenness from the saved probabilities: a possibly missing region on the first sample only
    scored = op("compute_mistakenness")(view, "baseline", gt_field="truth")
    view = _samples(dataset, ids)
    missing, spurious, score = (view.values(f) for f in ("possible_missing", "possible_spurious", "mistakenness"))
    assert missing == [1, 0, 0, 0] and spurious == [0, 0, 0, 0] and scored["possible_missing"] == 1
    assert score[0] > 0 and score[1:] == [0.0, 0.0, 0.0]
    [region] = view.first().suspect_regions.detections
    assert (region.kind, region.label, region.given) == ("possible_missing", "shape", "background")
    assert region.area == int((masks[ids[0]][BLOCK] == 1).sum())

    # 4. send, pre-populated from the predicted mask on the pixels the ground truth leaves unlabelled
    sent = op("send_to_cvat")(view, gt_field="truth", pred_field="baseline")
    key, task_id = sent["run_key"], sent["task_ids"][0]
    review = f"truth_{key}"
    assert {s["type"] for s in cvat_env.annotations(task_id)["shapes"]} == {"mask"}
    assert sent["prefilled"] == 1

    # 5. a person deletes the second sample's 'shape' region, and leaves the offered one
    person = Annotator(cvat_env.url, cvat_env.owner.username, cvat_env.owner.password)
    deleted = _regions(dataset, review, ids[1])["shape"]
    person.delete_shape(task_id, person.find(task_id, "shapes", deleted.id))

    # 6. load: merged pixel by pixel, each mask keeping its identity
    loaded = op("load_from_cvat")(dataset, review=key)
    assert (loaded["deleted"], loaded["accepted_predictions"], loaded["edited"], loaded["drawn"]) == (1, 1, 0, 0)
    assert loaded["unchanged"] == sent["gt_labels"] - 1
    view = _samples(dataset, ids)
    assert view.values("truth.id") == truth_ids
    after = [label.get_mask() for label in view.values("truth")]
    assert np.array_equal(after[0], masks[ids[0]])  # the erased block filled back from the prediction
    expected = masks[ids[1]].copy()
    expected[expected == 1] = 0
    assert np.array_equal(after[1], expected)  # the deleted region
    assert all(np.array_equal(after[i], masks[ids[i]]) for i in (2, 3))  # untouched: pixel for pixel
    assert op("finish_cvat_review")(dataset, review=key, action="accept")["accepted"] == key
    assert not dataset.has_field(f"truth_before_{key}")

    # 7. compare: the candidate loses the block's 'shape' pixels on the third sample: broken there only
    dataset.clone_sample_field("baseline", "candidate")
    dataset.mask_targets["candidate"] = dataset.mask_targets["baseline"]
    dataset.save()
    third = dataset[ids[2]]
    spoiled = third.candidate.get_mask().copy()
    spoiled[BLOCK] = 0
    third.candidate.mask = spoiled
    third.save()
    compared = op("compare_models")(view, "baseline", "candidate", gt_field="truth", key="loop")
    view = _samples(dataset, ids)
    broken = int((masks[ids[2]][BLOCK] == 1).sum())
    assert view.values("loop_broken") == [0, 0, broken, 0] and view.values("loop_fixed") == [0, 0, 0, 0]
    assert compared["overall"]["broken"] == broken and compared["regressed_samples"] == 1
