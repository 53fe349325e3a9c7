"""``compute_mistakenness``: rank likely annotation mistakes, and flag possibly missing and spurious objects."""

import fiftyone as fo
from fiftyone.operators import types

from ..core.quality import mistakenness
from ..core.regression.defaults import label_fields
from . import common, matching_form

REQUEST = mistakenness.MistakennessRequest
THRESHOLDS = (("iou", "IoU threshold (detections)"), ("confidence_thresh", "Possible-missing confidence"))
"""The [0, 1] thresholds of the form, as (param, label)."""
PARAM_TYPES = {
    **dict.fromkeys(("pred_field", "gt_field", "prefix"), common.STR),
    **dict.fromkeys(("iou", "confidence_thresh"), common.NUMBER),
    "classwise": common.BOOL,
    "classes": common.STR.described("a list or a comma-separated string of class names"),
    "scorer": common.STR.described(f"one of {', '.join(mistakenness.SCORERS)}"),
    "ensemble": common.STR.described("a list or a comma-separated string of prediction fields"),
    "use_masks": common.BOOL,
    matching_form.SIGMAS: common.STR.described("a list or a comma-separated string of positive numbers"),
}
NAMES = ("classes", "ensemble")
LISTS = (*NAMES, matching_form.SIGMAS)
"""The params given as a list or a comma-separated string."""
EXPLANATION = (
    "Classification: mistakenness = how likely the ground-truth label is wrong rather than its strongest rival "
    "class, given the prediction's logits, with the model's over- or under-confidence and the annotators' class "
    "confusions fitted on this data "
    "(scorer noise_aware; softmax: 1 - p(ground-truth label)); an ensemble averages several models. Without "
    "logits, from the confidence c of the predicted label: 1 - c when it agrees, else 1 - (1 - c) / (K - 1) over K "
    "classes, so every disagreement ranks above every agreement. "
    "Detections: possible_missing flags confident predictions that overlap no ground truth; possible_spurious flags "
    "ground-truth objects that no confident prediction matches; an object's mistakenness is confidence x (1 - IoU) / "
    "(1 - threshold) when matched, the highest overlapping confidence when another class (or a duplicate) covers "
    "it; a sample's mistakenness is its highest object's. Instance masks, polylines and keypoints are flagged the "
    "same way, matched by mask IoU, by their filled shapes (or vertices) and by OKS (with the keypoint sigmas)."
)


