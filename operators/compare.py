"""``compare_models``: per-sample diff of a candidate against a baseline, saved for the regression panel."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.regression import compare as regression
from ..core.regression.defaults import default_settings, label_fields
from ..core.store.fields import GROUND_TRUTH
from . import common

PARAM_TYPES = {
    **dict.fromkeys(("gt_field", "baseline_field", "candidate_field", "key"), common.STR),
    **dict.fromkeys(("iou", "iou_tolerance", "confidence_tolerance"), common.NUMBER),
    "classwise": common.BOOL,
}


class CompareModels(foo.Operator):
    """Finds, sample by sample, what a candidate model fixed and what it broke relative to the baseline."""

    @property
    def config(self):
        return common.operator_config(
            "compare_models", "Compare models", "What a candidate fixed and broke relative to a baseline"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        fields, defaults = label_fields(view), default_settings(view)
        common.choice(inputs, "gt_field", fields, defaults["gt_field"], "Ground truth")
        common.choice(
            inputs, "baseline_field", fields, defaults["baseline_field"], "Baseline predictions", required=True
        )
        common.choice(
            inputs, "candidate_field", fields, defaults["candidate_field"], "Candidate predictions", required=True
        )
        inputs.str("key", default=defaults["key"], label="Comparison key", description="Prefix of the result fields")
        for name, label in (
            ("iou", "IoU threshold"),
            ("iou_tolerance", "Localisation change tolerance (IoU)"),
            ("confidence_tolerance", "Confidence change tolerance"),
        ):
            inputs.float(name, default=defaults[name], min=0.0, max=1.0, label=label)
        inputs.bool(
            "classwise", default=regression.CompareRequest.classwise, label="Match only objects of the same class"
        )
        if well_typed and ctx.params.get("baseline_field") and ctx.params.get("candidate_field"):
            common.block_all(inputs, regression.check(view, regression.CompareRequest.from_params(ctx.params)))
        return types.Property(inputs, view=types.View(label="LabelLoop: compare models"))

    def execute(self, ctx):
        request = regression.CompareRequest.from_params(ctx.params)
        result = regression.compare(
            ctx.target_view(), request, progress=common.progress_bar(ctx), user=common.user(ctx)
        )
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        counts = [("samples", "Samples compared"), ("regressed_samples", "Samples that regressed")]
        return common.run_output("Comparison saved: open the Model regression panel", counts)

    def __call__(
        self, sample_collection, baseline_field, candidate_field, gt_field=GROUND_TRUTH, delegate=False, **options
    ):
        """Compares ``candidate_field`` with ``baseline_field`` on ``gt_field``; returns the summary. Options: key,
        iou, iou_tolerance, confidence_tolerance, classwise."""
        params = {"gt_field": gt_field, "baseline_field": baseline_field, "candidate_field": candidate_field, **options}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)
