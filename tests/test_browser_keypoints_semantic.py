"""Issue 14 in the App, as a person uses it: keypoints (as CVAT points, or skeletons where the dataset defines one)
and semantic masks sent to CVAT from the forms, corrected there, loaded back and accepted from the forms; keypoint
mistakenness from its form; and bad input that the forms refuse before anything is written. Each test clicks and
types as a person would, asserts what they see, and checks the data."""

import os
import re
import uuid

import numpy as np
import pytest
from test_browser_label_types import execute, images, offered, open_form, shown_count
from test_browser_masks import fill
from test_browser_person import pick

import fiftyone as fo
import fiftyone.operators as foo

from testing import browser
from testing.cvat_annotator import Annotator

SIZE = 64  # the images' width and height
SAMPLES = 4
BOXES = {"circle": (8, 8, 16, 16), "square": (36, 32, 20, 24)}  # each sample's objects, pixel (x, y, width, height)
GUESS = ("triangle", (4, 44, 12, 12))  # the confident prediction offered on the first sample, away from both
NODES = ["top", "right", "bottom"]  # the skeleton of the three points
MOVE = 4  # pixels the person drags a keypoint in CVAT
SIGMAS = "0.1, 0.1, 0.1"  # per-point OKS sigmas: a keypoint moved by MOVE * 2 pixels no longer matches
TARGETS = {1: "circle", 2: "square", 3: "triangle"}
LOADED = "Corrections loaded (previous ground truth kept until accepted)"
ACCEPTED = "Corrections accepted: the backup of the previous ground truth is deleted"
GROUND_TRUTH = re.compile("^Ground truth$")  # the form's explanation says "ground truth" too
SIGMAS_LABEL = "Keypoint OKS sigmas"
MASKS_LABEL = "Match instance masks"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not browser.chromium_available() and not os.environ.get("CI"),  # in CI a missing browser is a failure
        reason="needs Debian's chromium (`make test` installs it)",
    ),
]


