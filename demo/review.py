"""The CVAT step of the demo: flagged shapes go to a local CVAT stand-in, a simulated annotator corrects them,
the corrections come back; then SAM's instance masks take the same loop (``demo.masks``). With FIFTYONE_CVAT_URL
set, a real CVAT is used and only the sends and status run."""

import os

import fiftyone.operators as foo

from demo import masks
from testing.cvat_annotator import Annotator
from testing.cvat_double import CVATDouble

PLUGIN = "@labelloop/mlops"


def review_in_cvat(shapes, mask_view):
    """Sends the 10 shapes with the most possible missing boxes, pre-populated from the candidate detector; then
    the draft instance masks of ``mask_view`` (see ``demo.masks``)."""
    if os.environ.get("FIFTYONE_CVAT_URL"):
        _send(shapes)
        masks.send(mask_view)
        return
    with CVATDouble() as cvat:
        os.environ.update(
            FIFTYONE_CVAT_URL=cvat.url,
            FIFTYONE_CVAT_USERNAME=cvat.owner.username,
            FIFTYONE_CVAT_PASSWORD=cvat.owner.password,
        )
        print(f"  CVAT: a local stand-in at {cvat.url} (set FIFTYONE_CVAT_URL/USERNAME/PASSWORD for a real one)")
        try:
            key, task_id = _send(shapes)
            _annotate(cvat, task_id)
            _load(shapes, key)
            key, task_id = masks.send(mask_view)
            masks.correct(cvat.url, cvat.owner.username, cvat.owner.password, task_id)
            masks.load(mask_view, key)
        finally:
            for name in ("URL", "USERNAME", "PASSWORD"):
                os.environ.pop(f"FIFTYONE_CVAT_{name}")


def _send(shapes):
    sent = _operator("send_to_cvat")(
        shapes, pred_field="candidate", threshold=0.5, score_field="possible_missing", top_k=10, segment_size=5
    )
    status = _operator("cvat_status")(shapes, review=sent["run_key"])
    print(
        f"  send_to_cvat: {sent['samples']} shapes with the most possible missing boxes, {sent['gt_labels']} "
        f"ground-truth boxes + {sent['prefilled']} pre-populated from 'candidate', {sent['tasks']} task, "
        f"{status['jobs_total']} jobs ({status['jobs_done']} done)"
    )
    return sent["run_key"], sent["task_ids"][0]


def _annotate(cvat, task_id):
    """A person fixes the task: moves one box, deletes one pre-populated box, draws one, completes the jobs."""
    person = Annotator(cvat.url, cvat.owner.username, cvat.owner.password)
    shapes = person.annotations(task_id)["shapes"]
    person.move_shape(task_id, shapes[0], 3, 0)
    person.delete_shape(task_id, shapes[-1])
    person.add_box(task_id, 0, "circle", [4, 4, 40, 40])
    for job in person.jobs(task_id):
        person.set_job(job["id"], stage="acceptance", state="completed")


def _load(shapes, key):
    status = _operator("cvat_status")(shapes, review=key)
    loaded = _operator("load_from_cvat")(shapes, review=key, cleanup=True)
    print(
        f"  cvat_status: {status['jobs_done']}/{status['jobs_total']} jobs done; load_from_cvat: "
        f"{loaded['edited']} edited, {loaded['drawn']} drawn, {loaded['accepted_predictions']} predictions kept, "
        f"{loaded['rejected_predictions']} rejected; previous ground truth kept until finish_cvat_review"
    )
    _operator("finish_cvat_review")(shapes, review=key, action="accept")
    print("  finish_cvat_review: corrections accepted, tasks and project cleaned up")


def _operator(name):
    return foo.get_operator(f"{PLUGIN}/{name}")
