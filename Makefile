# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export FIFTYONE_PLUGINS_DIR := $(CURDIR)
export FIFTYONE_DATABASE_VALIDATION := false
export FIFTYONE_DO_NOT_TRACK := true

.PHONY: demo test app screenshots install chromium clean

demo: $(STAMP)
	$(PY) -m demo

test: $(STAMP) chromium
	$(PY) -m pytest

app: $(STAMP)
	$(PY) -m demo.app $(ARGS)

# The README's screenshots (assets/*.png), taken by the browser tests; `make test` writes them to a temp dir.
screenshots: $(STAMP) chromium
	LABELLOOP_SCREENSHOTS_DIR=$(CURDIR)/assets $(PY) -m pytest -m browser tests/test_browser.py

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Debian's chromium drives the browser test (never `playwright install`: no browser downloads here).
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

clean:
	rm -rf $(VENV) .demo .pytest_cache
