"""The CVAT loop against the test double: send pre-populated, annotate, follow, load back, accept or revert."""

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.executor import ExecutionError

from harness import operators
from testing import data
from testing.cvat_annotator import Annotator

PLUGIN = "@labelloop/mlops"


def op(name):
    return foo.get_operator(f"{PLUGIN}/{name}")


def annotator(double, username="user2"):
    return Annotator(double.url, username, double.user(username).password)


def boxes(sample_field_value):
    return {d.id: (d.label, [round(v, 4) for v in d.bounding_box]) for d in sample_field_value.detections}


@pytest.fixture
def shapes_with_predictions(shapes):
    data.add_simulated_predictions(shapes)
    return shapes


def test_detections_round_trip_from_the_sdk(shapes_with_predictions, cvat_env):
    dataset = shapes_with_predictions
    view = dataset.limit(6)
    before = {s.id: boxes(s.ground_truth) for s in view}
    sent = op("send_to_cvat")(
        view, gt_field="ground_truth", pred_field="candidate", threshold=0.3, segment_size=3, job_assignees=["user2"]
    )
    task_id = sent["task_ids"][0]
    assert sent["samples"] == 6 and sent["jobs"] == 2
    assert len(cvat_env.annotations(task_id)["shapes"]) == sent["gt_labels"] + sent["prefilled"]
    assert sent["prefilled"] > 0

    person = annotator(cvat_env)
    gt_ids = {label_id for labels in before.values() for label_id in labels}
    shapes = person.annotations(task_id)["shapes"]
    human = [s for s in shapes if s["attributes"][0]["value"] in gt_ids]
    model = [s for s in shapes if s["attributes"][0]["value"] not in gt_ids]
    moved_id, deleted_id = human[0]["attributes"][0]["value"], human[1]["attributes"][0]["value"]
    person.move_shape(task_id, human[0], 4, 0)
    person.delete_shape(task_id, human[1])
    person.delete_shape(task_id, model[0])
    person.add_box(task_id, 0, "circle", [2, 2, 30, 30])

    status = op("cvat_status")(dataset, review=sent["run_key"])
    assert {job["assignee"] for job in status["jobs"]} == {"user2"} and status["jobs_total"] == 2

    loaded = op("load_from_cvat")(dataset, review=sent["run_key"])
    assert (loaded["edited"], loaded["deleted"], loaded["drawn"]) == (1, 1, 1)
    assert loaded["rejected_predictions"] == 1 and loaded["accepted_predictions"] == len(model) - 1
    view = dataset.limit(6)  # a fresh view: FiftyOne's views iterated before a load can go stale
    after = {s.id: boxes(s.ground_truth) for s in view}
    merged = {label_id: box for labels in after.values() for label_id, box in labels.items()}
    assert deleted_id not in merged
    old = next(labels[moved_id] for labels in before.values() if moved_id in labels)
    assert merged[moved_id][1][0] > old[1][0]  # moved right
    backup = {s.id: boxes(s[f"ground_truth_before_{sent['run_key']}"]) for s in view}
    assert backup == before  # the previous ground truth is recoverable until accepted
    assert dataset.count("ground_truth.detections.from_model") == 0  # reviewed predictions are ground truth now

    op("finish_cvat_review")(dataset, review=sent["run_key"], action="accept")
    assert not any(name.endswith(sent["run_key"]) for name in dataset.get_field_schema())


def test_classification_round_trip_from_the_app_then_revert(digits, cvat_env):
    view = digits.limit(4)
    view.skip(3).set_values("ground_truth", [None])  # one sample without a label: the prediction fills it
    view.set_values("predictions", [fo.Classification(label="7", confidence=0.9) for _ in range(4)])
    labels_before = view.values("ground_truth.label")
    result = operators.run("send_to_cvat", view, {"gt_field": "ground_truth", "pred_field": "predictions"}).result
    assert (result["gt_labels"], result["prefilled"]) == (3, 1)
    task_id, person = result["task_ids"][0], annotator(cvat_env, "admin")
    tags = sorted(person.annotations(task_id)["tags"], key=lambda t: t["frame"])
    person.relabel_tag(task_id, tags[0], "3" if labels_before[0] != "3" else "4")
    person.delete_tag(task_id, tags[1])

    loaded = operators.run("load_from_cvat", digits, {"review": result["run_key"]}).result
    assert (loaded["edited"], loaded["deleted"], loaded["accepted_predictions"]) == (1, 1, 1)
    view = digits.limit(4)
    labels_after = view.values("ground_truth.label")
    assert labels_after[1] is None and labels_after[0] != labels_before[0] and labels_after[3] == "7"

    operators.run("finish_cvat_review", digits, {"review": result["run_key"], "action": "revert"})
    assert digits.limit(4).values("ground_truth.label") == labels_before
    again = operators.run("load_from_cvat", digits, {"review": result["run_key"]}).result  # loadable again
    assert again["edited"] == 1


def test_project_is_created_and_cleanup_removes_it_with_the_tasks(shapes, cvat_env):
    sent = op("send_to_cvat")(shapes.limit(4), project_name="flagged-review", task_size=2, task_assignee="user2")
    assert len(cvat_env.projects) == 1 and len(sent["task_ids"]) == 2
    assert {task["assignee"]["username"] for task in cvat_env.tasks.values()} == {"user2"}
    loaded = op("load_from_cvat")(shapes, review=sent["run_key"], cleanup=True)
    assert loaded["deleted_task_ids"] == sent["task_ids"] and len(loaded["deleted_project_ids"]) == 1
    assert cvat_env.tasks == {} and cvat_env.projects == {}


