"""compare_models and the Model regression panel, driven through the operator machinery as the App does."""

import base64
import json

import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.annotation import selection as cvat_selection
from harness import operators as ops
from testing import synthetic

PANEL = "labelloop_regression"


@pytest.fixture
def compared():
    dataset = synthetic.build("panel-synthetic", 200, seed=3)
    foo.get_operator(ops.uri("compare_models"))(dataset, "baseline", "candidate")
    yield dataset
    dataset.delete()


def state_of(requests):
    state = {}
    for params in requests.get("patch_panel_state", []) + requests.get("set_panel_state", []):
        state.update(params.get("state", {}))
    return state


def rendered(requests):
    """The properties of the panel output that ``requests`` show (the panel renders everything it shows)."""
    [output] = requests["show_panel_output"]
    return output["output"]["type"]["properties"]


def shown_rows(requests):
    return rendered(requests)["rows"]["default"]


@pytest.mark.parametrize("method", ["on_load", "on_change_view", "on_change_dataset"])
def test_what_the_app_does_writes_no_panel_state(compared, method):
    """Panel state lives in the App's workspace: writing it reloads the page and drops the sidebar filters."""
    requests = ops.run_panel(PANEL, compared.limit(20), method)
    assert not {"set_panel_state", "patch_panel_state", "set_panel_data", "patch_panel_data"} & set(requests)
    assert "20 samples" in rendered(requests)["headline"]["default"]


def test_panel_without_a_comparison_says_what_to_do(shapes):
    requests = ops.run_panel(PANEL, shapes, "on_load")
    [output] = requests["show_panel_output"]
    assert "No model comparison yet" in output["output"]["type"]["properties"]["empty"]["default"]


def test_on_load_shows_counts_bars_and_the_worst_samples(compared):
    requests = ops.run_panel(PANEL, compared, "on_load")
    properties = rendered(requests)
    scores = [row["score"] for row in shown_rows(requests)]
    assert len(scores) == 15 and scores == sorted(scores, reverse=True) and scores[0] > 0
    traces = properties["per_class"]["view"]["data"]
    assert [t["name"] for t in traces] == ["fixed", "broken", "class_flip", "new_fp", "removed_fp"]
    fixed = compared.sum("compare_fixed")
    assert traces[0]["x"] == sorted(synthetic.CLASSES) and sum(traces[0]["y"]) == fixed
    assert "200 samples" in properties["headline"]["default"] and f"Fixed {fixed}" in properties["headline"]["default"]


def test_the_current_view_is_the_scope(compared):
    headline = rendered(ops.run_panel(PANEL, compared.limit(50), "on_change_view"))["headline"]["default"]
    assert "50 samples" in headline
    assert f"Fixed {compared.sum('compare_fixed')}" not in headline


def test_clicking_a_bar_filters_the_grid_to_those_objects(compared):
    requests = ops.run_panel(PANEL, compared, "on_click_bar", event_args={"id": "car", "x": "car", "trace": "broken"})
    [set_view] = requests["set_view"]
    stages = json.dumps(set_view["view"])
    assert "FilterLabels" in stages and "broken" in stages and "car" in stages


def test_opening_a_row_shows_both_prediction_fields(compared):
    rows = shown_rows(ops.run_panel(PANEL, compared, "on_load"))
    requests = ops.run_panel(PANEL, compared, "on_open_row", event_args={"row": 1})
    assert requests["open_sample"][0]["id"] == rows[1]["id"]
    assert requests["set_active_fields"][0]["fields"] == ["ground_truth", "baseline", "candidate"]
    [selected] = requests["set_selected_labels"]
    sample = compared[rows[1]["id"]]
    changed = {
        (field, d.id)
        for field in ("ground_truth", "baseline", "candidate")
        for d in sample[field].detections
        if d["compare"] in ("fixed", "broken", "class_flip", "new_fp", "removed_fp")
    }
    assert changed and {(s["field"], s["label_id"]) for s in selected["labels"]} == changed  # highlighted


