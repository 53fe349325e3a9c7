"""``load_from_cvat`` and ``finish_cvat_review``: merge the corrections back, then accept or revert them."""

from typing import Literal

import fiftyone as fo

from ..core.annotation import finish, load, merge, records
from . import common, cvat_form

OUTCOMES = {
    "accept": "Corrections accepted: the backup of the previous ground truth is deleted",
    "revert": "Corrections reverted: the previous ground truth is back (the review can be loaded again)",
}
"""The actions of ``finish_cvat_review``, and what the App shows after each."""
ACTIONS = tuple(OUTCOMES)
LOAD_PARAM_TYPES = {**cvat_form.CONNECTION_PARAMS, "review": common.STR, "cleanup": common.BOOL}
FINISH_PARAM_TYPES = {"review": common.STR, "action": common.STR}


class LoadFromCVAT(common.DatasetOperator):
    """Merges a review's corrections into the ground truth, keeping the previous ground truth in a backup field.

    ``finish_cvat_review`` then accepts the corrections or reverts them.
    """

    name = "load_from_cvat"
    label = "Load from CVAT"
    description = "Merge the corrections of a CVAT review into the ground truth"
    param_types = LOAD_PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        key = cvat_form.add_review_input(ctx, inputs)
        inputs.bool(
            "cleanup",
            default=False,
            label="Delete the CVAT tasks (and the project the review created) once loaded",
        )
        cvat_form.add_connection_inputs(inputs)
        if well_typed and key:
            common.block_all(inputs, load.check_loadable(ctx.dataset, key))

    def execute(self, ctx):
        key = ctx.params.get("review") or records.review_keys(ctx.dataset)[0]
        ctx.set_progress(progress=0.0, label=f"Loading review {key}")
        result = load.load(
            ctx.dataset, key, cvat_form.settings(ctx), cleanup=bool(ctx.params.get("cleanup")), user=common.user(ctx)
        )
        return common.finished(ctx, result, "Loaded")

    def resolve_output(self, ctx):
        numbers = [(name, name.replace("_", " ").capitalize()) for name in ("samples", *merge.COUNTS)]
        return common.run_output(ctx, "Corrections loaded (previous ground truth kept until accepted)", numbers)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        review: str | None = None,
        cleanup: bool = False,
        delegate: bool = False,
        **connection,
    ) -> dict | None:
        """Merges the corrections of a CVAT review into its ground-truth field; the previous ground truth stays in
        a backup field until ``finish_cvat_review`` accepts or reverts them.

        Args:
            sample_collection: a dataset, or a view of it: the review's dataset is loaded into, whatever the view
            review: the review's key (default: None, the newest review)
            cleanup: whether to delete the review's CVAT tasks, and the project it created, once loaded (default:
                False)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **connection: ``organization``, the CVAT organization (default: None, your personal workspace);
                ``verify_tls``, whether to verify the server's TLS certificate (default:
                ``CVATSettings.verify_tls``). The server and login come from the ``FIFTYONE_CVAT_*`` secrets

        Returns:
            a dict with the load's run key ``run_key``, its counts (``samples`` and those named in
            ``annotation.merge.COUNTS``), ``missing_task_ids``, ``deleted_samples`` / ``deleted_sample_ids`` (samples
            deleted since the send, skipped), ``unexpected`` ({field: count} of the labels of unexpected types kept)
            and, with ``cleanup``, ``deleted_task_ids`` and ``deleted_project_ids``; None
            when delegated
        """
        params = {"review": review, "cleanup": cleanup, **connection}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


class FinishCVATReview(common.DatasetOperator):
    """Accepts loaded corrections (drops the backup) or reverts them (restores the previous ground truth).

    After a revert, the review can be loaded again.
    """

    name = "finish_cvat_review"
    label = "Accept or revert CVAT corrections"
    description = "Keep or undo loaded CVAT corrections"
    param_types = FINISH_PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        cvat_form.add_review_input(ctx, inputs, pending_only=True)
        common.choice(inputs, "action", ACTIONS, "accept", "Action", required=True)
        if ctx.params.get("action") not in (None, *ACTIONS):
            common.block(inputs, f"Action must be one of {', '.join(ACTIONS)}.")

    def execute(self, ctx):
        key = ctx.params.get("review") or records.review_keys(ctx.dataset, pending_only=True)[0]
        action = finish.accept if ctx.params.get("action", "accept") == "accept" else finish.revert
        return common.finished(ctx, action(ctx.dataset, key))

    def resolve_output(self, ctx):
        title = OUTCOMES["revert" if ctx.params.get("action") == "revert" else "accept"]
        return common.run_output(
            ctx, title, [("restored_samples", "Samples restored")], strings=(("accepted", "Review accepted"),)
        )

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        review: str | None = None,
        action: Literal["accept", "revert"] = "accept",
    ) -> dict:
        """Accepts the loaded corrections of a CVAT review (drops the backup of the previous ground truth) or
        reverts them (restores it; the review can then be loaded again).

        Args:
            sample_collection: a dataset, or a view of it: the review's dataset is changed, whatever the view
            review: the review's key (default: None, the newest review with loaded corrections)
            action: ``"accept"`` or ``"revert"`` (default: ``"accept"``)

        Returns:
            a dict: ``accepted`` (the review's key) after accept, ``restored_samples`` (how many) after revert
        """
        return common.execute_from_sdk(self, sample_collection, {"review": review, "action": action})
