"""The keywords of the SDK calls: one the operator does not take is refused before anything runs, naming the
closest it takes; every input a form can show is a keyword its SDK call takes."""

import importlib

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types
from fiftyone.operators.delegated import DelegatedOperationService
from fiftyone.operators.executor import ExecutionContext

from core.annotation import records
from core.store import runs
from harness import operators as ops

MISSPELT = [  # (operator, positional arguments, keywords, the message)
    ("prelabel", ("a/model",), {"treshold": 0.99}, "did you mean 'threshold'?"),
    ("compute_mistakenness", ("predictions",), {"delegat": True}, "did you mean 'delegate'?"),
    ("compute_uniqueness", ("emb",), {"output_feild": "u"}, "did you mean 'output_field'?"),
    ("send_to_cvat", (), {"min_scor": 0.5}, "did you mean 'min_score'?"),
    ("load_from_cvat", (), {"organisation": "acme"}, "did you mean 'organization'?"),
]
BRANCHES = {  # params that open the branches of a form that ``{}`` does not show
    **dict.fromkeys(("prelabel", "compute_embeddings"), {"model_source": "zoo", "task": "zero_shot_classification"}),
    **dict.fromkeys(
        ("compute_uniqueness", "find_near_duplicates"),
        {"embeddings_source": "model", "model_source": "zoo", "task": "zero_shot_classification"},
    ),
    "manage_runs": {"action": "delete"},
}
OPENED = {  # inputs that only those branches (or a review on the dataset) show: they must have been seen
    **dict.fromkeys(("prelabel", "compute_embeddings"), {"zoo_name_or_path", "prompts"}),
    **dict.fromkeys(("compute_uniqueness", "find_near_duplicates"), {"zoo_name_or_path", "prompts", "batch_size"}),
    "manage_runs": {"run_key"},
    **dict.fromkeys(("load_from_cvat", "finish_cvat_review", "cvat_status"), {"review"}),
}


def operator(name):
    return foo.get_operator(ops.uri(name))


def suite_operators():
    """The plugin's operators (not its panels)."""
    return [op for op in foo.list_operators(type="operator") if op.uri.startswith(f"{ops.PLUGIN}/")]


def sdk_keywords(op):
    """``common.sdk_keywords`` of the plugin's own copy of ``operators.common``."""
    package = type(op).__module__.rsplit(".", 1)[0]
    return importlib.import_module(f"{package}.common").sdk_keywords(op)


def form_inputs(op, dataset, params):
    """The names of the inputs (not the notices and warnings) of ``op``'s form for ``params``."""
    ctx = ExecutionContext(request_params={"dataset_name": dataset.name, "params": params})
    properties = op.resolve_input(ctx).type.properties
    return {name for name, prop in properties.items() if not isinstance(prop.type, types.Void)}


@pytest.fixture
def reviewed(dataset):
    """``dataset`` with ground truth and a CVAT review whose corrections are loaded (so every CVAT form shows its
    review picker)."""
    dataset.add_samples([fo.Sample(filepath=f"/img/{i}.png", ground_truth=fo.Classification(label="a")) for i in "ab"])
    key = runs.start_run(dataset, records.SEND_KIND, params={"gt_field": "ground_truth", "review_field": "review"})
    backup = records.backup_field_name("ground_truth", key)
    dataset.add_sample_field(backup, fo.EmbeddedDocumentField, embedded_doc_type=fo.Classification)
    return dataset


@pytest.mark.parametrize(("name", "args", "keywords", "hint"), MISSPELT, ids=[case[0] for case in MISSPELT])
def test_a_misspelt_keyword_is_refused_naming_the_closest(dataset, name, args, keywords, hint):
    [keyword] = keywords
    with pytest.raises(TypeError) as refused:
        operator(name)(dataset, *args, **keywords)
    assert str(refused.value) == f"{name} got an unexpected keyword '{keyword}': {hint}"


@pytest.mark.parametrize(("name", "keyword"), [("compute_uniqueness", "threshold"), ("find_near_duplicates", "k")])
def test_a_keyword_of_the_sibling_operator_is_refused(dataset, name, keyword):
    with pytest.raises(TypeError, match=rf"^{name} got an unexpected keyword '{keyword}'"):
        operator(name)(dataset, "emb", **{keyword: 3})


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_number_that_is_not_finite_is_refused(dataset, value):
    from fiftyone.operators.executor import ExecutionError

    with pytest.raises(ExecutionError, match="iou_tolerance: Invalid value type .*give a finite number"):
        operator("compare_models")(dataset, "baseline", "candidate", iou_tolerance=value)


def test_the_issue_example_reads_as_python_would_say_it(dataset):
    with pytest.raises(TypeError, match=r"^prelabel got an unexpected keyword 'treshold': did you mean 'threshold'\?$"):
        operator("prelabel")(dataset, "a/model", treshold=0.99)


def test_without_a_close_match_the_message_lists_the_keywords(dataset):
    with pytest.raises(TypeError) as refused:
        operator("select_for_annotation")(dataset, "predictions", xyz=1)
    message = "select_for_annotation got an unexpected keyword 'xyz': it takes count, delegate, diversity, "
    assert str(refused.value) == message + "embeddings_field, pred_field, strategy, tag"


def test_each_unknown_keyword_is_named(dataset):
    with pytest.raises(TypeError) as refused:
        operator("compute_mistakenness")(dataset, "predictions", prefx="v2_", iuo=0.5)
    assert str(refused.value).split("; ") == [
        "compute_mistakenness got an unexpected keyword 'prefx': did you mean 'prefix'?",
        "compute_mistakenness got an unexpected keyword 'iuo': did you mean 'iou'?",
    ]


def test_nothing_runs_or_is_queued_before_the_refusal(dataset):
    """A model that does not exist would fail validation: the keyword is refused first, and nothing is queued."""
    dataset.add_sample(fo.Sample(filepath="/img/a.png"))
    for delegate in (False, True):
        with pytest.raises(TypeError, match="treshold"):
            operator("prelabel")(dataset, "no/such-model", delegate=delegate, treshold=0.99)
    dataset.reload()
    assert runs.list_suite_runs(dataset) == [] and "predictions" not in dataset.get_field_schema()
    assert DelegatedOperationService().get_queued_operations(dataset_name=dataset.name) == []


def test_every_form_input_is_an_sdk_keyword(reviewed):
    refused, unopened = {}, {}
    for op in suite_operators():
        shown = form_inputs(op, reviewed, {}) | form_inputs(op, reviewed, BRANCHES.get(op.name, {}))
        refused[op.name] = shown - sdk_keywords(op)
        unopened[op.name] = OPENED.get(op.name, set()) - shown
    assert len(refused) == 15
    assert not any(refused.values()), refused
    assert not any(unopened.values()), unopened
