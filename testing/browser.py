"""The real App on 127.0.0.1 with the plugin loaded, driven by Debian's chromium through playwright."""

import contextlib
import shutil
import socket

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_available():
    return shutil.which(CHROMIUM) is not None


@contextlib.contextmanager
def app_page(dataset, width=1400, height=900, spaces=None):
    """Yields a playwright page showing ``dataset`` in a freshly launched App server (in ``spaces``, a
    ``fo.Space`` layout, when given)."""
    from playwright.sync_api import sync_playwright

    import fiftyone as fo

    port = _free_port()
    session = fo.launch_app(dataset, spaces=spaces, port=port, address="127.0.0.1", remote=True, auto=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": height})
                page.set_default_timeout(60_000)
                page.goto(f"http://127.0.0.1:{port}/datasets/{dataset.name}")
                page.wait_for_selector('[data-cy="looker"]')
                yield page
            finally:
                browser.close()
    finally:
        session.close()


def dismiss_popups(page):
    """Closes the App's promotional popup when it shows."""
    dismiss = page.get_by_text("Dismiss", exact=True)
    if dismiss.count():
        dismiss.first.click()


def open_operator(page, label):
    """Opens operator "LabelLoop: ``label``" from the operator browser (the ` key), as a person does."""
    page.wait_for_selector('[data-cy="looker"] canvas[canvas-loaded="true"]')  # the App takes keys once loaded
    page.keyboard.press("Backquote")
    search = page.get_by_placeholder("Search operations by name...")
    search.wait_for()
    search.type(label)
    page.get_by_text(f"LabelLoop: {label}").first.click()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def close_progress(page):
    """Closes the App's progress dialog of a finished operation, which covers its result, as a person does (its
    Done button; nothing when the operation reported no progress)."""
    done = page.get_by_role("button", name="Done", exact=True)
    if done.count():
        done.first.click()
        done.first.wait_for(state="hidden")


def expect_disabled(locator) -> None:
    """Waits (playwright's retrying assertion, up to 5 s) until ``locator`` is disabled: a form disables Execute in
    the render after the one that shows its warning."""
    from playwright.sync_api import expect

    expect(locator).to_be_disabled()