def test_paging_tagging_and_export(compared, tmp_path, monkeypatch):
    first = shown_rows(ops.run_panel(PANEL, compared, "on_load"))
    paged = ops.run_panel(PANEL, compared, "on_page", event_args={"step": 1})
    assert state_of(paged)["page"] == 1 and shown_rows(paged)[0]["id"] not in {r["id"] for r in first}
    requests = ops.run_panel(PANEL, compared, "on_send_to_cvat")
    assert not len(compared.match_tags("regression"))  # nothing written before the person executes the send
    (prompt,) = requests["prompt_user_for_operation"]
    assert prompt["operator_uri"].endswith("send_to_cvat") and prompt["params"]["regressed_in"] == "compare"
    regressed = cvat_selection.apply(compared, cvat_selection.Selection(regressed_in="compare"))
    assert set(regressed.values("id")) == set(compared.match(fo.ViewField("compare_score") > 0).values("id"))
    downloads = ops.run_panel(PANEL, compared, "on_export")["browser_download"]
    assert [d["filename"] for d in downloads] == [f"{compared.name}-compare.md", f"{compared.name}-compare.json"]
    text = base64.b64decode(downloads[0]["url"].split("base64,", 1)[1]).decode()
    assert f"Scope: {len(compared)} of {len(compared)} samples of dataset '{compared.name}'" in text


def test_compare_models_operator_defaults_and_bad_input(digits, tiny_models, prelabel_op, tmp_path):
    from testing import tiny_models as tm

    prelabel_op(digits, tiny_models["classification"], output_field="old")
    prelabel_op(digits, tm.image_classifier(tmp_path / "new", [str(i) for i in range(10)]), output_field="new")
    from fiftyone.operators.executor import ExecutionContext

    ctx = ExecutionContext(request_params={"dataset_name": digits.name, "params": {}})
    properties = foo.get_operator(ops.uri("compare_models")).resolve_input(ctx).type.properties
    assert properties["baseline_field"].default == "old" and properties["candidate_field"].default == "new"
    message = ops.validation_error("compare_models", digits, {"baseline_field": "old", "candidate_field": "old"})
    assert "three different fields" in message
    result = ops.run("compare_models", digits, {"baseline_field": "old", "candidate_field": "new"}).result
    assert result["kind"] == "classification" and result["samples"] == len(digits)


def test_a_comparison_started_from_the_panel(shapes):
    from testing import data

    data.add_simulated_predictions(shapes, seed=5)
    fields = {"baseline_field": "baseline", "candidate_field": "candidate"}
    picked = {"fields": fields, "numbers": {"key": "from_panel", "iou": 0.6}}
    [prompt] = ops.run_panel(PANEL, shapes, "on_compare", state=picked)["prompt_user_for_operation"]
    # the panel only starts compare_models (delegable, with progress and the user); the App runs it, then on_success
    assert prompt["operator_uri"] == ops.uri("compare_models") and prompt["skip_prompt"]
    assert prompt["params"]["key"] == "from_panel" and prompt["params"]["iou"] == 0.6
    assert not shapes.has_field("from_panel_score")
    result = ops.run("compare_models", shapes, prompt["params"]).result
    on_success = prompt["on_success"].rsplit("#", 1)[-1]
    requests = ops.run_panel(PANEL, shapes, on_success, state=picked, event_args={"result": result})
    properties = rendered(requests)
    assert f"{len(shapes)} samples" in properties["headline"]["default"] and shapes.has_field("from_panel_score")
    numbers = properties["numbers"]["type"]["properties"]
    assert numbers["iou"]["default"] == 0.6  # the next comparison starts from the shown one's settings...
    assert numbers["key"]["default"] == "compare"  # ...under a key no comparison uses, so it replaces nothing
    form = {**properties["fields"]["type"]["properties"], **properties["numbers"]["type"]["properties"]}
    assert {"gt_field", "baseline_field", "candidate_field", "iou", "iou_tolerance", "compare"} <= set(form)
    assert properties["fields"]["type"]["properties"]["baseline_field"]["default"] == "baseline"