def keypoint(label, box, dx=0, confidence=None):
    """Three points on pixel box ``box`` (whole pixels, as CVAT keeps them), moved ``dx`` pixels right."""
    x, y, w, h = box
    points = [(x + dx, y), (x + w + dx, y), (x + w // 2 + dx, y + h)]
    scores = {"confidence": [confidence] * len(points)} if confidence else {}
    return fo.Keypoint(label=label, points=[(px / SIZE, py / SIZE) for px, py in points], **scores)


def poses(confidence=None):
    return fo.Keypoints(keypoints=[keypoint(label, box, confidence=confidence) for label, box in BOXES.items()])


def new_dataset(tmp_path, prefix, **fields):
    """``SAMPLES`` grey images with the label fields ``fields`` ({name: one label per sample})."""
    paths = images(str(tmp_path / "images"), SAMPLES)
    samples = [fo.Sample(filepath=p, **{k: v[i] for k, v in fields.items()}) for i, p in enumerate(paths)]
    dataset = fo.Dataset(f"{prefix}-{uuid.uuid4().hex[:8]}")
    dataset.add_samples(samples, progress=False)
    dataset.compute_metadata(progress=False)
    return dataset


@pytest.fixture
def posed(tmp_path):
    """``pose``: two keypoints per sample; ``pose_guess``: a confident keypoint on the first sample only."""
    guess = [fo.Keypoints(keypoints=[keypoint(*GUESS, confidence=0.9)])] + [None] * (SAMPLES - 1)
    dataset = new_dataset(tmp_path, "browser-keypoints", pose=[poses() for _ in range(SAMPLES)], pose_guess=guess)
    yield dataset
    dataset.delete()


def keypoints_by_id(dataset, field="pose"):
    return {k.id: k for value in dataset.values(field) if value is not None for k in value.keypoints}


def person(server):
    return Annotator(server.url, server.owner.username, server.owner.password)


def send_from_the_form(page, gt_field, pred_field):
    """Sends ``gt_field`` pre-populated from ``pred_field`` from the Send to CVAT form; returns what it shows."""
    open_form(page, "Send to CVAT")
    assert gt_field in offered(page, "Field to correct (ground truth)")
    pick(page, "Field to correct (ground truth)", gt_field)
    pick(page, "Pre-populate from predictions", pred_field)
    page.get_by_text("Edit instance masks as", exact=True).wait_for(state="hidden")  # for instance masks only
    return execute(page, "Sent to CVAT")


def load_and_accept_from_the_forms(page, gt_field, key):
    """Loads review ``key`` of ``gt_field`` from the Load from CVAT form, then accepts it from the Accept or revert
    form; returns what the load shows."""
    open_form(page, "Load from CVAT")
    review = page.get_by_text("Review (annotation run)").first.locator("xpath=following::div[@role='combobox'][1]")
    review.wait_for()
    assert review.inner_text().strip() == key  # the newest review, chosen for the person
    loaded = execute(page, LOADED)
    backup = page.get_by_text(f"{gt_field}_before_{key}", exact=True)
    backup.first.wait_for()  # the previous ground truth, in the sidebar until accepted
    open_form(page, "Accept or revert CVAT corrections")
    action = page.get_by_text("Action", exact=True).first.locator("xpath=following::div[@role='combobox'][1]")
    action.wait_for()
    assert action.inner_text().strip() == "accept"
    accepted = execute(page, ACCEPTED)
    assert "Review accepted" in accepted and key in accepted, accepted  # said, not only done
    backup.first.wait_for(state="hidden")
    return loaded


@pytest.mark.parametrize("shapes_as", ["points", "skeleton"])
def test_keypoints_go_to_cvat_and_back_from_the_forms(posed, cvat_double_env, shapes_as):
    if shapes_as == "skeleton":
        posed.skeletons = {"pose": fo.KeypointSkeleton(labels=NODES, edges=[[0, 1, 2]])}
        posed.save()
    before = keypoints_by_id(posed)
    with browser.app_page(posed, width=1600, height=1000) as page:
        sent = send_from_the_form(page, "pose", "pose_guess")
        assert shown_count(sent, "Ground-truth labels sent") == len(before), sent
        assert shown_count(sent, "Predictions pre-populated") == 1, sent

        posed.reload()
        [key] = posed.list_annotation_runs()
        [task_id] = posed.load_annotation_results(key).task_ids
        shapes = cvat_double_env.annotations(task_id)["shapes"]
        assert [s["type"] for s in shapes] == [shapes_as] * (len(before) + 1)
        annotator = person(cvat_double_env)
        if shapes_as == "skeleton":
            label = annotator.labels(task_id)["circle"]
            assert label["type"] == "skeleton" and [s["name"] for s in label["sublabels"]] == NODES
        moved = posed.skip(1).first().pose.keypoints[0]
        annotator.move_shape(task_id, annotator.find(task_id, "shapes", moved.id), MOVE, 0)

        loaded = load_and_accept_from_the_forms(page, "pose", key)
        expected = {"Edited": 1, "Accepted predictions": 1, "Deleted": 0, "Drawn": 0, "Unchanged": len(before) - 1}
        assert {name: shown_count(loaded, name) for name in expected} == expected, loaded
    posed.reload()
    after = keypoints_by_id(posed)
    assert set(before) < set(after) and len(after) == len(before) + 1  # nothing lost, the prediction accepted
    for label_id, label in before.items():
        shift = (MOVE / SIZE, 0) if label_id == moved.id else (0, 0)
        assert np.allclose(np.array(after[label_id].points) - label.points, shift, atol=1e-9), label_id
    [new] = [k for k in after.values() if k.id not in before]
    assert new.label == GUESS[0] and np.allclose(new.points, keypoint(*GUESS).points)
    assert not posed.has_field(f"pose_before_{key}")  # accepted: the backup is gone


def scene(with_guess=False):
    """A semantic mask with each of ``BOXES`` painted with its class's value; ``with_guess``: only ``GUESS``'s block,
    a prediction on the pixels the ground truth leaves unlabelled."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    values = {name: value for value, name in TARGETS.items()}
    for label, (x, y, w, h) in [GUESS] if with_guess else BOXES.items():
        mask[y : y + h, x : x + w] = values[label]
    return mask


@pytest.fixture
def painted(tmp_path):
    """``scene``: a semantic mask per sample (two classes); ``scene_guess``: a predicted block on the first."""
    guess = [fo.Segmentation(mask=scene(with_guess=True))] + [None] * (SAMPLES - 1)
    scenes = [fo.Segmentation(mask=scene()) for _ in range(SAMPLES)]
    dataset = new_dataset(tmp_path, "browser-semantic", scene=scenes, scene_guess=guess)
    dataset.mask_targets = {"scene": TARGETS, "scene_guess": TARGETS}
    dataset.save()
    yield dataset
    dataset.delete()


def test_semantic_masks_go_to_cvat_and_back_from_the_forms(painted, cvat_double_env):
    before, mask_ids = [s.get_mask() for s in painted.values("scene")], painted.values("scene.id")
    regions = 2 * SAMPLES  # one CVAT mask per class per sample
    with browser.app_page(painted, width=1600, height=1000) as page:
        sent = send_from_the_form(page, "scene", "scene_guess")
        assert shown_count(sent, "Ground-truth labels sent") == regions, sent
        assert shown_count(sent, "Predictions pre-populated") == 1, sent

        open_form(page, "Accept or revert CVAT corrections")  # nothing loaded yet: nothing to accept
        page.get_by_text("This dataset has no review with loaded corrections yet.").wait_for()
        browser.expect_disabled(page.get_by_role("button", name="Execute"))
        page.get_by_role("button", name="Cancel").click()

        painted.reload()
        [key] = painted.list_annotation_runs()
        [task_id] = painted.load_annotation_results(key).task_ids
        shapes = cvat_double_env.annotations(task_id)["shapes"]
        assert [s["type"] for s in shapes] == ["mask"] * (regions + 1)
        annotator = person(cvat_double_env)
        square = next(r for r in painted.values(f"scene_{key}")[1].detections if r.label == "square")
        annotator.delete_shape(task_id, annotator.find(task_id, "shapes", square.id))

        loaded = load_and_accept_from_the_forms(page, "scene", key)
        expected = {"Deleted": 1, "Accepted predictions": 1, "Edited": 0, "Drawn": 0, "Unchanged": regions - 1}
        assert {name: shown_count(loaded, name) for name in expected} == expected, loaded
    painted.reload()
    assert painted.values("scene.id") == mask_ids  # each mask keeps its identity
    after = [s.get_mask() for s in painted.values("scene")]
    assert np.array_equal(after[0], before[0] + scene(with_guess=True))  # the offered block, accepted
    assert np.array_equal(after[1], np.where(before[1] == 2, 0, before[1]))  # the square, deleted
    assert all(np.array_equal(a, b) for a, b in zip(after[2:], before[2:], strict=True))  # pixel for pixel
    assert not painted.has_field(f"scene_before_{key}")  # accepted: the backup is gone


def masked_boxes():
    """``BOXES`` as Detections with instance masks (the dataset's default ground truth)."""
    return fo.Detections(
        detections=[
            fo.Detection(label=label, bounding_box=[v / SIZE for v in box], mask=np.ones(box[:1:-1], bool))
            for label, box in BOXES.items()
        ]
    )


@pytest.fixture
def mistaken(tmp_path):
    """``ground_truth``: boxes with instance masks; ``pose``: keypoints, the first sample's square missed by the
    annotators and the second's circle drawn ``2 * MOVE`` pixels off its object; ``pose_pred``: a confident model's
    keypoints, right on every sample."""
    truth = [poses() for _ in range(SAMPLES)]
    truth[0].keypoints.pop()
    truth[1].keypoints[0] = keypoint("circle", BOXES["circle"], dx=2 * MOVE)
    dataset = new_dataset(
        tmp_path,
        "browser-keypoint-mistakes",
        ground_truth=[masked_boxes() for _ in range(SAMPLES)],
        pose=truth,
        pose_pred=[poses(confidence=0.9) for _ in range(SAMPLES)],
    )
    yield dataset
    dataset.delete()


def test_keypoint_mistakenness_from_the_form(mistaken):
    with browser.app_page(mistaken, width=1600, height=1000) as page:
        open_form(page, "Compute mistakenness")
        use_masks = page.get_by_role("checkbox", name=MASKS_LABEL)
        use_masks.wait_for()
        assert use_masks.is_checked() and not page.get_by_text(SIGMAS_LABEL).count()  # the default: masked boxes
        pick(page, GROUND_TRUTH, "pose")  # the masks option the form defaulted must not block the keypoints
        page.get_by_text(SIGMAS_LABEL, exact=True).wait_for()  # offered for keypoints, instead of masks
        assert page.get_by_text("keypoints are flagged the same way").count()  # the explanation covers them
        assert not use_masks.count()
        pick(page, "Predictions field", "pose_pred")
        fill(page, SIGMAS_LABEL, SIGMAS)
        result = execute(page, "Mistakenness computed: sort by it in the grid")
        # the missed square: its prediction possibly missing; the moved circle: unmatched both ways
        assert shown_count(result, "Possibly missing objects") == 2, result
        assert shown_count(result, "Possibly spurious objects") == 1, result
    mistaken.reload()
    assert mistaken.values("possible_missing") == [1, 1, 0, 0]
    assert mistaken.values("possible_spurious") == [0, 1, 0, 0]
    [flagged] = [k for value in mistaken.values("pose") for k in value.keypoints if k.possible_spurious]
    assert flagged.id == mistaken.skip(1).first().pose.keypoints[0].id
    [run] = [mistaken.get_run_info(k).config.params for k in mistaken.list_runs()]
    assert run["keypoint_sigmas"] == [0.1, 0.1, 0.1] and run["gt_field"] == "pose"  # the typed sigmas, as numbers
    plain = foo.get_operator("@labelloop/mlops/compute_mistakenness")(mistaken, "pose_pred", "pose", prefix="plain_")
    assert (plain["possible_missing"], plain["possible_spurious"]) == (1, 0)  # sigmas of 1: the moved circle matches


def test_a_keypoint_that_does_not_fit_the_skeleton_blocks_the_send(posed, cvat_double_env):
    posed.skeletons = {"pose": fo.KeypointSkeleton(labels=NODES, edges=[[0, 1, 2]])}
    posed.save()
    sample = posed.first()
    sample.pose.keypoints[0].points = sample.pose.keypoints[0].points[:2]
    sample.save()
    with browser.app_page(posed, width=1600, height=1000) as page:
        open_form(page, "Send to CVAT")
        pick(page, "Field to correct (ground truth)", "pose")
        page.get_by_text("has 2 points, the field's skeleton 3 nodes").first.wait_for()
        browser.expect_disabled(page.get_by_role("button", name="Execute"))
    posed.reload()
    assert cvat_double_env.tasks == {} and not posed.list_annotation_runs()


def test_keypoint_mistakenness_against_boxes_is_blocked(mistaken):
    with browser.app_page(mistaken, width=1600, height=1000) as page:
        open_form(page, "Compute mistakenness")
        pick(page, GROUND_TRUTH, "pose")
        pick(page, "Predictions field", "ground_truth")
        page.get_by_text("Predictions and ground truth must hold the same label type").first.wait_for()
        browser.expect_disabled(page.get_by_role("button", name="Execute"))
    mistaken.reload()
    assert not mistaken.list_runs() and not mistaken.has_field("mistakenness")