def test_existing_project_schema_is_used(shapes, cvat_env):
    first = op("send_to_cvat")(shapes.limit(2), project_name="shared", classes=["extra"])
    op("send_to_cvat")(shapes.skip(2).limit(2), project_name="shared", schema_from="project")
    assert len(cvat_env.projects) == 1
    op("load_from_cvat")(shapes, review=first["run_key"], cleanup=True)
    assert len(cvat_env.projects) == 1  # the project still holds the second review's task: kept


def test_selection_by_tag_and_score_rule(shapes, cvat_env):
    shapes.take(3, seed=1).tag_samples("to_annotate")
    shapes.set_values("mistakenness", [i / 40 for i in range(len(shapes))])
    by_tag = op("send_to_cvat")(shapes, tag="to_annotate")
    by_score = op("send_to_cvat")(shapes, score_field="mistakenness", min_score=0.5, top_k=5)
    assert by_tag["samples"] == 3 and by_score["samples"] == 5
    sent = shapes.select(shapes.match(fo.ViewField(f"ground_truth_{by_score['run_key']}").exists()).values("id"))
    assert min(sent.values("mistakenness")) >= 0.85


def test_secrets_never_reach_the_database_or_the_logs(shapes, cvat_double_env, mongo_uri, caplog):
    import pymongo

    sent = op("send_to_cvat")(shapes.limit(2))
    op("load_from_cvat")(shapes, review=sent["run_key"], cleanup=True)
    password = cvat_double_env.owner.password
    database = pymongo.MongoClient(mongo_uri)[fo.config.database_name]
    for name in database.list_collection_names():
        for document in database[name].find():
            assert password not in str(document), name
    assert password not in caplog.text
    assert all(password not in path for _, path, _ in cvat_double_env.requests_log)


def test_send_form_blocks_bad_input(shapes, dataset):
    message = operators.validation_error("send_to_cvat", shapes, {"gt_field": "filepath"})
    assert "supports Classification, Detections" in message
    empty = operators.validation_error("send_to_cvat", shapes, {"gt_field": "ground_truth", "tag": "nothing"})
    assert "selection is empty" in empty
    size = operators.validation_error("send_to_cvat", shapes, {"gt_field": "ground_truth", "task_size": 0})
    assert "Task size must be at least 1" in size
    view = operators.validation_error("send_to_cvat", shapes, {"gt_field": "ground_truth", "saved_view": "nope"})
    assert "No saved view 'nope'" in view


def test_status_and_load_need_a_review(shapes):
    message = operators.validation_error("load_from_cvat", shapes, {})
    assert "no review sent to CVAT" in message
    with pytest.raises(ExecutionError, match="no review sent to CVAT"):
        op("load_from_cvat")(shapes, review="nope")


def test_unknown_review_is_named(shapes, cvat_env):
    op("send_to_cvat")(shapes.limit(1))
    with pytest.raises(ExecutionError, match="No CVAT review 'nope' here"):
        op("cvat_status")(shapes, review="nope")


def test_manage_runs_deletes_a_review_only_once_its_tasks_are_gone(shapes, cvat_env):
    sent = op("send_to_cvat")(shapes.limit(2))
    with pytest.raises(ExecutionError, match="still has tasks in CVAT"):
        op("manage_runs")(shapes, action="delete", run_key=sent["run_key"])
    op("load_from_cvat")(shapes, review=sent["run_key"], cleanup=True)
    op("finish_cvat_review")(shapes, review=sent["run_key"])
    op("manage_runs")(shapes, action="delete", run_key=sent["run_key"])
    assert sent["run_key"] not in shapes.list_runs() and not shapes.has_annotation_run(sent["run_key"])


def test_labels_of_another_type_are_kept_and_reported(shapes, cvat_env):
    sent = op("send_to_cvat")(shapes.limit(1))
    task_id, person = sent["task_ids"][0], annotator(cvat_env, "admin")
    (job,) = person.jobs(task_id)
    label_id, _ = person._defaults(task_id, "circle")
    points = {"type": "points", "label_id": label_id, "frame": 0, "points": [5, 5, 40, 5], "attributes": []}
    person.call("PATCH", f"/jobs/{job['id']}/annotations/?action=create", json={"shapes": [points]})
    loaded = op("load_from_cvat")(shapes, review=sent["run_key"])
    field = f"ground_truth_{sent['run_key']}_keypoints"
    assert loaded["unexpected"] == {field: 1} and shapes.count(f"{field}.keypoints") == 1


def test_label_attributes_can_be_edited_in_cvat(shapes, cvat_env):
    view = shapes.limit(2)
    view.set_values(
        "ground_truth.detections.difficulty", [["easy"] * len(d) for d in view.values("ground_truth.detections")]
    )
    shapes.add_dynamic_sample_fields()
    message = operators.validation_error("send_to_cvat", view, {"gt_field": "ground_truth", "attributes": "colour"})
    assert "no attribute colour (they have: difficulty)" in message
    sent = op("send_to_cvat")(view, attributes=["difficulty"])
    task_id, person = sent["task_ids"][0], annotator(cvat_env, "admin")
    shape = person.annotations(task_id)["shapes"][0]
    spec = next(
        a["id"]
        for a in person.labels(task_id)[shape_label(person, task_id, shape)]["attributes"]
        if a["name"] == "difficulty"
    )
    shape["attributes"] = [a | {"value": "hard"} if a["spec_id"] == spec else a for a in shape["attributes"]]
    person._edit(task_id, "update", "shapes", {k: v for k, v in shape.items() if k != "elements"})
    loaded = op("load_from_cvat")(shapes, review=sent["run_key"])
    assert loaded["edited"] == 1
    assert sorted(shapes.distinct("ground_truth.detections.difficulty")) == ["easy", "hard"]


def shape_label(person, task_id, shape):
    return next(name for name, label in person.labels(task_id).items() if label["id"] == shape["label_id"])
