"""``make screenshots``: the README's screenshots (``assets/*.png``), taken of the demo datasets in the ``make app``
layout as a newcomer sees them after ``make demo``, in headless Chromium at 1600 x 1000."""

import argparse
import os

from demo import REPO, setup_environment

setup_environment()

import fiftyone as fo  # noqa: E402

from demo import app  # noqa: E402
from demo.__main__ import DIGITS, SHAPES  # noqa: E402
from testing import browser  # noqa: E402

WIDTH, HEIGHT = 1600, 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=os.path.join(REPO, "assets"), help="where to write the PNGs")
    out = parser.parse_args().out
    missing = [name for name in (DIGITS, SHAPES) if not fo.dataset_exists(name)]
    if missing:
        raise SystemExit(f"No dataset {', '.join(missing)}: run `make demo` first.")
    with browser.app_page(fo.load_dataset(DIGITS), WIDTH, HEIGHT, spaces=app.layout()) as page:
        _panels(page, out)
        browser.open_operator(page, "Pre-label with a model")
        page.get_by_text("Model source").wait_for()
        _shot(page, out, "app-prelabel-form.png")
    with browser.app_page(fo.load_dataset(SHAPES), WIDTH, HEIGHT, spaces=app.layout()) as page:
        browser.dismiss_popups(page)
        browser.open_operator(page, "Send to CVAT")
        page.get_by_text("Field to correct (ground truth)").first.wait_for()
        _shot(page, out, "app-send-to-cvat-form.png")


def _panels(page, out):
    """The Model regression panel, then the LabelLoop panel, beside the grid."""
    browser.dismiss_popups(page)
    page.get_by_text("Models (FiftyOne's evaluation numbers)").wait_for()
    page.wait_for_selector('[data-cy="looker"] canvas[canvas-loaded="true"]')
    _shot(page, out, "app-regression-panel.png")
    page.get_by_text("LabelLoop", exact=True).first.click()
    page.get_by_text("LabelLoop runs on the dataset").first.wait_for()
    _shot(page, out, "app-labelloop.png")


def _shot(page, out, name):
    path = os.path.join(out, name)
    page.screenshot(path=path)
    print(f"  {path}")


if __name__ == "__main__":
    main()
