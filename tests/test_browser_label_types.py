"""Issue 14 in the App, as a person uses it: comparing models and finding label mistakes on instance masks and
semantic masks from the forms, and reading the comparison in the Model regression panel. Each test clicks and types
as a person would, asserts what they see, and checks the run did what the form said."""

import os
import re
import uuid

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from test_browser_masks import fill
from test_browser_person import click_bar, grid_count, open_panel, pick

import fiftyone as fo
import fiftyone.operators as foo

from testing import browser
from testing import synthetic_segmentation as seg

SIZE = 64  # the images' width and height
SAMPLES = 4
BOX = (8, 8, 32, 32)  # every ground-truth object's box, in pixels (x, y, width, height)
MASKS = "Match instance masks"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not browser.chromium_available() and not os.environ.get("CI"),  # in CI a missing browser is a failure
        reason="needs Debian's chromium (`make test` installs it)",
    ),
]


def images(directory, count, size=(SIZE, SIZE)):
    """``count`` grey PNG images of ``size`` (width, height) in ``directory``: the App shows real media."""
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f"{i}.png") for i in range(count)]
    for i, path in enumerate(paths):
        Image.new("RGB", size, (60 + 40 * i, 90, 120)).save(path)
    return paths


def detection(box, mask, confidence=None):
    """A "car" with pixel box ``box`` and instance mask ``mask`` (the size of the box)."""
    x, y, w, h = box
    return fo.Detection(
        label="car", bounding_box=[x / SIZE, y / SIZE, w / SIZE, h / SIZE], mask=mask, confidence=confidence
    )


