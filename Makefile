# Two commands for a fresh machine: `make demo` and `make test`. Both create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MLSERVER_VENV := .venv-mlserver
MLSERVER_STAMP := $(MLSERVER_VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export FIFTYONE_PLUGINS_DIR := $(CURDIR)
export FIFTYONE_DATABASE_VALIDATION := false
export FIFTYONE_DO_NOT_TRACK := true

.PHONY: demo test app screenshots install mlserver chromium clean

demo: $(STAMP)
	$(PY) -m demo

test: $(STAMP) $(MLSERVER_STAMP) chromium
	$(PY) -m pytest

app: $(STAMP)
	$(PY) -m demo.app $(ARGS)

# The README's screenshots (assets/*.png): the demo datasets in the `make app` layout (run `make demo` first).
screenshots: $(STAMP) chromium
	$(PY) -m demo.screenshots

install: $(STAMP)

# MLServer, the endpoint tests' inference server, in a venv of its own (its pins conflict with FiftyOne's).
mlserver: $(MLSERVER_STAMP)

$(MLSERVER_STAMP): requirements-mlserver.txt
	test -x $(MLSERVER_VENV)/bin/python || $(PYTHON) -m venv $(MLSERVER_VENV)
	$(MLSERVER_VENV)/bin/python -m pip install -q -r requirements-mlserver.txt
	touch $@

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# Debian's chromium drives the browser test (never `playwright install`: no browser downloads here).
chromium:
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium; }

clean:
	rm -rf $(VENV) $(MLSERVER_VENV) .demo .pytest_cache
