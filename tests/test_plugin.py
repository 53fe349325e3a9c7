"""The checkout is a FiftyOne plugin: discovered, loaded without errors, its manifest matching its code."""

import importlib
import inspect
import os
import re
import subprocess
import sys

import pytest
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


def operators():
    """The plugin's registered operators (its panels left out)."""
    listed = foo.list_operators(enabled=True, builtin=False, type=None)
    return [op for op in listed if op.plugin_name == PLUGIN and not op.config.unlisted]


def plugin_module(name):
    """The plugin's copy of module ``name``: FiftyOne imports the plugin as a package of its own."""
    root = type(operators()[0]).__module__.rsplit(".operators.", 1)[0]
    return importlib.import_module(f"{root}.{name}")


def test_every_operator_is_a_labelloop_operator_configured_as_the_manifest_names_it():
    base = plugin_module("operators.common").LabelLoopOperator
    found = operators()
    assert sorted(op.name for op in found) == sorted(manifest()["operators"])
    for op in found:
        cls = type(op)
        assert isinstance(op, base), cls
        config = op.config
        assert (config.name, config.label, config.description) == (
            cls.name,
            f"LabelLoop: {cls.label}",
            cls.description,
        )
        assert config.dynamic and config.allow_immediate_execution and config.allow_delegated_execution
        assert not config.default_choice_to_delegated


def _sections(doc):
    """{section title: its lines} of a Google-style docstring (FiftyOne's convention); the summary under ""."""
    sections, current = {"": []}, ""
    for line in doc.splitlines():
        if re.fullmatch(r"(Args|Returns|Raises):", line):
            current = line[:-1]
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


@pytest.mark.parametrize("name", manifest()["operators"])
def test_sdk_call_is_typed_and_documents_every_parameter(name):
    call = type(foo.get_operator(f"{PLUGIN}/{name}")).__call__
    doc = inspect.getdoc(call)
    assert doc, name
    sections = _sections(doc)
    assert sections[""][0].strip(), f"{name}: no summary line"
    assert sections.get("Returns") and any(line.strip() for line in sections["Returns"]), f"{name}: no Returns"
    documented = [m[1] for m in (re.match(r"    (\**\w+):", line) for line in sections.get("Args", [])) if m]
    signature = inspect.signature(call)
    parameters = [p for p in signature.parameters.values() if p.name != "self"]
    stars = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
    assert documented == [stars.get(p.kind, "") + p.name for p in parameters], name
    assert signature.return_annotation is not inspect.Signature.empty, name
    for p in parameters:
        assert p.kind in stars or p.annotation is not inspect.Parameter.empty, f"{name}: {p.name} has no type hint"
    if "delegate" in signature.parameters:
        assert signature.parameters["delegate"].default is False


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
    for package in ("fiftyone", "fiftyone-brain", "torch", "transformers", "scikit-learn", "umap-learn"):
        assert any(line.startswith(f"{package}==") for line in lines), package
    with open(os.path.join(REPO, "requirements-dev.txt")) as f:
        assert "cvat-sdk==2.80.0\n" in f.read()  # the contract test's; the plugin reads CVAT through FiftyOne
