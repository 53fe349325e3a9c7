"""The progress of a CVAT review, read from the server with cvat-sdk: tasks and jobs, state, stage, assignee.

cvat-sdk 2.80 cannot read the ``/api/server/about`` of older servers (2.23 lacks ``logo_url``/``subtitle``), so the
client skips its version check; everything read here works on 2.23 and newer. A job is done when it is in stage
``acceptance`` and state ``completed`` (as CVAT counts ``jobs.completed``).
"""

import contextlib
import ssl

import urllib3
from cvat_sdk import Client, Config
from cvat_sdk.api_client import exceptions as sdk_errors

from .connection import CVATError, tls_message
from .records import review


def status(dataset, key, settings):
    """Tasks and jobs of review ``key`` as plain dicts, plus totals; missing tasks are listed, not fatal."""
    review(dataset, key)
    if not dataset.has_annotation_run(key):
        raise ValueError(f"Review '{key}' never reached CVAT (its send failed): there is nothing to follow.")
    task_ids = dataset.load_annotation_results(key).task_ids
    with client(settings) as cvat:
        tasks = [_task(cvat, task_id) for task_id in task_ids]
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


@contextlib.contextmanager
def client(settings):
    """A logged-in cvat-sdk client (TLS verified unless ``settings.verify_tls`` is False); errors made clear."""
    config = Config(verify_ssl=settings.verify_tls, status_check_period=0.5)
    with _clear_errors(settings), Client(settings.url, config=config, check_server_version=False) as cvat:
        if settings.organization:
            cvat.organization_slug = settings.organization
        cvat.login((settings.username, settings.password))
        yield cvat


def _task(cvat, task_id):
    try:
        task = cvat.tasks.retrieve(task_id)
    except sdk_errors.NotFoundException:
        return {"id": task_id, "missing": True, "name": None, "status": "deleted in CVAT", "jobs": []}
    return {
        "id": task_id,
        "missing": False,
        "name": task.name,
        "status": task.status,
        "assignee": _username(task.assignee),
        "size": task.size,
        "updated": str(task.updated_date),
        "jobs": [_job(task_id, job) for job in task.get_jobs()],
    }


def _job(task_id, job):
    return {
        "task_id": task_id,
        "id": job.id,
        "state": job.state,
        "stage": job.stage,
        "assignee": _username(job.assignee),
        "frames": job.frame_count,
        "done": job.stage == "acceptance" and job.state == "completed",
    }


def _username(user):
    return getattr(user, "username", None) if user else None


@contextlib.contextmanager
def _clear_errors(settings):
    url = settings.public_url
    try:
        yield
    except sdk_errors.UnauthorizedException as error:
        raise CVATError(f"CVAT at {url} refused the login of '{settings.username}': check the credentials.") from error
    except sdk_errors.ForbiddenException as error:
        raise CVATError(f"CVAT user '{settings.username}' may not read this review's tasks: ask the owner.") from error
    except sdk_errors.ApiException as error:
        raise CVATError(f"CVAT answered {error.status} while reading the review: {error.reason}.") from error
    except (urllib3.exceptions.HTTPError, OSError) as error:
        if isinstance(getattr(error, "reason", error), (urllib3.exceptions.SSLError, ssl.SSLError)):
            raise CVATError(tls_message(url)) from error
        raise CVATError(f"Cannot reach CVAT at {url}: is the server up and FIFTYONE_CVAT_URL right?") from error
