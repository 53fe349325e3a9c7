"""compute_mistakenness on instance masks and keypoints: possibly missing / spurious objects judged by mask IoU
(and OKS), where box IoU would judge wrong, and exactly as FiftyOne's own IoUs tell on synthetic data."""

import numpy as np
import pytest

import fiftyone as fo
from fiftyone.utils import iou as foui

from core.quality import mistakenness as M
from core.store import runs
from harness import operators as ops
from testing import synthetic_masks

BOX = [0.1, 0.1, 0.4, 0.4]  # 40 x 40 pixels in a 100 x 100 frame


def _half(side):
    """A 40 x 40 mask whose left (or right) half is foreground."""
    mask = np.zeros((40, 40), dtype=bool)
    mask[:, :20] = side == "left"
    mask[:, 20:] = side == "right"
    return mask


def _overlapping_boxes_disjoint_masks(dataset):
    """A person's mask on the left of its box, and a confident prediction with the same box on the right: the
    boxes match (IoU 1), the masks do not overlap at all."""
    dataset.add_sample(
        fo.Sample(
            filepath="/a.png",
            ground_truth=fo.Detections(detections=[fo.Detection(label="person", bounding_box=BOX, mask=_half("left"))]),
            predictions=fo.Detections(
                detections=[fo.Detection(label="person", bounding_box=BOX, mask=_half("right"), confidence=0.9)]
            ),
        )
    )
    return dataset


def test_masks_flag_what_boxes_miss(dataset):
    _overlapping_boxes_disjoint_masks(dataset)
    result = M.compute(dataset, M.MistakennessRequest("predictions"))
    assert (result["possible_missing"], result["possible_spurious"]) == (1, 1)
    assert dataset.values("predictions.detections.possible_missing") == [[True]]
    assert dataset.values("ground_truth.detections.possible_spurious") == [[True]]
    assert dataset.values("ground_truth.detections.mistakenness") == [[None]]

    boxes = M.compute(dataset, M.MistakennessRequest("predictions", prefix="box_", use_masks=False))
    assert (boxes["possible_missing"], boxes["possible_spurious"]) == (0, 0)
    assert dataset.values("ground_truth.detections.box_mistakenness") == [[0.0]]
    record = next(r for r in runs.list_suite_runs(dataset) if r["key"] == result["run_key"])
    assert record["params"]["use_masks"] is None and record["status"] == "completed"


def test_form_shows_use_masks_on_by_default_for_masks(dataset):
    _overlapping_boxes_disjoint_masks(dataset)
    params = {"pred_field": "predictions", "gt_field": "ground_truth"}
    assert ops.run("compute_mistakenness", dataset, params).result["possible_missing"] == 1
    off = ops.run("compute_mistakenness", dataset, {**params, "prefix": "off_", "use_masks": False})
    assert off.result["possible_missing"] == 0


def test_a_3d_mask_is_refused_before_anything_is_written(dataset):
    _overlapping_boxes_disjoint_masks(dataset)
    sample = dataset.first()
    sample.predictions.detections[0].mask = np.ones((40, 40, 3), dtype=np.uint8)
    sample.save()
    fields = set(dataset.get_field_schema())
    with pytest.raises(ValueError, match=r"objects in 'predictions' have masks that cannot be compared .*shape"):
        M.compute(dataset, M.MistakennessRequest("predictions"))
    assert set(dataset.get_field_schema()) == fields and not runs.list_suite_runs(dataset)


@pytest.mark.parametrize(("kind", "options"), [("masks", {"use_masks": True}), ("keypoints", {})])
def test_missing_and_spurious_flags_follow_fiftyones_ious(kind, options):
    """A confident prediction is possibly missing exactly when FiftyOne's IoU (OKS) with every ground-truth object
    is below the threshold; a ground-truth object is possibly spurious only when no prediction reaches it."""
    dataset = synthetic_masks.build(f"mistakenness-{kind}", kind, 120, seed=4)
    objects = synthetic_masks.LABELS[kind]._LABEL_LIST_FIELD
    request = M.MistakennessRequest("candidate", confidence_thresh=0.4)
    try:
        result = M.compute(dataset, request)
        expected_missing, reachable = 0, 0
        for sample in dataset.iter_samples():
            preds, gts = sample.candidate[objects], sample.ground_truth[objects]
            table = foui.compute_ious(preds, gts, **options) if preds and gts else np.zeros((len(preds), len(gts)))
            confidence = np.array([_confidence(p) for p in preds])
            missing = (confidence >= 0.4) & ~(table >= 0.5).any(axis=1) if len(preds) else np.zeros(0, bool)
            assert [p.possible_missing for p in preds] == missing.tolist()
            expected_missing += int(missing.sum())
            for j, gt in enumerate(gts):
                if gt.possible_spurious is False:
                    reachable += 1
                    assert (table[confidence >= 0.4, j] >= 0.5).any()
        assert result["possible_missing"] == expected_missing > 10 and reachable > 100
    finally:
        dataset.delete()


def _confidence(prediction):
    confidence = prediction.confidence
    return float(np.nanmean(confidence)) if isinstance(confidence, list) else confidence