def quarter(box, corner):
    """A mask of ``box``'s size that covers only its ``corner`` quarter ("top-left" or "bottom-right")."""
    w, h = box[2:]
    mask = np.zeros((h, w), bool)
    if corner == "top-left":
        mask[: h // 2, : w // 2] = True
    else:
        mask[h // 2 :, w // 2 :] = True
    return mask


@pytest.fixture
def masked(tmp_path):
    """Objects whose boxes and masks disagree: the ground truth's mask fills the top-left quarter of its box; the
    baseline's box is that quarter (box IoU 0.25, mask IoU 1: right only by masks); the candidate's box is the
    ground truth's but its mask fills the bottom-right quarter (box IoU 1, mask IoU 0: right only by boxes)."""
    x, y, w, h = BOX
    gt_quarter = (x, y, w // 2, h // 2)
    samples = [
        fo.Sample(
            filepath=path,
            ground_truth=fo.Detections(detections=[detection(BOX, quarter(BOX, "top-left"))]),
            baseline=fo.Detections(detections=[detection(gt_quarter, np.ones((h // 2, w // 2), bool), 0.9)]),
            candidate=fo.Detections(detections=[detection(BOX, quarter(BOX, "bottom-right"), 0.9)]),
        )
        for path in images(str(tmp_path / "images"), SAMPLES)
    ]
    ds = fo.Dataset(f"browser-label-types-{uuid.uuid4().hex[:8]}")
    ds.add_samples(samples, progress=False)
    yield ds
    ds.delete()


@pytest.fixture
def segmented(tmp_path):
    """``SAMPLES`` images with ``ground_truth``, ``baseline`` and ``candidate`` Segmentations of the same mask
    targets (``testing.synthetic_segmentation``)."""
    rng = np.random.default_rng(3)
    height, width = seg.SIZE
    samples = []
    for path in images(str(tmp_path / "images"), SAMPLES, size=(width, height)):
        gt = seg.truth(rng)
        masks = {"ground_truth": gt, "baseline": seg.predicted(rng, gt, 3), "candidate": seg.predicted(rng, gt, 2)}
        samples.append(fo.Sample(filepath=path, **{f: seg.segmentation(m) for f, m in masks.items()}))
    ds = seg.dataset(f"browser-segmentation-{uuid.uuid4().hex[:8]}", samples, ("ground_truth", "baseline", "candidate"))
    yield ds
    ds.delete()


def open_form(page, label):
    browser.dismiss_popups(page)
    browser.open_operator(page, label)


def execute(page, finished):
    """Executes the open form and returns the text of its result, as the person reads it."""
    page.get_by_role("button", name="Execute").click()
    page.get_by_text(finished).first.wait_for()
    browser.close_progress(page)
    result = page.get_by_role("dialog").inner_text()
    page.get_by_role("button", name="Close").click()
    return result


def shown_count(result, label):
    """The number a run's result shows under ``label`` (None when it shows none)."""
    found = re.search(rf"{label}:\s*(\d+)", result)
    return int(found.group(1)) if found else None


def offered(page, label):
    """The choices of the form's dropdown labelled ``label``, as the person sees them when opening it."""
    page.get_by_text(label).first.locator("xpath=following::div[@role='combobox'][1]").click()
    options = page.get_by_role("option")
    options.first.wait_for()
    names = [name.strip() for name in options.all_inner_texts()]
    page.keyboard.press("Escape")
    options.first.wait_for(state="hidden")
    return names


def open_regression_panel(page):
    """Opens the Model regression panel, empty before any comparison; it shows one when an operator saves it."""
    browser.dismiss_popups(page)
    open_panel(page, "Model regression", "No model comparison yet.")


def open_compare_form(page):
    """Opens the Model regression panel, then the Compare models form with the baseline and candidate picked."""
    open_regression_panel(page)
    browser.open_operator(page, "Compare models")
    pick(page, "Baseline predictions", "baseline")
    pick(page, "Candidate predictions", "candidate")


def headline(page):
    """The panel's headline (candidate vs baseline, samples, fixed and broken), as shown."""
    line = page.get_by_text(re.compile(r"samples, \d+ regressed")).first
    line.wait_for()
    return " ".join(line.inner_text().split())


def chart_title(page):
    """The title of the panel's per-class bar chart, as shown."""
    title = page.locator(".js-plotly-plot .gtitle").first
    title.wait_for()
    return title.text_content()


def bars(page):
    """The per-class bar chart as plotted: {trace: {class: height}}."""
    page.locator(".js-plotly-plot .legend .traces .legendtext").first.wait_for()
    return page.evaluate(
        """() => Object.fromEntries(document.querySelector('.js-plotly-plot').data.map(
            t => [t.name, Object.fromEntries(t.x.map((x, i) => [String(x), t.y[i]]))]))"""
    )


def test_instance_masks_are_compared_by_mask_from_the_form_and_the_panel_shows_it(masked):
    with browser.app_page(masked, width=1600, height=1000) as page:
        open_compare_form(page)
        use_masks = page.get_by_role("checkbox", name=MASKS)
        use_masks.wait_for()
        assert use_masks.is_checked()  # on by default: the ground truth has masks
        result = execute(page, "Comparison saved: open the Model regression panel")
        assert shown_count(result, "Samples that regressed") == SAMPLES, result
        shown = headline(page)
        assert f"{SAMPLES} samples, {SAMPLES} regressed" in shown and f"Fixed 0, broken {SAMPLES}" in shown, shown
        plotted = bars(page)
        assert plotted["broken"]["car"] == SAMPLES and plotted["new_fp"]["car"] == SAMPLES, plotted
    masked.reload()
    [run] = [masked.get_run_info(k).config.params for k in masked.list_runs()]
    assert run["use_masks"] is True
    by_boxes = foo.get_operator("@labelloop/mlops/compare_models")(
        masked, "baseline", "candidate", key="boxes", use_masks=False
    )
    assert by_boxes["overall"].get("fixed") == SAMPLES and not by_boxes["overall"].get("broken")  # boxes disagree


def test_semantic_masks_are_compared_per_pixel_from_the_form(segmented):
    masks = {f: np.stack([s[f].get_mask() for s in segmented]) for f in ("ground_truth", "baseline", "candidate")}
    gt, base, cand = masks["ground_truth"], masks["baseline"], masks["candidate"]
    expected, broken_in = {"fixed": {}, "broken": {}}, {}
    for value, name in seg.TARGETS.items():
        if value:  # the background is no object
            right = gt == value
            expected["fixed"][name] = int((right & (base != value) & (cand == value)).sum())
            broken = right & (base == value) & (cand != value)
            expected["broken"][name], broken_in[name] = int(broken.sum()), int(broken.any(axis=(1, 2)).sum())
    worst = max(broken_in, key=expected["broken"].get)
    with browser.app_page(segmented, width=1600, height=1000) as page:
        open_regression_panel(page)
        browser.open_operator(page, "Compare models")
        assert {"ground_truth", "baseline", "candidate"} <= set(offered(page, "Baseline predictions"))
        pick(page, "Baseline predictions", "baseline")
        pick(page, "Candidate predictions", "candidate")
        assert not page.get_by_text(MASKS).count()  # instance-mask matching is for Detections only
        execute(page, "Comparison saved: open the Model regression panel")
        shown = headline(page)
        fixed, broken = (sum(expected[c].values()) for c in ("fixed", "broken"))
        assert f"Fixed {fixed} pixels, broken {broken} pixels" in shown, shown  # counted independently here
        assert "pixels" in chart_title(page)
        plotted = bars(page)
        for category in ("fixed", "broken"):
            assert {k: v for k, v in plotted[category].items() if v} == {
                k: v for k, v in expected[category].items() if v
            }, category
        click_bar(page, "broken", worst)  # the samples where the candidate broke pixels of that class
        page.get_by_text(grid_count(broken_in[worst])).wait_for()


def test_differing_mask_targets_block_the_comparison(segmented):
    segmented.mask_targets = {**segmented.mask_targets, "candidate": {**seg.TARGETS, 2: "truck"}}
    segmented.save()
    with browser.app_page(segmented, width=1600, height=1000) as page:
        open_form(page, "Compare models")
        warning = page.get_by_text("The fields' mask targets differ").first
        for attempt in range(3):  # a pick made while the form re-renders after the previous one can be dropped
            pick(page, "Baseline predictions", "baseline")
            pick(page, "Candidate predictions", "candidate")
            try:
                warning.wait_for(timeout=20_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    raise
        browser.expect_disabled(page.get_by_role("button", name="Execute"))  # the form re-renders after the warning
    assert not segmented.list_runs()


def test_mistakenness_on_instance_masks_from_the_form(masked):
    with browser.app_page(masked, width=1600, height=1000) as page:
        open_form(page, "Compute mistakenness")
        pick(page, "Predictions field", "candidate")
        use_masks = page.get_by_role("checkbox", name=MASKS)
        use_masks.wait_for()
        assert use_masks.is_checked()
        result = execute(page, "Mistakenness computed: sort by it in the grid")
        # by masks the candidate covers none of the truth: each of its objects possibly missing, each truth spurious
        for label in ("Possibly missing objects", "Possibly spurious objects"):
            assert shown_count(result, label) == SAMPLES, result
        page.get_by_text("possible_missing", exact=True).first.wait_for()  # the new fields show in the sidebar
    masked.reload()
    assert masked.sum("possible_missing") == SAMPLES and masked.sum("possible_spurious") == SAMPLES
    [run] = [masked.get_run_info(k).config.params for k in masked.list_runs()]
    assert run["use_masks"] is True
    by_boxes = foo.get_operator("@labelloop/mlops/compute_mistakenness")(
        masked, "candidate", prefix="boxes_", use_masks=False
    )
    assert by_boxes["possible_missing"] == by_boxes["possible_spurious"] == 0  # by boxes the candidate is right


def square(x, y, side=16):
    """The closed polygon of a square of ``side`` pixels at pixel (x, y), in relative coordinates."""
    corners = [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    return [[(cx / SIZE, cy / SIZE) for cx, cy in corners]]


def labelled_dataset(tmp_path, make):
    """``SAMPLES`` images whose ``ground_truth``, ``baseline`` and ``candidate`` are ``make(field)``."""
    samples = [
        fo.Sample(filepath=path, **{field: make(field) for field in ("ground_truth", "baseline", "candidate")})
        for path in images(str(tmp_path / "images"), SAMPLES)
    ]
    ds = fo.Dataset(f"browser-label-types-{uuid.uuid4().hex[:8]}")
    ds.add_samples(samples, progress=False)
    return ds


def test_polygons_are_compared_by_their_filled_shapes_from_the_form(tmp_path):
    """The baseline's polygon is the ground truth's; the candidate's lies beside it (no overlap): broken by shape."""
    where = {"ground_truth": (8, 8), "baseline": (8, 8), "candidate": (40, 40)}

    def make(field):
        confidence = None if field == "ground_truth" else 0.9
        polyline = fo.Polyline(label="road", points=square(*where[field]), closed=True, filled=True)
        polyline.confidence = confidence
        return fo.Polylines(polylines=[polyline])

    ds = labelled_dataset(tmp_path, make)
    try:
        with browser.app_page(ds, width=1600, height=1000) as page:
            open_compare_form(page)
            assert not page.get_by_text(MASKS).count()  # masks are for Detections: polygons match by their shapes
            result = execute(page, "Comparison saved: open the Model regression panel")
            assert shown_count(result, "Samples that regressed") == SAMPLES, result
            shown = headline(page)
            assert f"Fixed 0, broken {SAMPLES}" in shown, shown
            assert bars(page)["broken"]["road"] == SAMPLES
    finally:
        ds.delete()


def test_keypoints_are_compared_by_oks_with_the_sigmas_typed_in_the_form(tmp_path):
    """The candidate's points are 3 pixels off the ground truth's, the baseline's exact: broken or not depending
    only on the OKS sigmas the person types (tight sigmas: broken; the same run with loose ones: nothing broken)."""
    truth = [(16, 16), (32, 16), (24, 32)]
    offset = {"ground_truth": 0, "baseline": 0, "candidate": 3}

    def make(field):
        points = [((x + offset[field]) / SIZE, (y + offset[field]) / SIZE) for x, y in truth]
        keypoint = fo.Keypoint(label="person", points=points)
        keypoint.confidence = None if field == "ground_truth" else [0.9] * len(points)
        return fo.Keypoints(keypoints=[keypoint])

    ds = labelled_dataset(tmp_path, make)
    ds.compute_metadata()
    try:
        with browser.app_page(ds, width=1600, height=1000) as page:
            open_compare_form(page)
            fill(page, "Keypoint OKS sigmas", "0.01,0.01,0.01")
            assert not page.get_by_text(MASKS).count()
            result = execute(page, "Comparison saved: open the Model regression panel")
            assert shown_count(result, "Samples that regressed") == SAMPLES, result
            assert f"Fixed 0, broken {SAMPLES}" in headline(page)
        ds.reload()
        [run] = [ds.get_run_info(k).config.params for k in ds.list_runs()]
        assert run["keypoint_sigmas"] == [0.01, 0.01, 0.01]  # the typed sigmas, recorded as numbers
        loose = foo.get_operator("@labelloop/mlops/compare_models")(
            ds, "baseline", "candidate", key="loose", keypoint_sigmas=[1.0, 1.0, 1.0]
        )
        assert not loose["overall"].get("broken")  # 3 pixels are within loose sigmas: the typed ones decided
    finally:
        ds.delete()
