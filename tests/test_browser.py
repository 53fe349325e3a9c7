"""The plugin in the real App: operator browser, an operator form and its output, the LabelLoop panel."""

import os
import re

import pytest

import fiftyone as fo

from core.store import runs
from testing import browser, data

F = fo.ViewField

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not browser.chromium_available() and not os.environ.get("CI"),  # in CI a missing browser is a failure
        reason="needs Debian's chromium (`make test` installs it)",
    ),
]


def test_operator_and_panel_in_the_app(shapes):
    key = runs.start_run(shapes, "prelabel", model="demo-model", fields=["ground_truth"])
    runs.finish_run(shapes, key, counts={"labels": 10})
    with browser.app_page(shapes, width=1600) as page:
        browser.dismiss_popups(page)

        page.keyboard.press("Backquote")  # opens the operator browser
        page.keyboard.type("LabelLoop")
        page.get_by_text("LabelLoop: Dataset info").first.click()
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Samples in the target view").wait_for()
        browser.close_progress(page)
        output = page.inner_text("body")
        assert str(len(shapes)) in output and "Detections" in output and key in output
        page.get_by_role("button", name="Close").click()

        page.locator('[title="New panel"]').first.click()
        page.get_by_text("LabelLoop", exact=True).first.click()
        header = page.get_by_text(f"{len(shapes)} samples in the current view")
        header.wait_for()
        panel_text = page.inner_text("body")
        assert "1 LabelLoop runs on the dataset" in panel_text and key in panel_text
        page.wait_for_selector('[data-cy="looker"] canvas[canvas-loaded="true"]')


def test_prelabel_form_runs_a_local_model_from_the_app(digits, tiny_models):
    with browser.app_page(digits, width=1600) as page:
        browser.dismiss_popups(page)
        page.keyboard.press("Backquote")
        page.keyboard.type("Pre-label")
        page.get_by_text("LabelLoop: Pre-label with a model").first.click()
        page.get_by_text("A Hugging Face hub id or a local directory").wait_for()
        page.locator("div.MuiTextField-root input").first.fill(tiny_models["classification"])
        page.get_by_text("Required property").wait_for(state="hidden")  # the form took the model
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Pre-labelling finished").wait_for()
        output = page.inner_text("body")
        assert "Samples written" in output
        assert "No value provided" not in output and "Unreadable images (first 20)" not in output
    digits.reload()
    assert digits.count("predictions") == len(digits)
    assert digits.first().predictions.model_version.startswith("hf:")


def test_regression_panel_in_the_app(shapes):
    import fiftyone.operators as foo

    data.add_simulated_predictions(shapes, seed=4)
    result = foo.get_operator("@labelloop/mlops/compare_models")(shapes, "baseline", "candidate")
    with browser.app_page(shapes, width=1600) as page:
        browser.dismiss_popups(page)
        page.locator('[title="New panel"]').first.click()
        page.get_by_text("Model regression", exact=True).first.click()
        page.get_by_text(f"{result['regressed_samples']} regressed").wait_for()
        page.wait_for_selector(".js-plotly-plot .bars")
        page.get_by_text("Worst-regressed samples (page 1)").wait_for()
        page.wait_for_selector('[data-cy="looker"] canvas[canvas-loaded="true"]')
        bar = page.locator(".js-plotly-plot .bars path").first.bounding_box()  # the "fixed" bar of the first class
        page.mouse.click(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
        first_class = sorted(result["per_class"])[0]
        fixed = shapes.filter_labels("ground_truth", (F("label") == first_class) & (F("compare") == "fixed"))
        page.get_by_text(grid_count(len(fixed))).wait_for()
        page.get_by_role("button", name="Show regressed samples").click()
        page.get_by_text(grid_count(len(fixed.match(F("compare_score") > 0)))).wait_for()


def test_regression_panel_compare_button_runs_the_operator(shapes):
    import fiftyone.operators as foo

    data.add_simulated_predictions(shapes, seed=4)
    foo.get_operator("@labelloop/mlops/compare_models")(shapes, "baseline", "candidate")
    with browser.app_page(shapes, width=1600) as page:
        browser.dismiss_popups(page)
        page.locator('[title="New panel"]').first.click()
        page.get_by_text("Model regression", exact=True).first.click()
        page.get_by_text("Worst-regressed samples (page 1)").wait_for()
        key = page.get_by_text("Key", exact=True).locator("xpath=following::input[1]")
        key.fill("second")
        key.press("Tab")
        page.get_by_role("button", name="Compare", exact=True).click()
        page.get_by_text("second: candidate vs baseline").wait_for()  # the panel shows the run it started
    shapes.reload()
    [second] = [r for r in runs.list_suite_runs(shapes) if r["params"].get("key") == "second"]
    assert second["kind"] == "compare_models" and second["status"] == runs.COMPLETED and second["user"]


def grid_count(n):
    """The grid's sample count text ("1 sample", "12 samples")."""
    return re.compile(rf"^{n} samples?$")


def test_send_to_cvat_form_in_the_app(shapes, cvat_env):
    with browser.app_page(shapes, width=1600) as page:
        browser.dismiss_popups(page)
        page.keyboard.press("Backquote")
        page.keyboard.type("Send to CVAT")
        page.get_by_text("LabelLoop: Send to CVAT").first.click()
        page.get_by_text("Pre-populate from predictions").wait_for()
        page.get_by_text("Required property").wait_for(state="hidden")  # the form has resolved its defaults
        page.get_by_role("button", name="Execute").click()
        page.get_by_text("Sent to CVAT").wait_for()
        assert "Samples sent" in page.inner_text("body")
    (task,) = cvat_env.tasks.values()
    assert task["size"] == len(shapes) and task["name"].startswith("labelloop_cvat_")