def test_a_newer_comparison_shows_when_the_latest_was_shown(compared):
    def picker(requests):
        """The comparison picker (its property is named after the shown run)."""
        return next(view for name, view in rendered(requests).items() if name.startswith("picked_"))

    def shown_key(requests):
        shown = picker(requests)
        [label] = [c["label"] for c in shown["view"]["choices"] if c["value"] == shown["default"]]
        return label.split(":")[0]

    compare = foo.get_operator(ops.uri("compare_models"))
    compare(compared, "baseline", "candidate", key="newer")
    newer = ops.run_panel(PANEL, compared, "on_change_view")
    assert shown_key(newer) == "newer"
    choices = picker(newer)["view"]["choices"]
    oldest = {"value": choices[-1]["value"]}  # the picker lists the comparisons newest first
    older = state_of(ops.run_panel(PANEL, compared, "on_select_comparison", event_args=oldest))
    compare(compared, "baseline", "candidate", key="newest")
    assert shown_key(ops.run_panel(PANEL, compared, "on_change_view", state=older)) == "compare"


def test_tagging_is_recorded_as_a_run_with_its_user(compared):
    from core.regression import report
    from core.store import lease, runs

    result = report.tag_regressed(compared, "compare", "worse", user="alice")
    [record] = [r for r in runs.list_suite_runs(compared) if r["kind"] == "tag_regressed"]
    assert record["key"] == result["run_key"] and record["status"] == "completed" and record["user"] == "alice"
    assert record["fields"] == ["tags"] and record["params"] == {"comparison_key": "compare", "tag": "worse"}
    assert record["counts"] == {"tagged": len(compared.match_tags("worse"))} == {"tagged": result["tagged"]}
    assert result["tagged"] == len(compared.match(fo.ViewField("compare_score") > 0)) > 0
    assert not lease.live_leases(compared, ["tags"])
    notified = ops.run_panel(PANEL, compared, "on_tag")["notify"]
    from_panel = runs.list_suite_runs(compared)[0]
    assert from_panel["kind"] == "tag_regressed" and from_panel["params"]["tag"] == "regression"
    assert f"Tagged {from_panel['counts']['tagged']} " in notified[0]["message"]


def test_a_bad_comparison_from_the_panel_is_reported(shapes):
    from core.store import runs
    from testing import data

    data.add_simulated_predictions(shapes, seed=5)
    for field in ("baseline", "candidate"):  # the two latest pre-labelled fields: a valid default comparison
        runs.finish_run(shapes, runs.start_run(shapes, "prelabel", fields=[field]))
    defaults = ops.run_panel(PANEL, shapes, "on_compare")
    assert "prompt_user_for_operation" in defaults and "notify" not in defaults  # not refused
    picked = {"fields": {"baseline_field": "baseline", "candidate_field": "baseline"}}  # as the panel's form keeps it
    requests = ops.run_panel(PANEL, shapes, "on_compare", state=picked)
    [notified] = requests["notify"]
    assert notified["message"] == "Ground truth, baseline and candidate must be three different fields."
    assert "prompt_user_for_operation" not in requests and not shapes.has_field("compare_score")


def test_default_models_are_two_different_models(shapes):
    from core.regression import defaults
    from core.store import runs

    for field, model in (("old", "model-a"), ("copy", "model-b"), ("new", "model-b")):  # newest last
        runs.finish_run(shapes, runs.start_run(shapes, "prelabel", model=model, fields=[field]))
    assert defaults.default_models(shapes) == ("old", "new")  # not "copy": the same model as the candidate
    assert defaults.free_key(shapes) == "compare" and defaults.replaced(shapes, "compare") is None


def test_a_classification_chart_shows_wrong_to_wrong_and_no_false_positives(digits):
    truth = digits.values("ground_truth.label")
    wrong = [str((int(t) + 1) % 10) for t in truth]
    for field, labels in (("baseline", wrong), ("candidate", [str((int(t) + 2) % 10) for t in truth])):
        digits.set_values(field, [fo.Classification(label=label) for label in labels])
    foo.get_operator(ops.uri("compare_models"))(digits, "baseline", "candidate")
    properties = rendered(ops.run_panel(PANEL, digits, "on_load"))
    assert [t["name"] for t in properties["per_class"]["view"]["data"]] == ["fixed", "broken", "wrong_to_wrong"]
    assert f"{len(digits)} wrong before and after (not broken)" in properties["headline"]["default"]
    assert properties["rows"]["view"]["label"] == "Worst-regressed samples (page 1) of 1 page"
