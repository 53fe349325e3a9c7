"""``accept_prelabels``: promote confident predictions into ground truth, keeping every human label."""

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.prelabel import accept
from ..core.store import fields as store_fields
from . import common

PARAM_TYPES = {"pred_field": common.STR, "gt_field": common.STR, "threshold": common.NUMBER, "tag": common.STR}


class AcceptPrelabels(foo.Operator):
    """Commits the suggestions at or above a confidence threshold into a ground-truth field."""

    @property
    def config(self):
        return common.operator_config(
            "accept_prelabels", "Accept pre-labels", "Promote confident predictions into a ground-truth field"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        fields = sorted(view.get_field_schema(embedded_doc_type=(fo.Classification, fo.Detections)))
        common.choice(inputs, "pred_field", fields, None, "Predictions field", required=True)
        inputs.str("gt_field", default=store_fields.GROUND_TRUTH, label="Ground-truth field")
        inputs.float(
            "threshold", default=accept.DEFAULT_THRESHOLD, min=0.0, max=1.0, label="Accept at or above confidence"
        )
        inputs.str("tag", label="Only samples with this tag", description="e.g. reviewed; empty: all samples")
        if well_typed and ctx.params.get("pred_field"):
            common.block_all(inputs, accept.check(view, *_arguments(ctx.params)))
        return types.Property(inputs, view=types.View(label="LabelLoop: accept pre-labels"))

    def execute(self, ctx):
        result = accept.accept(ctx.target_view(), *_arguments(ctx.params), user=common.user(ctx))
        ctx.set_progress(progress=1.0, label="Done")
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        return common.run_output(
            "Pre-labels accepted", [("promoted", "Labels promoted"), ("kept_human", "Human labels kept")]
        )

    def __call__(
        self,
        sample_collection,
        pred_field,
        gt_field=store_fields.GROUND_TRUTH,
        threshold=accept.DEFAULT_THRESHOLD,
        tag=None,
        delegate=False,
    ):
        """Promotes predictions of ``pred_field`` into ``gt_field``; returns the run key and counts."""
        params = {"pred_field": pred_field, "gt_field": gt_field, "threshold": threshold, "tag": tag}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _arguments(params):
    threshold = params.get("threshold")
    threshold = accept.DEFAULT_THRESHOLD if threshold is None else float(threshold)
    gt_field = params.get("gt_field") or store_fields.GROUND_TRUTH
    return params.get("pred_field"), gt_field, threshold, params.get("tag") or None
