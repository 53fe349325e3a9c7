"""Listing the suite's runs and deleting a run together with exactly what it wrote.

A field is deleted only when the run created it and everything in it is the run's. Otherwise only the labels that
carry the run's key are removed, so human labels and other runs' labels stay. Values without a run key (scores,
tags, embeddings) in a field that existed before the run, or that other runs wrote too, cannot be told apart:
deleting such a run is refused.
"""

from dataclasses import dataclass, field

import fiftyone as fo

from ..exceptions import refuse
from . import fields as L
from . import jobs, lease, runs, schema

INTERRUPTED = "interrupted"
RUN_KEY_ATTRIBUTE = {"prelabel": L.PRELABEL_RUN, "accept_prelabels": L.ACCEPTED_RUN}  # by run kind


@dataclass
class Deletion:
    """What deleting run ``key`` does: fields to delete, labels to remove by field, or why it cannot."""

    key: str
    delete_fields: list[str] = field(default_factory=list)
    remove_labels: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The plan in one sentence, for forms."""
        parts = [f"delete field(s) {', '.join(self.delete_fields)}"] if self.delete_fields else []
        parts += [f"remove {n} of its labels from '{name}'" for name, n in self.remove_labels.items()]
        return f"Deleting run {self.key} will {'; '.join(parts + ['delete its record'])}. Other labels are kept."


def list_runs(samples: fo.core.collections.SampleCollection) -> list[dict]:
    """The suite's runs on the dataset of ``samples``, newest first; a run still recorded as running whose lease
    has lapsed (its process died) has status ``interrupted``. Runs registered by other processes are included."""
    schema.refresh(samples._root_dataset)
    live = {jobs.run_of(holder["run_key"]) for doc in lease.live_leases(samples) for holder in doc["holders"]}
    records = runs.list_suite_runs(samples)
    for record in records:
        if record["status"] == runs.RUNNING and record["fields"] and record["key"] not in live:
            record["status"] = INTERRUPTED
    return records


def plan_deletion(samples: fo.core.collections.SampleCollection, key: str) -> Deletion:
    """The ``Deletion`` of run ``key``; its ``problems`` say why it cannot be deleted (unknown, still running, or
    values that cannot be told apart from others')."""
    records = list_runs(samples)
    deletion = Deletion(key, problems=_blockers(samples, records, key))
    if deletion.problems:
        return deletion
    record = next(r for r in records if r["key"] == key)
    others = [r for r in records if r["key"] != key]
    for path in record["fields"] or []:
        _plan_field(samples._root_dataset, record, path, others, deletion)
    return deletion


def delete_run(samples: fo.core.collections.SampleCollection, key: str, user: str | None = None) -> dict:
    """Deletes run ``key`` and what it wrote (see the module docstring) under the lease of its fields; returns the
    deleted fields and the number of removed labels. Raises ValueError when it cannot."""
    dataset = samples._root_dataset
    refuse(_blockers(dataset, list_runs(dataset), key))
    config = dataset.get_run_info(key).config
    with lease.acquire(dataset, config.fields or [], f"deletion_of_{key}", user or runs.current_user()):
        deletion = plan_deletion(dataset, key)
        refuse(deletion.problems)
        attribute = RUN_KEY_ATTRIBUTE.get(config.method)
        removed = [L.remove_run_labels(dataset, name, attribute, key) for name in deletion.remove_labels]
        for path in sorted(deletion.delete_fields, key=lambda p: -p.count(".")):  # attributes before their parents
            dataset.delete_sample_field(path)
        dataset.delete_run(key)
        if dataset.has_annotation_run(key):
            dataset.delete_annotation_run(key)  # a CVAT review's record, its tasks already gone
    return {"run_key": key, "deleted_fields": deletion.delete_fields, "removed_labels": sum(removed)}


def _blockers(samples, records, key):
    record = next((r for r in records if r["key"] == key), None)
    if record is None:
        known = ", ".join(r["key"] for r in records[:10]) or "none"
        return [f"No LabelLoop run '{key}' on this dataset. Its runs, newest first: {known}."]
    if record["status"] != runs.RUNNING:
        return _open_review(samples._root_dataset, key)
    holders = [h for doc in lease.live_leases(samples) for h in doc["holders"] if jobs.run_of(h["run_key"]) == key]
    where = f" (user {holders[0]['user']} on host {holders[0]['host']}, pid {holders[0]['pid']})" if holders else ""
    return [
        f"Run {key} is still running{where}: wait until it has finished. If its process has died, it can be "
        f"deleted once its lease lapses (within {lease.default_ttl():.0f} s)."
    ]


def _open_review(dataset, key):
    """A CVAT review whose tasks still exist cannot be deleted here: that would orphan its tasks."""
    if not dataset.has_annotation_run(key) or not dataset.load_annotation_results(key).task_ids:
        return []
    return [
        f"Review {key} still has tasks in CVAT: load it with load_from_cvat(cleanup=True) (or delete its tasks in "
        "CVAT) before deleting the run."
    ]


def _plan_field(dataset, record, path, others, deletion):
    if not dataset.has_field(path):
        return  # already gone
    created = path in (record["created_fields"] or [])
    attribute = RUN_KEY_ATTRIBUTE.get(record["kind"])
    label_cls = L.label_type(dataset, path)
    if attribute and label_cls:
        own = L.count_run_labels(dataset, path, attribute, record["key"])
        if created and own == dataset.count(L.label_path(path, label_cls)):
            deletion.delete_fields.append(path)
        elif own:
            deletion.remove_labels[path] = own
        return
    writers = [r["key"] for r in others if path in (r["fields"] or [])]
    if created and not writers:
        deletion.delete_fields.append(path)
        return
    why = f"runs {', '.join(writers)} also wrote it" if created else "it existed before the run"
    deletion.problems.append(
        f"Run {record['key']} wrote '{path}', but {why} and its values carry no run key, so they cannot be told "
        f"apart. Undo them yourself, then delete only the record with dataset.delete_run('{record['key']}')."
    )
