"""``compare_models``: per-sample diff of a candidate against a baseline, saved for the regression panel."""

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.regression import compare as regression
from ..core.store import runs
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
        fields = label_fields(view)
        baseline, candidate = default_models(view)
        common.choice(inputs, "gt_field", fields, "ground_truth" if "ground_truth" in fields else None, "Ground truth")
        common.choice(inputs, "baseline_field", fields, baseline, "Baseline predictions", required=True)
        common.choice(inputs, "candidate_field", fields, candidate, "Candidate predictions", required=True)
        inputs.str("key", default="compare", label="Comparison key", description="Prefix of the result fields")
        inputs.float("iou", default=0.5, min=0.0, max=1.0, label="IoU threshold")
        inputs.float("iou_tolerance", default=0.1, min=0.0, max=1.0, label="Localisation change tolerance (IoU)")
        inputs.float("confidence_tolerance", default=0.2, min=0.0, max=1.0, label="Confidence change tolerance")
        inputs.bool("classwise", default=True, label="Match only objects of the same class")
        if well_typed and ctx.params.get("baseline_field") and ctx.params.get("candidate_field"):
            common.block_all(inputs, regression.check(view, request(ctx.params)))
        return types.Property(inputs, view=types.View(label="LabelLoop: compare models"))

    def execute(self, ctx):
        result = regression.compare(
            ctx.target_view(), request(ctx.params), progress=common.progress_bar(ctx), user=common.user(ctx)
        )
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        counts = [("samples", "Samples compared"), ("regressed_samples", "Samples that regressed")]
        return common.run_output("Comparison saved: open the Model regression panel", counts)

    def __call__(
        self, sample_collection, baseline_field, candidate_field, gt_field="ground_truth", delegate=False, **options
    ):
        """Compares ``candidate_field`` with ``baseline_field`` on ``gt_field``; returns the summary. Options: key,
        iou, iou_tolerance, confidence_tolerance, classwise."""
        params = {"gt_field": gt_field, "baseline_field": baseline_field, "candidate_field": candidate_field, **options}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def request(params):
    """A ``CompareRequest`` from operator params."""
    values = {
        name: params[name]
        for name in ("key", "iou", "iou_tolerance", "confidence_tolerance", "classwise")
        if params.get(name) is not None
    }
    return regression.CompareRequest(
        params.get("gt_field") or "ground_truth", params.get("baseline_field"), params.get("candidate_field"), **values
    )


def label_fields(samples):
    """The Detections and Classification fields of ``samples``."""
    return sorted(samples.get_field_schema(embedded_doc_type=(fo.Detections, fo.Classification)))


def default_models(samples):
    """(baseline, candidate) defaults: the fields of the two latest pre-labelling runs, older one first."""
    written = [r["fields"][0] for r in runs.list_suite_runs(samples) if r["kind"] == "prelabel" and r["fields"]]
    latest = list(dict.fromkeys(written))[:2]
    return (latest[1], latest[0]) if len(latest) == 2 else (None, None)
