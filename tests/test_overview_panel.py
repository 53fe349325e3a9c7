"""The LabelLoop overview panel, driven through the operator machinery as the App drives it."""

from core.store import runs
from harness import operators as ops

NAME = "labelloop_overview"


def test_on_load_renders_the_current_view_and_writes_no_state(digits):
    key = runs.start_run(digits, "prelabel", fields=["ground_truth"])
    runs.finish_run(digits, key)
    requests = ops.run_panel(NAME, digits.limit(9), "on_load")
    assert not {"set_panel_state", "patch_panel_state"} & set(requests)  # state would reload the App's page
    properties = _rendered(requests)
    assert f"`{digits.name}`**: 9 samples in the current view, 1 LabelLoop runs" in properties["header"]["default"]
    assert properties["run_rows"]["default"][0]["key"] == key
    assert properties["label_field_rows"]["default"] == [
        {"name": "ground_truth", "type": "Classification", "num_labels": 9, "written_by": key}
    ]


def test_render_shows_the_header_tables_and_refresh_button(shapes):
    requests = ops.run_panel(NAME, shapes, "on_load")
    properties = _rendered(requests)
    assert set(properties) == {"header", "label_field_rows", "run_rows", "refresh"}
    assert f"LabelLoop on `{shapes.name}`" in properties["header"]["default"]
    assert properties["label_field_rows"]["view"]["name"] == "TableView"
    columns = [c["key"] for c in properties["run_rows"]["view"]["columns"]]
    assert columns == ["key", "status", "user", "started_at", "model"]  # what fits beside the grid


def test_view_change_refreshes_the_counts(shapes):
    header = _rendered(ops.run_panel(NAME, shapes.limit(2), "on_change_view"))["header"]["default"]
    assert "2 samples in the current view" in header


def _rendered(requests):
    [output] = requests["show_panel_output"]
    return output["output"]["type"]["properties"]


def test_a_comparison_run_is_one_short_line_in_the_runs_table(digits):
    from core.regression import compare as R

    digits.clone_sample_field("ground_truth", "baseline")
    digits.clone_sample_field("ground_truth", "candidate")
    R.compare(digits, R.CompareRequest("ground_truth", "baseline", "candidate"))
    [row] = _rendered(ops.run_panel(NAME, digits, "on_load"))["run_rows"]["default"]
    assert "{" not in row["counts"] and "per_class" not in row["counts"]  # was a raw dict, rows hundreds of px tall
    assert row["counts"].startswith(f"kind=classification, samples={len(digits)}, regressed_samples=0")


def test_a_model_cell_is_its_name_and_revision():
    import importlib

    import fiftyone.operators as foo

    package = type(foo.get_operator(ops.uri("manage_runs"))).__module__.rsplit(".", 1)[0]
    tables = importlib.import_module(f"{package}.tables")
    model = "baseline: hf:/work/.demo/models/baseline@bb92eaaffcfe12 | candidate: zoo:resnet18-imagenet-torch"
    assert tables.short_model(model) == "baseline: baseline@bb92eaaf | candidate: resnet18-imagenet-torch"
    assert tables.short_model("hf:google/vit-base-patch16-224") == "vit-base-patch16-224"
    assert tables.short_model("") == ""
