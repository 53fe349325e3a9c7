"""A review loaded by another process than the one that sent it (send today, load tomorrow): the labels people
edited in CVAT keep their identity, and what FiftyOne added to them meanwhile survives the merge."""

import json
import types

import fiftyone as fo
import fiftyone.operators as foo

from core.annotation.load import restore_server_ids
from harness import processes
from testing import data
from testing.cvat_annotator import Annotator

LOAD = """
import json

import fiftyone as fo
import fiftyone.operators as foo

dataset = fo.load_dataset({name!r})
loaded = foo.get_operator("@labelloop/mlops/load_from_cvat")(dataset, review={key!r})
write_file({done!r}, json.dumps(loaded))
"""


def send(samples, **options):
    return foo.get_operator("@labelloop/mlops/send_to_cvat")(samples, **options)


def load_in_child(dataset: fo.Dataset, key: str, tmp_path) -> dict:
    """``load_from_cvat`` of review ``key`` run by a fresh interpreter; returns its result."""
    done = str(tmp_path / "loaded.json")
    child = processes.spawn(LOAD.format(name=dataset.name, key=key, done=done))
    loaded = json.loads(processes.read_when_written(done, child))
    processes.finish(child)
    dataset.reload()
    return loaded


def owner(double) -> Annotator:
    return Annotator(double.url, double.owner.username, double.owner.password)


def labels_by_id(samples, path: str) -> dict:
    """``{label id: label}`` of the labels at ``path`` (``ground_truth`` or ``ground_truth.detections``)."""
    return {label.id: label for label in samples.values(path, unwind=True) if label is not None}


def counts(loaded: dict, names: dict) -> dict:
    return {name: loaded[name] for name in names}


def test_relabelled_tag_keeps_its_identity(digits, cvat_env, tmp_path):
    view = digits.limit(3)
    view.skip(2).set_values("ground_truth", [None])  # the prediction fills it
    view.set_values("predictions", [fo.Classification(label="7", confidence=0.9) for _ in range(3)])
    sent = send(view, gt_field="ground_truth", pred_field="predictions")
    assert (sent["gt_labels"], sent["prefilled"]) == (2, 1)
    edited = view.first().ground_truth
    new_class = "3" if edited.label != "3" else "4"
    task_id, person = sent["task_ids"][0], owner(cvat_env)
    person.relabel_tag(task_id, person.find(task_id, "tags", edited.id), new_class)
    digits.set_label_values("ground_truth.mistakenness", {edited.id: 0.9})  # FiftyOne's work on the label meanwhile

    loaded = load_in_child(digits, sent["run_key"], tmp_path)
    expected = {"edited": 1, "deleted": 0, "drawn": 0, "unchanged": 1, "accepted_predictions": 1}
    assert counts(loaded, expected) == expected
    label = labels_by_id(digits, "ground_truth")[edited.id]
    assert (label.label, label.mistakenness) == (new_class, 0.9)


def test_relabelled_box_keeps_its_identity(shapes, cvat_env, tmp_path):
    data.add_simulated_predictions(shapes)
    view = shapes.limit(6)
    sent = send(view, gt_field="ground_truth", pred_field="candidate", threshold=0.3)
    assert sent["prefilled"] > 0
    relabelled, moved, deleted = view.values("ground_truth.detections", unwind=True)[:3]
    new_class = next(name for name in data.SHAPES if name != relabelled.label)
    task_id, person = sent["task_ids"][0], owner(cvat_env)
    person.relabel_shape(task_id, person.find(task_id, "shapes", relabelled.id), new_class)
    person.move_shape(task_id, person.find(task_id, "shapes", moved.id), 4, 0)
    person.delete_shape(task_id, person.find(task_id, "shapes", deleted.id))
    person.add_box(task_id, 0, "circle", [2, 2, 30, 30])
    shapes.set_label_values("ground_truth.detections.mistakenness", {relabelled.id: 0.9})

    loaded = load_in_child(shapes, sent["run_key"], tmp_path)
    expected = {"edited": 2, "deleted": 1, "drawn": 1, "accepted_predictions": sent["prefilled"]}
    assert counts(loaded, expected) == expected
    after = labels_by_id(shapes, "ground_truth.detections")
    assert deleted.id not in after and after[moved.id].bounding_box[0] > moved.bounding_box[0]
    assert (after[relabelled.id].label, after[relabelled.id].mistakenness) == (new_class, 0.9)


def test_server_ids_are_restored_as_integers_once():
    results = types.SimpleNamespace(server_id_map={"tags": {"5": "a", 7: "b"}, "shapes": {}})
    restore_server_ids(results)
    assert results.server_id_map == {"tags": {5: "a", 7: "b"}, "shapes": {}}
    restore_server_ids(results)  # as stored by a FiftyOne that keeps integer keys: unchanged
    assert results.server_id_map == {"tags": {5: "a", 7: "b"}, "shapes": {}}
