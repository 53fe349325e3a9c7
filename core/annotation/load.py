"""Loading a CVAT review back: corrections merged into the ground truth, the previous state kept until accepted.

``load`` downloads with FiftyOne into the review field, then merges it into the ground truth (``cvat_merge``),
keeping the previous ground truth in a backup field. Labels of types the field cannot hold are kept in their own
fields and reported. Tasks deleted in CVAT, and samples deleted since the send, are skipped and reported (the
samples of a deleted task keep their ground truth); a review whose labels were uploaded for samples without a CVAT
frame (its labels sit on other samples' images) is refused. A load that fails is taken back whole (ground truth,
review field as sent, no backup or extra fields), so it can be loaded again. Only once the load is recorded,
``cleanup`` deletes the tasks and the project the send created (``finish`` then accepts or reverts the corrections).
"""

import logging

from bson import ObjectId

import fiftyone as fo
from fiftyone.utils.cvat import CVATAnnotationResults

from ..exceptions import CVATError, refuse
from ..store import runs, writes
from ..store.fields import label_path, label_type
from . import merge, segmentation, shapes
from .connection import CVATConnection, CVATSettings
from .records import LOAD_KIND, backup_field_name, framed_sample_ids, review

logger = logging.getLogger(__name__)

UNEXPECTED_TYPES = ("classification", "classifications", "detections", "polylines", "keypoints", "segmentation")


def check_loadable(dataset: fo.Dataset, key: str) -> list[str]:
    """Why review ``key`` cannot be loaded now (empty when it can)."""
    params = review(dataset, key)
    if not dataset.has_annotation_run(key):
        return [f"Review '{key}' never reached CVAT (its send failed): send the samples again."]
    if dataset.has_field(backup_field_name(params["gt_field"], key)):
        return [f"Corrections of '{key}' are already loaded: accept or revert them before loading again."]
    if not dataset.has_field(params["review_field"]):
        return [f"Review '{key}' was already loaded and accepted."]
    return []


def load(dataset: fo.Dataset, key: str, settings: CVATSettings, cleanup: bool = False, user: str | None = None) -> dict:
    """Merges the corrections of review ``key``; returns the load's run key and counts."""
    refuse(check_loadable(dataset, key))
    params = review(dataset, key)
    connection = CVATConnection(settings)
    try:
        results = dataset.load_annotation_results(key)
        refuse(_unframed(key, params["review_field"], results))
        restore_server_ids(results)
        results.use_api(connection)
        missing = _forget_missing_tasks(results, connection)
        return _load(dataset, key, params, results, missing, cleanup, user)
    finally:
        connection.close()


def restore_server_ids(results: CVATAnnotationResults) -> None:
    """Gives ``results.server_id_map`` ({"tags"/"shapes"/"tracks": {CVAT id: FiftyOne label id}}) back its integer
    keys, which the download looks CVAT's ids up by: FiftyOne 1.22.1 stores them as JSON and restores them as
    strings, so a label whose ``label_id`` attribute CVAT reset (a changed class) would come back with a new id
    when loaded by another process than the send's. Converts only digit strings: idempotent, and a no-op once
    FiftyOne restores integers itself."""
    results.server_id_map = {
        kind: {_int_key(server_id): label_id for server_id, label_id in ids.items()}
        for kind, ids in results.server_id_map.items()
    }


def _int_key(key: int | str) -> int | str:
    return int(key) if isinstance(key, str) and key.isdecimal() else key


def _forget_missing_tasks(results, connection):
    missing = [task_id for task_id in results.task_ids if not connection.task_exists(task_id)]
    if len(missing) == len(results.task_ids):
        gone = ", ".join(map(str, missing))
        raise CVATError(f"Every task of this review ({gone}) is gone from CVAT: there is nothing to load.")
    results._forget_tasks(missing)
    return missing


def _unframed(key: str, review_field: str, results: CVATAnnotationResults) -> list[str]:
    """The problem of a review whose labels were uploaded for samples that have no CVAT frame (samples deleted
    while it was sent, by a send made before sends checked for that): its labels are on other samples' images."""
    unframed = set(results.id_map.get(review_field, {})) - set(framed_sample_ids(results))
    if not unframed:
        return []
    return [
        f"Review '{key}' cannot be loaded: {len(unframed)} of its samples were deleted while it was sent, so its "
        "CVAT labels are on other samples' images. Delete its CVAT tasks and send the samples again."
    ]


