"""What the App forms offer: resolve_input with a real ExecutionContext, as the App calls it."""

import importlib
from types import ModuleType

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionContext

from core.annotation.connection import CVATSettings
from core.annotation.send import SendRequest
from core.prelabel import accept
from core.prelabel.run import PrelabelRequest
from core.quality import active_learning, embedding_map, embeddings
from core.quality import uniqueness as U
from core.quality.mistakenness import MistakennessRequest
from core.store import fields
from harness import operators as ops


def form(name, dataset, params):
    ctx = ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    return foo.get_operator(ops.uri(name)).resolve_input(ctx).type.properties


def test_zoo_source_offers_the_zoo_models(digits):
    properties = form("prelabel", digits, {"model_source": "zoo"})
    choices = [c.value for c in properties["model"].view.choices]
    assert "classification-transformer-torch" in choices and len(choices) > 50
    assert "zoo_name_or_path" in properties


def test_hf_source_takes_a_hub_id_or_directory_and_zero_shot_asks_for_prompts(digits):
    properties = form("prelabel", digits, {"model_source": "hf", "task": "zero_shot_detection"})
    assert "prompts" in properties and "zoo_name_or_path" not in properties
    assert [c.value for c in properties["task"].view.choices][0] == "auto"


def test_problems_show_as_blocking_warnings(digits, tiny_models):
    properties = form("prelabel", digits, {"model": tiny_models["classification"], "output_field": "ground_truth"})
    warnings = [p for p in properties.values() if p.invalid]
    assert len(warnings) == 1 and "human labels" in warnings[0].error_message
    assert warnings[0].view.__class__.__name__ == "Warning"


def test_a_valid_request_shows_no_warning(digits, tiny_models):
    properties = form("prelabel", digits, {"model": tiny_models["classification"]})
    assert not any(p.invalid for p in properties.values())
    assert {"threshold", "top_k", "class_map", "store_logits", "num_shards", "overwrite"} <= set(properties)


def test_send_form_says_up_front_that_cvat_is_not_configured(digits, monkeypatch):
    for key in ("URL", "USERNAME", "PASSWORD"):
        monkeypatch.delenv(f"FIFTYONE_CVAT_{key}", raising=False)
    properties = form("send_to_cvat", digits, {"gt_field": "ground_truth"})
    (warning,) = [p for p in properties.values() if p.invalid]
    assert warning.error_message.startswith("CVAT is not configured: set FIFTYONE_CVAT_URL")
    assert list(properties)[0] == "cvat_not_configured"  # the form's first line
    properties = form("send_to_cvat", digits, {"gt_field": "ground_truth", "regressed_in": "nope"})
    warnings = [p.error_message for p in properties.values() if p.invalid]  # the SDK raises the first
    assert warnings == ["No model comparison 'nope' on this dataset (comparisons: none)."]
    assert properties["cvat_not_configured"].view.label.startswith("CVAT is not configured")  # said, not blocking


def test_accept_form_lists_label_fields(digits, tiny_models, prelabel_op):
    prelabel_op(digits, tiny_models["classification"])
    properties = form("accept_prelabels", digits, {})
    assert [c.value for c in properties["pred_field"].view.choices] == ["ground_truth", "predictions"]


def _homes(owner, *names):
    return {name: (owner, name) for name in names}


