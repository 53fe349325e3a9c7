"""Finishing a loaded CVAT review: keep the merged corrections, or put back the ground truth they replaced."""

import fiftyone as fo

from . import merge
from .records import backup_field_name, latest_load, review


def accept(dataset: fo.Dataset, key: str) -> dict:
    """Keeps the merged corrections of review ``key``: drops its backup and review fields."""
    params = review(dataset, key)
    backup_field = backup_field_name(params["gt_field"], key)
    if not dataset.has_field(backup_field):
        raise ValueError(f"Review '{key}' has no loaded corrections to accept: load them first.")
    dataset.delete_sample_fields([backup_field, params["review_field"]])
    return {"accepted": key}


def revert(dataset: fo.Dataset, key: str) -> dict:
    """Puts back the ground truth that loading review ``key`` replaced; the review can then be loaded again."""
    params = review(dataset, key)
    backup_field = backup_field_name(params["gt_field"], key)
    if not dataset.has_field(backup_field):
        raise ValueError(f"Review '{key}' has no loaded corrections to revert.")
    load_record = latest_load(dataset, key)
    restored = merge.restore(dataset.select(load_record["params"]["sample_ids"]), params["gt_field"], backup_field)
    dataset.delete_sample_field(backup_field)
    return {"restored_samples": restored}
