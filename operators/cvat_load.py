"""``load_from_cvat`` and ``finish_cvat_review``: merge the corrections back, then accept or revert them."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.annotation import finish, load, merge, records
from . import common, cvat_form

ACTIONS = ("accept", "revert")
LOAD_PARAM_TYPES = {**cvat_form.CONNECTION_PARAMS, "review": common.STR, "cleanup": common.BOOL}
FINISH_PARAM_TYPES = {"review": common.STR, "action": common.STR}


class LoadFromCVAT(foo.Operator):
    """Merges a review's corrections into the ground truth, keeping the previous ground truth in a backup field."""

    @property
    def config(self):
        return common.operator_config(
            "load_from_cvat", "Load from CVAT", "Merge the corrections of a CVAT review into the ground truth"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        well_typed = common.check_types(inputs, ctx.params, LOAD_PARAM_TYPES)
        key = cvat_form.add_review_input(ctx, inputs)
        inputs.bool(
            "cleanup",
            default=False,
            label="Delete the CVAT tasks (and the project the review created) once loaded",
        )
        cvat_form.add_connection_inputs(inputs)
        if well_typed and key:
            common.block_all(inputs, load.check_loadable(ctx.dataset, key))
        return types.Property(inputs, view=types.View(label="LabelLoop: load from CVAT"))

    def execute(self, ctx):
        key = ctx.params.get("review") or records.review_keys(ctx.dataset)[0]
        ctx.set_progress(progress=0.0, label=f"Loading review {key}")
        result = load.load(
            ctx.dataset, key, cvat_form.settings(ctx), cleanup=bool(ctx.params.get("cleanup")), user=common.user(ctx)
        )
        ctx.set_progress(progress=1.0, label="Loaded")
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        numbers = [(name, name.replace("_", " ").capitalize()) for name in ("samples", *merge.COUNTS)]
        return common.run_output("Corrections loaded (previous ground truth kept until accepted)", numbers)

    def __call__(self, sample_collection, review=None, cleanup=False, delegate=False, **connection):
        """Merges review ``review`` (default: the newest); returns the load's run key and counts. ``connection``:
        ``organization``, ``verify_tls``."""
        params = {"review": review, "cleanup": cleanup, **connection}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


class FinishCVATReview(foo.Operator):
    """Accepts loaded corrections (drops the backup) or reverts them (restores the previous ground truth)."""

    @property
    def config(self):
        return common.operator_config(
            "finish_cvat_review", "Accept or revert CVAT corrections", "Keep or undo loaded CVAT corrections"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        common.check_types(inputs, ctx.params, FINISH_PARAM_TYPES)
        cvat_form.add_review_input(ctx, inputs, pending_only=True)
        common.choice(inputs, "action", ACTIONS, "accept", "Action", required=True)
        if ctx.params.get("action") not in (None, *ACTIONS):
            common.block(inputs, f"Action must be one of {', '.join(ACTIONS)}.")
        return types.Property(inputs, view=types.View(label="LabelLoop: accept or revert CVAT corrections"))

    def execute(self, ctx):
        key = ctx.params.get("review") or records.review_keys(ctx.dataset, pending_only=True)[0]
        action = finish.accept if ctx.params.get("action", "accept") == "accept" else finish.revert
        result = action(ctx.dataset, key)
        ctx.ops.reload_dataset()
        return result

    def __call__(self, sample_collection, review=None, action="accept"):
        """Accepts or reverts the loaded corrections of review ``review``."""
        return common.execute_from_sdk(self, sample_collection, {"review": review, "action": action})