BATCH = _homes(PrelabelRequest, "batch_size", "device")
PRELABEL_INPUTS = (
    "output_field threshold top_k unknown_labels store_logits overwrite allow_human_labels polygons".split()
)
FORM_DEFAULTS = [  # (operator, params, {form input: (the core object that holds its default, attribute)})
    ("prelabel", {}, _homes(PrelabelRequest, *PRELABEL_INPUTS) | BATCH),
    ("prelabel", {"polygons": True}, _homes(PrelabelRequest, "tolerance")),
    (
        "compute_embeddings",
        {},
        {"output_field": (embeddings, "DEFAULT_FIELD"), "overwrite": (PrelabelRequest, "overwrite")} | BATCH,
    ),
    ("accept_prelabels", {}, {"gt_field": (fields, "GROUND_TRUTH"), "threshold": (accept, "DEFAULT_THRESHOLD")}),
    (
        "select_for_annotation",
        {},
        {
            "count": (active_learning, "DEFAULT_COUNT"),
            "strategy": (active_learning, "DEFAULT_STRATEGY"),
            "diversity": (active_learning, "DEFAULT_DIVERSITY"),
            "tag": (active_learning, "DEFAULT_TAG"),
            "embeddings_field": (embeddings, "DEFAULT_FIELD"),
        },
    ),
    (
        "compute_embedding_map",
        {},
        {
            "embeddings_field": (embeddings, "DEFAULT_FIELD"),
            "method": (embedding_map, "DEFAULT_METHOD"),
            "brain_key": (embedding_map, "DEFAULT_BRAIN_KEY"),
        },
    ),
    (
        "compute_mistakenness",
        {},
        _homes(MistakennessRequest, "gt_field", "iou", "confidence_thresh", "classwise", "prefix"),
    ),
    (
        "compute_uniqueness",
        {},
        {
            "embeddings_field": (embeddings, "DEFAULT_FIELD"),
            "k": (U, "DEFAULT_K"),
            "output_field": (U, "DEFAULT_OUTPUT_FIELD"),
        },
    ),
    ("compute_uniqueness", {"embeddings_source": "model"}, {"embeddings_field": (embeddings, "DEFAULT_FIELD")} | BATCH),
    (
        "find_near_duplicates",
        {},
        {"embeddings_field": (embeddings, "DEFAULT_FIELD"), "threshold": (U, "DEFAULT_THRESHOLD")},
    ),
    (
        "send_to_cvat",
        {},
        {"gt_field": (fields, "GROUND_TRUTH"), "verify_tls": (CVATSettings, "verify_tls")}
        | _homes(SendRequest, "threshold", "iou", "schema_from", "image_quality"),
    ),
    ("load_from_cvat", {}, {"verify_tls": (CVATSettings, "verify_tls")}),
]


def _in_plugin(owner):
    """The plugin's copy of the core module or class ``owner``: FiftyOne imports the plugin as a package of its own."""
    root = type(foo.get_operator(ops.uri("prelabel"))).__module__.rsplit(".operators.", 1)[0]
    if isinstance(owner, ModuleType):
        return importlib.import_module(f"{root}.{owner.__name__}")
    return getattr(importlib.import_module(f"{root}.{owner.__module__}"), owner.__qualname__)


def _changed(value):
    if isinstance(value, bool):
        return not value
    return value + 1 if isinstance(value, int) else value + 0.125 if isinstance(value, float) else f"{value}_2"


@pytest.mark.parametrize(
    ("name", "params", "homes"),
    FORM_DEFAULTS,
    ids=[name + "-model" * bool(params) for name, params, _ in FORM_DEFAULTS],
)
def test_forms_show_the_core_defaults(dataset, monkeypatch, name, params, homes):
    """Each default a form shows is read from its one home in core: changed there, it changes in the form."""
    homes = {key: (_in_plugin(owner), attribute) for key, (owner, attribute) in homes.items()}
    for owner, attribute in set(homes.values()):
        monkeypatch.setattr(owner, attribute, _changed(getattr(owner, attribute)))
    for label_field in {_in_plugin(fields).GROUND_TRUTH, _in_plugin(MistakennessRequest).gt_field}:
        dataset.add_sample_field(label_field, fo.EmbeddedDocumentField, embedded_doc_type=fo.Classification)
    for vector_field in ("another", _in_plugin(embeddings).DEFAULT_FIELD):  # "another" first: not to be picked
        dataset.add_sample_field(vector_field, fo.VectorField)
    properties = form(name, dataset, params)
    assert {key: properties[key].default for key in homes} == {key: getattr(*home) for key, home in homes.items()}


def test_typing_a_hub_id_in_the_form_never_looks_it_up_online(digits, monkeypatch):
    """Issue 12 item 12: each keystroke re-checks the form; offline, one hub look-up took ~25 s of retries."""
    import transformers

    calls = []
    real = transformers.AutoConfig.from_pretrained

    def spy(name, *args, **kwargs):
        calls.append(kwargs.get("local_files_only"))
        return real(name, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoConfig, "from_pretrained", spy)
    for typed in ("g", "google/vi", "google/vit-base-patch16-224"):
        properties = form("prelabel", digits, {"model": typed})
        assert not [p for p in properties.values() if getattr(p, "invalid", False)], typed  # not blocked: the run
        # fetches the model and checks it then
    assert calls == [True, True, True]


def test_a_relative_model_path_says_relative_to_what(digits):
    import os

    properties = form("prelabel", digits, {"model": ".demo/models/no-such-candidate"})
    [message] = [p.view.label for p in properties.values() if getattr(p, "invalid", False)]
    assert f"a relative path is read from {os.getcwd()}" in message and "give an absolute path" in message
