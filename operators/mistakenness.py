"""``compute_mistakenness``: rank likely annotation mistakes, and flag possibly missing and spurious objects."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.quality import mistakenness
from . import common
from .compare import label_fields

REQUEST = mistakenness.MistakennessRequest
THRESHOLDS = (("iou", "IoU threshold (detections)"), ("confidence_thresh", "Possible-missing confidence"))
"""The [0, 1] thresholds of the form, as (param, label)."""
PARAM_TYPES = {
    **dict.fromkeys(("pred_field", "gt_field", "prefix"), common.STR),
    **dict.fromkeys(("iou", "confidence_thresh"), common.NUMBER),
    "classwise": common.BOOL,
    "classes": common.STR.described("a list or a comma-separated string of class names"),
}
EXPLANATION = (
    "Classification: mistakenness = 1 - p(ground-truth label) under the softmax of the prediction's logits "
    "(without logits: the confidence when the labels differ, else 1 - confidence). "
    "Detections: possible_missing flags confident predictions that overlap no ground truth; possible_spurious flags "
    "ground-truth objects that no prediction overlaps; an object's mistakenness is confidence x (1 - IoU) / "
    "(1 - threshold) when matched, the highest overlapping confidence when another class (or a duplicate) covers "
    "it; a sample's mistakenness is its highest object's."
)


class ComputeMistakenness(foo.Operator):
    """Scores how likely each ground-truth label is wrong, judged by a model's predictions."""

    @property
    def config(self):
        return common.operator_config(
            "compute_mistakenness", "Compute mistakenness", "Find likely label mistakes, missing and spurious objects"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        fields = label_fields(view)
        inputs.view("explanation", types.Notice(label=EXPLANATION))
        common.choice(inputs, "pred_field", fields, None, "Predictions field", required=True)
        common.choice(inputs, "gt_field", fields, common.if_offered(REQUEST.gt_field, fields), "Ground truth")
        for name, label in THRESHOLDS:
            inputs.float(name, default=getattr(REQUEST, name), min=0.0, max=1.0, label=label)
        inputs.bool("classwise", default=REQUEST.classwise, label="Match only objects of the same class (detections)")
        inputs.str(
            "classes",
            label="Classes of the logits",
            description="Comma-separated, in the model's output order; empty: the model's or the dataset's classes",
        )
        inputs.str(
            "prefix", default=REQUEST.prefix, label="Field prefix", description="e.g. v2_ writes v2_mistakenness"
        )
        if well_typed and ctx.params.get("pred_field"):
            req = request(ctx.params)
            if not common.block_all(inputs, mistakenness.check(view, req)):
                for i, note in enumerate(mistakenness.notes(view, req)):
                    inputs.view(f"note_{i}", types.Notice(label=note))
        return types.Property(inputs, view=types.View(label="LabelLoop: compute mistakenness"))

    def execute(self, ctx):
        result = mistakenness.compute(
            ctx.target_view(), request(ctx.params), progress=common.progress_bar(ctx), user=common.user(ctx)
        )
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        counts = [
            ("samples", "Samples scored"),
            ("possible_missing", "Possibly missing objects"),
            ("possible_spurious", "Possibly spurious objects"),
        ]
        return common.run_output("Mistakenness computed: sort by it in the grid", counts)

    def __call__(self, sample_collection, pred_field, gt_field=REQUEST.gt_field, delegate=False, **options):
        """Scores ``gt_field`` with ``pred_field``; returns the run key and counts. Options: prefix, iou,
        confidence_thresh, classwise, classes (a list or a comma-separated string)."""
        params = {"pred_field": pred_field, "gt_field": gt_field, **options}
        if isinstance(params.get("classes"), (list, tuple)):
            params["classes"] = ",".join(params["classes"])
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def request(params):
    """A ``MistakennessRequest`` from operator params."""
    values = {name: params[name] for name in ("iou", "confidence_thresh", "classwise") if params.get(name) is not None}
    classes = [c.strip() for c in (params.get("classes") or "").split(",") if c.strip()]
    return REQUEST(
        params.get("pred_field"),
        params.get("gt_field") or REQUEST.gt_field,
        prefix=params.get("prefix") or REQUEST.prefix,
        classes=classes or None,
        **values,
    )
