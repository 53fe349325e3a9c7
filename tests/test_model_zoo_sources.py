"""A team's own zoo: a remote model source registered with ``foz.register_zoo_model_source`` (an archive served on
127.0.0.1) shows in the zoo list of the form, labelled with its source, and pre-labels like a built-in zoo model."""

import functools
import json
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

import fiftyone.zoo as foz

from harness import model_servers
from harness import operators as ops
from testing import tiny_models as tm

NAME = "team-digits-classifier"
SOURCE_MODULE = """
import json, os, shutil

def download_model(model_name, model_path):
    os.makedirs(model_path, exist_ok=True)
    shutil.copy(os.path.join(os.path.dirname(__file__), "model.json"), model_path)

def load_model(model_name, model_path, **kwargs):
    import fiftyone.core.models as fom
    with open(os.path.join(model_path, "model.json")) as f:
        return fom.load_model(json.load(f))
"""


def _manifest(url):
    model = {
        "base_name": NAME,
        "base_filename": NAME,
        "description": "The team's digits classifier",
        "source": url,
        "author": "LabelLoop tests",
        "license": "MIT",
        "tags": ["classification", "torch"],
        "date_added": "2026-11-30 00:00:00",
    }
    return {"name": "labelloop-team-zoo", "url": url, "models": [model]}


@pytest.fixture(scope="module")
def team_zoo(tmp_path_factory):
    """The registered source's URL; the source is deleted afterwards (the zoo directory is the session's)."""
    root = tmp_path_factory.mktemp("team-zoo")
    classifier = tm.image_classifier(root / "classifier", model_servers.DIGITS)
    source = root / "source" / "team-zoo"
    source.mkdir(parents=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/team-zoo.zip"
    (source / "manifest.json").write_text(json.dumps(_manifest(url)))
    (source / "__init__.py").write_text(SOURCE_MODULE)
    (source / "model.json").write_text(json.dumps(tm.fiftyone_model_config(classifier, "classification")))
    shutil.make_archive(str(root / "team-zoo"), "zip", root / "source")
    try:
        foz.register_zoo_model_source(url)
        yield url
    finally:
        foz.delete_zoo_model_source(url)
        server.shutdown()
        server.server_close()


def test_the_form_lists_the_registered_source_first_with_its_url(digits, team_zoo):
    from test_forms import form

    choices = form("prelabel", digits, {"model_source": "zoo"})["model"].view.choices
    assert (choices[0].value, choices[0].label) == (NAME, f"{NAME} ({team_zoo})")
    assert "classification-transformer-torch" in [c.value for c in choices]


def test_a_registered_model_prelabels_from_the_form_and_the_sdk(digits, team_zoo, prelabel_op):
    params = {"model_source": "zoo", "model": NAME, "output_field": "team"}
    result = ops.run("prelabel", digits, params).result
    assert result["task"] == "classification" and digits.count("team") == len(digits)
    assert digits.first().team.model_version == f"zoo:{NAME}" and digits.first().team.label in model_servers.DIGITS
    again = prelabel_op(digits, NAME, model_source="zoo", output_field="team")
    assert again["skipped_existing"] == len(digits)