def _existing(dataset: fo.Dataset, sample_ids: list[str]) -> tuple[list[str], list[str]]:
    """``sample_ids`` split into those still in the dataset and those deleted since the send (logged)."""
    existing = dataset.select(sample_ids, ordered=True).values("id")
    kept = set(existing)
    deleted = [sample_id for sample_id in sample_ids if sample_id not in kept]
    if deleted:
        logger.warning("%d samples of the review were deleted since the send; skipping them", len(deleted))
    return existing, deleted


def _load(dataset, key, params, results, missing, cleanup, user):
    gt_field, review_field = params["gt_field"], params["review_field"]
    backup_field = backup_field_name(gt_field, key)
    sample_ids, deleted = _existing(dataset, framed_sample_ids(results))
    sent_ids = dict(results.id_map.get(review_field, {}))
    load_params = {"review": key, "gt_field": gt_field, "backup_field": backup_field, "sample_ids": sample_ids}
    fields = [gt_field, backup_field, review_field]
    load_key = runs.start_run(dataset, LOAD_KIND, params=load_params, fields=fields, user=user)
    sent_field = review_field + segmentation.SENT_SUFFIX  # a semantic mask's regions as sent, for the merge
    written = [*fields, sent_field, *_unexpected_fields(review_field).values()]  # a failed load: review as sent
    taken_back = writes.rolled_back_on_failure(dataset, load_key, written, {}, "load", keep=(ValueError, CVATError))
    with taken_back as (rollback, run):
        rollback.save([ObjectId(_id) for _id in sample_ids])
        samples = dataset.select(sample_ids)
        points = shapes.sent_points(samples, review_field)
        is_mask = label_type(dataset, gt_field) is fo.Segmentation
        if is_mask:
            dataset.clone_sample_field(review_field, sent_field)
        unexpected = _download(dataset, key, review_field)
        _repair(samples, params, points)
        attributes = params.get("attributes") or ()
        counts = merge.merge(
            samples,
            gt_field,
            review_field,
            backup_field=backup_field,
            sent_ids=sent_ids,
            attributes=attributes,
            review_key=key,
        )
        if is_mask:
            dataset.delete_sample_field(sent_field)
        counts.update(samples=len(sample_ids), deleted_samples=len(deleted), missing_tasks=len(missing))
        run.counts = {**counts, "unexpected_labels": sum(unexpected.values())}
    removed = _cleanup(load_key, results) if cleanup else {}
    return {
        "run_key": load_key,
        **counts,
        "missing_task_ids": missing,
        "deleted_sample_ids": deleted,
        "unexpected": unexpected,
        **removed,
    }


def _repair(samples, params, points):
    """Undoes what FiftyOne's download changes in instance masks and keypoints people did not edit (see ``shapes``;
    ``points``: the keypoints as sent)."""
    gt_field, review_field = params["gt_field"], params["review_field"]
    if params.get("instance_shapes") == "polygons" and label_type(samples, gt_field) is fo.Detections:
        shapes.keep_untouched_masks(samples, gt_field, review_field)
    else:
        shapes.fix_instance_boxes(samples, review_field)
    shapes.keep_sent_points(samples, review_field, points)


def _unexpected_fields(review_field):
    """{CVAT label type: the field that keeps labels of that type, which the review field cannot hold}."""
    return {kind: f"{review_field}_{kind}" for kind in UNEXPECTED_TYPES}


def _download(dataset, key, review_field):
    """FiftyOne's download into the review field; returns {field: count} of labels of unexpected types kept."""
    before = set(dataset.get_field_schema())
    dataset.load_annotations(key, unexpected=_unexpected_fields(review_field), cleanup=False)
    created = [name for name in dataset.get_field_schema() if name not in before]
    return {name: dataset.count(label_path(name, label_type(dataset, name))) for name in created}


def _cleanup(load_key, results):
    """Deletes the review's tasks, then the projects the send created (FiftyOne's cleanup leaves them), once load
    ``load_key`` has kept the corrections: a failure here loses nothing, and says so."""
    try:
        return _delete_tasks(results, results.connect_to_api())
    except Exception as error:
        raise CVATError(
            f"The corrections were loaded (run {load_key}): accept or revert them with finish_cvat_review. "
            f"Deleting the review's CVAT tasks failed ({error}): delete them in CVAT."
        ) from error


def _delete_tasks(results, connection):
    project_ids = list(results.project_ids)
    task_ids = list(results.task_ids)
    results.cleanup()
    results.save()  # the stored review no longer lists the deleted tasks
    empty = [pid for pid in project_ids if not connection.get_project_tasks(pid)]
    for project_id in empty:
        connection.delete_project(project_id)
    return {"deleted_task_ids": task_ids, "deleted_project_ids": empty}
