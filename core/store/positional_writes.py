"""Bulk writes of label attributes by position, checked by label id (``writes.bulk_set``'s updates, about half the
cost).

``writes.bulk_set`` finds each label by id (``arrayFilters``): MongoDB matches every filter against every label of
the list, and the client builds one filter per label. Here each label's attribute is set at the position it had when
it was read (``ground_truth.detections.3.compare``), on the condition that each list still holds exactly the ids read,
in that order (one ``$expr`` per sample). A sample whose list changed meanwhile (labels added, moved or deleted by
someone else, or a view that showed only some labels) is not matched; then the whole chunk is written again by id,
which sets the same values (so nothing is lost or written twice differently).
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from bson import ObjectId
from pymongo import UpdateOne

import fiftyone as fo

from . import writes


def bulk_set(dataset: fo.Dataset, ids: Iterable[ObjectId], updates: Iterable[dict]) -> None:
    """Writes every sample's update (as ``writes.bulk_set``) by label position, else by label id."""
    ids, updates = list(ids), list(updates)
    now = datetime.now(UTC)
    operations = [_operation(_id, update, now) for _id, update in zip(ids, updates, strict=True)]
    if not operations:
        return
    if dataset._sample_collection.bulk_write(operations, ordered=False).matched_count < len(operations):
        writes.bulk_set(dataset, ids, updates)


def _operation(sample_id, update, now):
    """The update of one sample by label position, on the condition that its lists hold the ids read, in order."""
    values, positions = {"last_modified_at": now}, {}
    for key, value in update.items():
        if not isinstance(key, tuple):
            values[key] = value
            continue
        list_path, attribute = key
        listed = positions.setdefault(list_path, {})
        for label_id, label_value in value.items():
            values[f"{list_path}.{listed.setdefault(label_id, len(listed))}.{attribute}"] = label_value
    query = {"_id": sample_id}
    if positions:
        same = [{"$eq": [f"${path}._id", {"$literal": list(listed)}]} for path, listed in positions.items()]
        query["$expr"] = same[0] if len(same) == 1 else {"$and": same}
    return UpdateOne(query, {"$set": values})
