"""``cvat_status``: the tasks and jobs of a review as CVAT reports them (state, stage, assignee, progress)."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.annotation import records
from ..core.annotation import status as cvat_status
from . import common, cvat_form, tables

JOB_COLUMNS = (
    ("task_id", "Task"),
    ("id", "Job"),
    ("state", "State"),
    ("stage", "Stage"),
    ("assignee", "Assignee"),
    ("frames", "Images"),
)


PARAM_TYPES = {**cvat_form.CONNECTION_PARAMS, "review": common.STR}


class CVATStatus(foo.Operator):
    """Reads a review's progress from CVAT (through the same connection as send and load)."""

    @property
    def config(self):
        return common.operator_config("cvat_status", "CVAT review status", "Tasks, jobs, assignees and progress")

    def resolve_input(self, ctx):
        inputs = types.Object()
        common.check_types(inputs, ctx.params, PARAM_TYPES)
        cvat_form.add_review_input(ctx, inputs)
        cvat_form.add_connection_inputs(inputs)
        return types.Property(inputs, view=types.View(label="LabelLoop: CVAT review status"))

    def execute(self, ctx):
        key = ctx.params.get("review") or next(iter(records.review_keys(ctx.dataset)), None)
        result = cvat_status.status(ctx.dataset, key, cvat_form.settings(ctx))
        ctx.set_progress(progress=1.0, label=f"{result['jobs_done']} / {result['jobs_total']} jobs done")
        return result

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("run_key", label="Review")
        outputs.int("jobs_done", label="Jobs done (accepted and completed)")
        outputs.int("jobs_total", label="Jobs")
        outputs.float("progress", label="Progress")
        outputs.list("jobs", types.Object(), label="Jobs", view=tables.table(JOB_COLUMNS))
        return types.Property(outputs, view=types.View(label="CVAT review status"))

    def __call__(self, sample_collection, review=None, organization=None, verify_tls=True):
        """The status of review ``review`` (default: the newest): tasks, jobs, totals."""
        params = {"review": review, "organization": organization, "verify_tls": verify_tls}
        return common.execute_from_sdk(self, sample_collection, params)
