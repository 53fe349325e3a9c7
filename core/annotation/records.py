"""The records of a CVAT review on the dataset: the send run (its params), its loads, and the fields it uses."""

import fiftyone as fo
from fiftyone.utils.cvat import CVATAnnotationResults

from ..store import runs

SEND_KIND, LOAD_KIND = "send_to_cvat", "load_from_cvat"


def backup_field_name(gt_field: str, key: str) -> str:
    """The field that keeps the ground truth a load of review ``key`` replaced."""
    return f"{gt_field}_before_{key}"


def framed_sample_ids(results: CVATAnnotationResults) -> list[str]:
    """The sample of each frame of the review's CVAT tasks, task by task in frame order."""
    frames = results.frame_id_map
    return [frames[task][frame]["sample_id"] for task in results.task_ids for frame in sorted(frames.get(task, {}))]


def review(dataset: fo.Dataset, key: str) -> dict:
    """The send record of review ``key`` (its params), or a clear error."""
    if key not in dataset.list_runs() or dataset.get_run_info(key).config.method != SEND_KIND:
        sent = ", ".join(review_keys(dataset)) or "none"
        raise ValueError(f"No CVAT review '{key}' on this dataset. Reviews: {sent}.")
    return dataset.get_run_info(key).config.params


def review_keys(dataset: fo.Dataset, pending_only: bool = False) -> list[str]:
    """The dataset's CVAT reviews, newest first (only those with loaded corrections when ``pending_only``)."""
    keys = [r["key"] for r in runs.list_suite_runs(dataset) if r["kind"] == SEND_KIND]
    if pending_only:
        keys = [key for key in keys if dataset.has_field(backup_field_name(review(dataset, key)["gt_field"], key))]
    return keys


def latest_load(dataset: fo.Dataset, key: str) -> dict:
    """The newest load of review ``key`` (its run record)."""
    loads = [r for r in runs.list_suite_runs(dataset) if r["kind"] == LOAD_KIND and r["params"].get("review") == key]
    return loads[0]
