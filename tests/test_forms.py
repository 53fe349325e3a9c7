"""What the App forms offer: resolve_input with a real ExecutionContext, as the App calls it."""

import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionContext

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


def test_accept_form_lists_label_fields(digits, tiny_models, prelabel_op):
    prelabel_op(digits, tiny_models["classification"])
    properties = form("accept_prelabels", digits, {})
    assert [c.value for c in properties["pred_field"].view.choices] == ["ground_truth", "predictions"]
