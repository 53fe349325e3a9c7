"""The LabelLoop overview panel, driven through the operator machinery as the App drives it."""

from core.store import runs
from harness import operators as ops

NAME = "labelloop_overview"


def test_on_load_fills_the_panel_state_from_the_current_view(digits):
    key = runs.start_run(digits, "prelabel", fields=["ground_truth"])
    runs.finish_run(digits, key)
    requests = ops.run_panel(NAME, digits.limit(9), "on_load")
    state = _merged_state(requests)
    assert state["dataset"] == digits.name and state["num_samples"] == 9 and state["num_runs"] == 1
    assert state["run_rows"][0]["key"] == key
    assert state["label_field_rows"] == [
        {"name": "ground_truth", "type": "Classification", "num_labels": 9, "written_by": key}
    ]


def test_render_shows_the_header_tables_and_refresh_button(shapes):
    requests = ops.run_panel(NAME, shapes, "on_load")
    [output] = requests["show_panel_output"]
    properties = output["output"]["type"]["properties"]
    assert set(properties) == {"header", "label_field_rows", "run_rows", "refresh"}
    assert f"LabelLoop on `{shapes.name}`" in properties["header"]["default"]
    assert properties["label_field_rows"]["view"]["name"] == "TableView"
    assert [c["key"] for c in properties["run_rows"]["view"]["columns"]][:3] == ["key", "kind", "status"]


def test_view_change_refreshes_the_counts(shapes):
    state = _merged_state(ops.run_panel(NAME, shapes.limit(2), "on_change_view"))
    assert state["num_samples"] == 2


def _merged_state(requests):
    state = {}
    for params in requests.get("patch_panel_state", []) + requests.get("set_panel_state", []):
        state.update(params.get("state", {}))
    return state
