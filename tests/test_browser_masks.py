"""Issue 14 in the App, as a person uses it: masks from boxes and polygons from the pre-label form, and how instance
masks are edited in CVAT from the send form. Each test clicks and types as a person would, asserts what they see,
and checks the run did what they chose."""

import os
import uuid

import numpy as np
import pytest
from test_browser_person import in_viewport, pick

import fiftyone as fo

from testing import browser, data

SIZE = 64  # the shapes images' width and height
PROMPTS = "Prompt boxes (masks or keypoints from boxes)"
POLYGONS = "Write instance masks as polygons"
TOLERANCE = "Polygon tolerance (pixels)"
NEEDS_PROMPTS = "Masks from boxes need a prompt field: give the Detections field"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not browser.chromium_available() and not os.environ.get("CI"),  # in CI a missing browser is a failure
        reason="needs Debian's chromium (`make test` installs it)",
    ),
]


@pytest.fixture(scope="module")
def sam(tmp_path_factory):
    """A tiny random-initialised SAM, saved locally (no download)."""
    from testing import tiny_models as tm

    return str(tm.sam(tmp_path_factory.mktemp("sam") / "sam"))


@pytest.fixture
def small_shapes(tmp_path):
    """6 shapes images of 64x64 pixels with ground-truth boxes drawn by a person."""
    ds = data.build_shapes(f"browser-masks-{uuid.uuid4().hex[:8]}", str(tmp_path / "shapes"), count=6, size=SIZE)
    yield ds
    ds.delete()


def fill(page, label, value):
    """Types ``value`` into the form's input labelled ``label`` and leaves it, as a person does."""
    box = page.get_by_text(label, exact=True).locator("xpath=following::input[1]")
    box.fill(str(value))
    box.press("Tab")


def open_prelabel_with(page, model, output_field):
    browser.dismiss_popups(page)
    browser.open_operator(page, "Pre-label with a model")
    fill(page, "Model", model)
    fill(page, "Output field", output_field)


def test_masks_from_boxes_are_chosen_by_their_prompt_field(small_shapes, sam):
    boxes = small_shapes.count("ground_truth.detections")
    with browser.app_page(small_shapes, width=1600, height=1000) as page:
        open_prelabel_with(page, sam, "sam")
        warning = page.get_by_text(NEEDS_PROMPTS).first
        warning.wait_for()  # a SAM without prompt boxes is refused before anything runs
        assert in_viewport(warning)
        browser.expect_disabled(page.get_by_role("button", name="Execute"))  # the form re-renders after the warning
        pick(page, PROMPTS, "ground_truth")
        warning.wait_for(state="hidden")
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Pre-labelling finished").wait_for()
        browser.close_progress(page)
        result = page.get_by_role("dialog").inner_text()
        assert "Labels written" in result and str(boxes) in result  # one mask per prompt box, as the result says
    small_shapes.reload()
    masks = [d for value in small_shapes.values("sam") for d in value.detections]
    prompts = {d.id: d for value in small_shapes.values("ground_truth") for d in value.detections}
    assert len(masks) == boxes and all(d.mask is not None and d.mask.dtype == bool for d in masks)
    assert {d.prompt_id for d in masks} == set(prompts)  # each box of the chosen field prompted its own copy
    assert all(d.bounding_box == prompts[d.prompt_id].bounding_box for d in masks)
    assert small_shapes.get_field("sam").document_type is fo.Detections


def test_polygons_with_a_tolerance_from_the_form(small_shapes, sam):
    with browser.app_page(small_shapes, width=1600, height=1000) as page:
        open_prelabel_with(page, sam, "outlines")
        needs_prompts = page.get_by_text(NEEDS_PROMPTS).first
        needs_prompts.wait_for()  # the form has checked the model
        pick(page, PROMPTS, "ground_truth")
        needs_prompts.wait_for(state="hidden")  # and the prompt boxes: a click now is not lost to a re-render
        tolerance = page.get_by_text(TOLERANCE, exact=True)
        assert not tolerance.count()  # offered only with polygons
        page.get_by_text(POLYGONS, exact=True).click()
        tolerance.wait_for()
        fill(page, TOLERANCE, -1)
        warning = page.get_by_text("Polygon tolerance -1").first
        warning.wait_for()
        browser.expect_disabled(page.get_by_role("button", name="Execute"))  # the form re-renders after the warning
        fill(page, TOLERANCE, 3)
        warning.wait_for(state="hidden")
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Pre-labelling finished").wait_for()
    small_shapes.reload()
    assert small_shapes.get_field("outlines").document_type is fo.Polylines
    polylines = [p for value in small_shapes.values("outlines") for p in value.polylines]
    assert polylines and all(p.closed and p.filled for p in polylines)
    run = small_shapes.get_run_info(small_shapes.list_runs()[-1]).config.params
    assert run["polygons"] is True and run["tolerance"] == 3 and run["prompt_field"] == "ground_truth"


def block_mask(detection):
    """A mask the size of the detection's pixel box with its top-left corner cut off."""
    width, height = (max(1, round(v * SIZE)) for v in detection.bounding_box[2:])
    mask = np.ones((height, width), bool)
    mask[: height // 2, : width // 2] = False
    return mask


@pytest.mark.parametrize("shapes_as", ["masks", "polygons"])
def test_instance_masks_go_to_cvat_as_the_person_chose(small_shapes, cvat_double_env, shapes_as):
    for sample in small_shapes:
        for detection in sample.ground_truth.detections:
            detection.mask = block_mask(detection)
        sample.save()
    boxes = small_shapes.count("ground_truth.detections")
    cvat_type = {"masks": "mask", "polygons": "polygon"}[shapes_as]
    with browser.app_page(small_shapes, width=1600, height=1000) as page:
        browser.dismiss_popups(page)
        browser.open_operator(page, "Send to CVAT")
        shapes_choice = page.get_by_text("Edit instance masks as", exact=True)
        shapes_choice.wait_for()
        combobox = shapes_choice.locator("xpath=following::div[@role='combobox'][1]")
        assert combobox.inner_text().strip() == "masks"  # the default a person sees
        if shapes_as != "masks":
            pick(page, "Edit instance masks as", shapes_as)
            assert combobox.inner_text().strip() == shapes_as
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Sent to CVAT").wait_for()
    small_shapes.reload()
    [key] = [k for k in small_shapes.list_runs() if k.startswith("cvat_")]
    task_ids = small_shapes.load_annotation_results(key).task_ids
    found = [s["type"] for task_id in task_ids for s in cvat_double_env.annotations(task_id)["shapes"]]
    assert found == [cvat_type] * boxes
