"""``cvat_status``: the tasks and jobs of a review as CVAT reports them (state, stage, assignee, progress)."""

import fiftyone as fo
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


class CVATStatus(common.DatasetOperator):
    """Reads a review's progress from CVAT (through the same connection as send and load).

    It only reads: nothing is written to the dataset.
    """

    name = "cvat_status"
    label = "CVAT review status"
    description = "Tasks, jobs, assignees and progress"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        cvat_form.add_review_input(ctx, inputs)
        cvat_form.add_connection_inputs(inputs)

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

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        review: str | None = None,
        organization: str | None = None,
        verify_tls: bool = True,
    ) -> dict:
        """The progress of a CVAT review as CVAT reports it: its tasks and jobs (state, stage, assignee), and
        totals. The server and login come from the ``FIFTYONE_CVAT_*`` secrets.

        Args:
            sample_collection: a dataset, or a view of it: the review is looked up on its dataset
            review: the review's key (default: None, the newest review)
            organization: the CVAT organization (default: None, your personal workspace)
            verify_tls: whether to verify the server's TLS certificate (default: True)

        Returns:
            a dict with the review's key ``run_key``, its ``tasks`` and ``jobs`` (plain dicts), ``jobs_done``,
            ``jobs_total``, ``progress`` (the fraction done) and ``missing_task_ids`` (tasks deleted in CVAT)
        """
        params = {"review": review, "organization": organization, "verify_tls": verify_tls}
        return common.execute_from_sdk(self, sample_collection, params)
