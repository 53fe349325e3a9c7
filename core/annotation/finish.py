"""Finishing a loaded CVAT review: keep the merged corrections, or put back the ground truth they replaced.

Either holds the lease on the ground truth, the backup and the review field while it works. Deleting the backup
field is the last step, so a failed revert leaves the merged corrections (and the backup) as they were.
"""

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bson import ObjectId

import fiftyone as fo

from ..store import lease, runs, writes
from . import merge, segmentation
from .records import backup_field_name, latest_load, review


def accept(dataset: fo.Dataset, key: str, user: str | None = None) -> dict:
    """Keeps the merged corrections of review ``key``: drops its backup and review fields."""
    params, backup_field = _loaded(dataset, key, "accept")
    with _leased(dataset, key, params, backup_field, user):
        dataset.delete_sample_fields([backup_field, params["review_field"]])
    return {"accepted": key}


def revert(dataset: fo.Dataset, key: str, user: str | None = None) -> dict:
    """Puts back the ground truth that loading review ``key`` replaced; the review can then be loaded again."""
    params, backup_field = _loaded(dataset, key, "revert")
    samples = dataset.select(latest_load(dataset, key)["params"]["sample_ids"])
    with _leased(dataset, key, params, backup_field, user):
        rollback = writes.Rollback(dataset, [params["gt_field"]])
        rollback.save([ObjectId(_id) for _id in samples.values("id")])
        written = segmentation.written_by(samples, params["gt_field"], key)
        try:
            restored = merge.restore(samples, params["gt_field"], backup_field)
            dataset.delete_sample_field(backup_field)
        except BaseException:
            if dataset.has_field(backup_field):  # not reverted: the corrections stay, to accept or revert
                rollback.undo()
            raise
    for path in written:  # the merged masks' files: nothing refers to them any more
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    return {"restored_samples": restored}


def _loaded(dataset, key, action):
    params = review(dataset, key)
    backup_field = backup_field_name(params["gt_field"], key)
    if not dataset.has_field(backup_field):
        raise ValueError(f"Review '{key}' has no loaded corrections to {action}: load them first.")
    return params, backup_field


@contextmanager
def _leased(dataset, key, params, backup_field, user) -> Iterator[None]:
    fields = [params["gt_field"], backup_field, params["review_field"]]
    with lease.acquire(dataset, fields, runs.new_run_key("finish_cvat"), user or runs.current_user()):
        yield