class ComputeMistakenness(common.LabelLoopOperator):
    """Scores how likely each ground-truth label is wrong, judged by a model's predictions.

    ``EXPLANATION`` says how the scores are computed; for detections it also flags possibly missing and possibly
    spurious objects.
    """

    name = "compute_mistakenness"
    long_running = True
    label = "Compute mistakenness"
    description = "Find likely label mistakes, missing and spurious objects"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        fields = label_fields(view)
        inputs.view("explanation", types.Notice(label=EXPLANATION))
        common.choice(inputs, "pred_field", fields, None, "Predictions field", required=True)
        common.choice(inputs, "gt_field", fields, common.if_offered(REQUEST.gt_field, fields), "Ground truth")
        for name, label in THRESHOLDS:
            inputs.float(name, default=getattr(REQUEST, name), min=0.0, max=1.0, label=label)
        inputs.bool("classwise", default=REQUEST.classwise, label="Match only objects of the same class (detections)")
        gt_field = ctx.params.get("gt_field") or common.if_offered(REQUEST.gt_field, fields)
        matching_form.object_options(inputs, view, gt_field)
        params = matching_form.offered_params(ctx, view, gt_field)
        inputs.str(
            "classes",
            label="Classes of the logits",
            description="Comma-separated, in the model's output order; empty: the model's or the dataset's classes",
        )
        common.choice(inputs, "scorer", list(mistakenness.SCORERS), REQUEST.scorer, "Scorer (classifications)")
        inputs.str(
            "ensemble",
            label="Ensemble with (classifications)",
            description="Comma-separated prediction fields of other models, e.g. baseline; empty: none",
        )
        inputs.str(
            "prefix", default=REQUEST.prefix, label="Field prefix", description="e.g. v2_ writes v2_mistakenness"
        )
        if well_typed and params.get("pred_field"):
            req = request(params)
            if not common.block_all(inputs, mistakenness.check(view, req)):
                for i, note in enumerate(mistakenness.notes(view, req)):
                    inputs.view(f"note_{i}", types.Notice(label=note))
                common.warn(inputs, _replaced(view, req))

    def execute(self, ctx):
        view = ctx.target_view()
        params = matching_form.offered_params(ctx, view, ctx.params.get("gt_field") or REQUEST.gt_field)
        result = mistakenness.compute(view, request(params), progress=common.progress_bar(ctx), user=common.user(ctx))
        return common.finished(ctx, result)

    def resolve_output(self, ctx):
        counts = [
            ("samples", "Samples scored"),
            ("possible_missing", "Possibly missing objects"),
            ("possible_spurious", "Possibly spurious objects"),
        ]
        return common.run_output(ctx, "Mistakenness computed: sort by it in the grid", counts)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        pred_field: str,
        gt_field: str = REQUEST.gt_field,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Scores how likely each ground-truth label is wrong, judged by a model's predictions, and for detections
        flags possibly missing and possibly spurious objects.

        Args:
            sample_collection: the samples to score (a dataset or a view)
            pred_field: the Classification, Detections, Polylines or Keypoints field of the predictions (logits,
                where stored, are used)
            gt_field: the ground-truth field to score, of the same type (default: ``MistakennessRequest.gt_field``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: ``prefix``, prepended to the result fields' names (default:
                ``MistakennessRequest.prefix``); ``iou``, the IoU at which detections match (default:
                ``MistakennessRequest.iou``); ``confidence_thresh``, the confidence from which an unmatched
                prediction flags a possibly missing object (default: ``MistakennessRequest.confidence_thresh``);
                ``classwise``, whether only objects of the same class match (default:
                ``MistakennessRequest.classwise``); ``classes``, the classes of the logits in the model's output
                order, a list or a comma-separated string (default: the model's or the dataset's classes);
                ``scorer`` of classifications, ``noise_aware`` or ``softmax`` (default:
                ``MistakennessRequest.scorer``); ``ensemble``, more Classification prediction fields whose models
                are averaged with ``pred_field``'s, a list or a comma-separated string (default: none);
                ``use_masks``, whether Detections match by their instance masks (default: when the ground truth
                has masks); ``keypoint_sigmas``, the per-point OKS sigmas of Keypoints, a list or a comma-separated
                string (default: 1 for every point)

        Returns:
            a dict with the run key ``run_key``, the ``classes`` of the logits (classifications) and the counts:
            ``samples``, and for detections ``possible_missing``, ``possible_spurious`` and ``scored_objects``;
            None when delegated
        """
        params = {"pred_field": pred_field, "gt_field": gt_field, **options}
        matching_form.joined(params, LISTS)
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _replaced(view, req):
    """What the run would replace: the fields of an earlier run with the same prefix."""
    existing = [
        req.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious") if view.has_field(req.name(w))
    ]
    if existing:
        return f"Replaces the existing fields {', '.join(existing)}: set another Field prefix to keep them."
    return None


def request(params):
    """A ``MistakennessRequest`` from operator params."""
    given = ("iou", "confidence_thresh", "classwise", "use_masks", matching_form.SIGMAS)
    values = {name: params[name] for name in given if params.get(name) is not None}
    classes, ensemble = ([c.strip() for c in (params.get(n) or "").split(",") if c.strip()] for n in NAMES)
    return REQUEST(
        params.get("pred_field"),
        params.get("gt_field") or REQUEST.gt_field,
        prefix=params.get("prefix") or REQUEST.prefix,
        classes=classes or None,
        scorer=params.get("scorer") or REQUEST.scorer,
        ensemble=ensemble or None,
        **values,
    )
