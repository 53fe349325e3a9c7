"""The progress of a CVAT review, read through the same ``CVATConnection`` as send and load: tasks and jobs, state,
stage, assignee.

``GET /api/tasks/{id}`` and ``GET /api/jobs?task_id=`` carry everything shown here (assignees come as nested user
objects), so the connection's verified TLS (``REQUESTS_CA_BUNDLE`` included) and clear errors apply to status too.
A job is done when it is in stage ``acceptance`` and state ``completed`` (as CVAT counts ``jobs.completed``).
"""

import datetime

import fiftyone as fo

from .connection import CVATConnection, CVATSettings
from .records import review


def status(dataset: fo.Dataset, key: str, settings: CVATSettings) -> dict:
    """Tasks and jobs of review ``key`` as plain dicts, plus totals; missing tasks are listed, not fatal."""
    review(dataset, key)
    if not dataset.has_annotation_run(key):
        raise ValueError(f"Review '{key}' never reached CVAT (its send failed): there is nothing to follow.")
    task_ids = dataset.load_annotation_results(key).task_ids
    with CVATConnection(settings) as connection:
        tasks = [_task(connection, task_id) for task_id in task_ids]
    jobs = [job for task in tasks for job in task["jobs"]]
    done = sum(1 for job in jobs if job["done"])
    return {
        "run_key": key,
        "tasks": tasks,
        "jobs": jobs,
        "jobs_done": done,
        "jobs_total": len(jobs),
        "progress": done / len(jobs) if jobs else 0.0,
        "missing_task_ids": [task["id"] for task in tasks if task["missing"]],
    }


def _task(connection, task_id):
    task = connection.task_or_none(task_id)
    if task is None:
        return {"id": task_id, "missing": True, "name": None, "status": "deleted in CVAT", "jobs": []}
    return {
        "id": task_id,
        "missing": False,
        "name": task["name"],
        "status": task["status"],
        "assignee": _username(task["assignee"]),
        "size": task.get("size"),
        "updated": str(datetime.datetime.fromisoformat(task["updated_date"])),
        "jobs": [_job(task_id, job) for job in connection.task_jobs(task_id)],
    }


def _job(task_id, job):
    return {
        "task_id": task_id,
        "id": job["id"],
        "state": job["state"],
        "stage": job["stage"],
        "assignee": _username(job["assignee"]),
        "frames": job["frame_count"],
        "done": job["stage"] == "acceptance" and job["state"] == "completed",
    }


def _username(user):
    return user["username"] if user else None
