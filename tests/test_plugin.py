"""The checkout is a FiftyOne plugin: discovered, loaded without errors, its manifest matching its code."""

import os
import subprocess
import sys

import yaml

import fiftyone.operators as foo
import fiftyone.plugins as fop

from harness.operators import PLUGIN

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CVAT_SECRETS = {"FIFTYONE_CVAT_URL", "FIFTYONE_CVAT_USERNAME", "FIFTYONE_CVAT_PASSWORD", "FIFTYONE_CVAT_EMAIL"}


def manifest():
    with open(os.path.join(REPO, "fiftyone.yml")) as f:
        return yaml.safe_load(f)


def registered(unlisted):
    operators = foo.list_operators(enabled=True, builtin=False, type=None)
    return {op.name for op in operators if op.plugin_name == PLUGIN and op.config.unlisted == unlisted}


def test_plugin_is_discovered_and_loads_without_errors():
    plugin = fop.get_plugin(PLUGIN)
    assert plugin.name == PLUGIN
    assert os.path.realpath(plugin.directory) == os.path.realpath(REPO)
    from fiftyone.plugins.context import build_plugin_contexts

    contexts = [c for c in build_plugin_contexts() if c.name == PLUGIN]
    assert len(contexts) == 1 and contexts[0].errors == []


def test_manifest_names_every_operator_and_panel_and_nothing_else():
    meta = manifest()
    assert meta["name"] == PLUGIN
    assert set(meta["operators"]) == registered(unlisted=False)
    assert set(meta["panels"]) == registered(unlisted=True)


def test_manifest_declares_the_cvat_secrets():
    assert CVAT_SECRETS <= set(manifest()["secrets"])


def test_cli_lists_the_plugin_its_operators_and_panels():
    def cli(*args):
        command = [os.path.join(os.path.dirname(sys.executable), "fiftyone"), *args]
        return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout

    assert PLUGIN in cli("plugins", "list")
    listed = cli("operators", "list")
    assert all(f"{PLUGIN}/{name}" in listed for name in manifest()["operators"])
    unlisted = cli("operators", "list", "-u")
    assert all(f"{PLUGIN}/{name}" in unlisted for name in manifest()["panels"])


def test_requirements_are_pinned():
    with open(os.path.join(REPO, "requirements.txt")) as f:
        lines = [line.split(";")[0].strip() for line in f if line.strip() and not line.startswith("#")]
    assert lines and all("==" in line for line in lines), lines
    for package in ("fiftyone", "fiftyone-brain", "torch", "transformers", "cvat-sdk", "scikit-learn", "umap-learn"):
        assert any(line.startswith(f"{package}==") for line in lines), package
