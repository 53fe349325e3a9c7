"""``compare_models``: per-sample diff of a candidate against a baseline, saved for the regression panel."""

import fiftyone as fo

from ..core.regression import compare as regression
from ..core.regression.defaults import default_settings, label_fields, replaced
from ..core.store.fields import GROUND_TRUTH
from . import common, matching_form

PARAM_TYPES = {
    **dict.fromkeys(("gt_field", "baseline_field", "candidate_field", "key"), common.STR),
    **dict.fromkeys(("iou", "iou_tolerance", "confidence_tolerance"), common.NUMBER),
    **dict.fromkeys(("classwise", "use_masks"), common.BOOL),
    "keypoint_sigmas": common.STR.described("a list or a comma-separated string of positive numbers"),
}


class CompareModels(common.LabelLoopOperator):
    """Finds, sample by sample, what a candidate model fixed and what it broke relative to the baseline.

    Writes the categories to fields prefixed with the comparison key and saves the counts with the run, for the
    Model regression panel.
    """

    name = "compare_models"
    long_running = True
    label = "Compare models"
    description = "What a candidate fixed and broke relative to a baseline"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        fields, defaults = label_fields(view), default_settings(view)
        common.choice(inputs, "gt_field", fields, defaults["gt_field"], "Ground truth")
        common.choice(
            inputs, "baseline_field", fields, defaults["baseline_field"], "Baseline predictions", required=True
        )
        common.choice(
            inputs, "candidate_field", fields, defaults["candidate_field"], "Candidate predictions", required=True
        )
        inputs.str("key", default=defaults["key"], label="Comparison key", description="Prefix of the result fields")
        common.warn(inputs, replaced(view, ctx.params.get("key") or defaults["key"]))
        for name, label in (
            ("iou", "IoU threshold"),
            ("iou_tolerance", "Localisation change tolerance (IoU)"),
            ("confidence_tolerance", "Confidence change tolerance"),
        ):
            inputs.float(name, default=defaults[name], min=0.0, max=1.0, label=label)
        inputs.bool(
            "classwise", default=regression.CompareRequest.classwise, label="Match only objects of the same class"
        )
        gt_field = ctx.params.get("gt_field") or defaults["gt_field"]
        matching_form.object_options(inputs, view, gt_field)
        params = matching_form.offered_params(ctx, view, gt_field)
        if well_typed and params.get("baseline_field") and params.get("candidate_field"):
            common.block_all(inputs, regression.check(view, regression.CompareRequest.from_params(params)))

    def execute(self, ctx):
        view = ctx.target_view()
        params = matching_form.offered_params(ctx, view, ctx.params.get("gt_field") or GROUND_TRUTH)
        request = regression.CompareRequest.from_params(params)
        result = regression.compare(view, request, progress=common.progress_bar(ctx), user=common.user(ctx))
        return common.finished(ctx, result)

    def resolve_output(self, ctx):
        counts = [("samples", "Samples compared"), ("regressed_samples", "Samples that regressed")]
        return common.run_output(ctx, "Comparison saved: open the Model regression panel", counts)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        baseline_field: str,
        candidate_field: str,
        gt_field: str = GROUND_TRUTH,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Compares, sample by sample, ``candidate_field`` with ``baseline_field`` against ``gt_field`` and saves
        the comparison for the Model regression panel.

        Args:
            sample_collection: the samples to compare on (a dataset or a view)
            baseline_field: the Classification, Detections, Polylines or Keypoints field of the baseline model's
                predictions
            candidate_field: the field of the candidate model's predictions, of the same type
            gt_field: the ground-truth field (default: ``store.fields.GROUND_TRUTH``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: ``key``, the comparison's name and the prefix of its result fields (default:
                ``CompareRequest.key``); ``iou``, the IoU at which a detection matches (default:
                ``CompareRequest.iou``); ``iou_tolerance``, the IoU change that counts as a localisation change
                (default: ``CompareRequest.iou_tolerance``); ``confidence_tolerance``, the confidence change that
                counts (default: ``CompareRequest.confidence_tolerance``); ``classwise``, whether only objects of
                the same class match (default: ``CompareRequest.classwise``); ``use_masks``, whether Detections
                match by their instance masks (default: when the ground truth has masks); ``keypoint_sigmas``, the
                per-point OKS sigmas of Keypoints, a list or a comma-separated string (default: 1 for every point)

        Returns:
            a dict with the run key ``run_key``, the comparison ``key`` and its counts (``samples``,
            ``regressed_samples``, ``overall`` and ``per_class`` by category); None when delegated
        """
        params = {"gt_field": gt_field, "baseline_field": baseline_field, "candidate_field": candidate_field, **options}
        matching_form.joined(params, (matching_form.SIGMAS,))
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)
