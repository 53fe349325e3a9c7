"""``accept_prelabels``: promote confident predictions into ground truth, keeping every human label."""

import fiftyone as fo

from ..core.prelabel import accept
from ..core.store import fields as store_fields
from . import common

PARAM_TYPES = {"pred_field": common.STR, "gt_field": common.STR, "threshold": common.NUMBER, "tag": common.STR}


class AcceptPrelabels(common.LabelLoopOperator):
    """Commits the suggestions at or above a confidence threshold into a ground-truth field.

    Human labels are never replaced; each promoted label carries the key of the accept run, so deleting that run
    removes exactly the promoted labels.
    """

    name = "accept_prelabels"
    label = "Accept pre-labels"
    description = "Promote confident predictions into a ground-truth field"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        fields = store_fields.field_names(view, accept.SUPPORTED)
        common.choice(inputs, "pred_field", fields, None, "Predictions field", required=True)
        inputs.str("gt_field", default=store_fields.GROUND_TRUTH, label="Ground-truth field")
        inputs.float(
            "threshold", default=accept.DEFAULT_THRESHOLD, min=0.0, max=1.0, label="Accept at or above confidence"
        )
        inputs.str("tag", label="Only samples with this tag", description="e.g. reviewed; empty: all samples")
        if well_typed and ctx.params.get("pred_field"):
            common.block_all(inputs, accept.check(view, **_arguments(ctx.params)))

    def execute(self, ctx):
        result = accept.accept(ctx.target_view(), **_arguments(ctx.params), user=common.user(ctx))
        return common.finished(ctx, result, "Done")

    def resolve_output(self, ctx):
        return common.run_output(
            ctx,
            "Pre-labels accepted",
            [
                ("promoted", "Labels promoted"),
                ("kept_human", "Human labels kept"),
                ("skipped_invalid", "Invalid skipped"),
            ],
        )

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        pred_field: str,
        gt_field: str = store_fields.GROUND_TRUTH,
        threshold: float = accept.DEFAULT_THRESHOLD,
        tag: str | None = None,
        delegate: bool = False,
    ) -> dict | None:
        """Promotes the predictions of ``pred_field`` at or above ``threshold`` into ``gt_field``, keeping every
        human label.

        Args:
            sample_collection: the samples whose predictions to accept (a dataset or a view)
            pred_field: the field of the predictions: Classification, Segmentation (whole labels, set only where the
                ground truth is empty), Detections (with or without instance masks), Polylines or Keypoints (objects
                added next to the ground truth's)
            gt_field: the ground-truth field to write (default: ``store.fields.GROUND_TRUTH``)
            threshold: accept predictions with at least this confidence, in [0, 1] (default:
                ``prelabel.accept.DEFAULT_THRESHOLD``)
            tag: only samples with this tag (default: None, all samples)
            delegate: whether to queue a delegated operation instead of running now (default: False)

        Returns:
            a dict with the run key ``run_key`` and the counts ``samples``, ``promoted`` (labels written),
            ``kept_human`` (human labels left as they were) and ``skipped_invalid`` (labels that cannot be ground
            truth, see ``prelabel.accept``); None when delegated
        """
        params = {"pred_field": pred_field, "gt_field": gt_field, "threshold": threshold, "tag": tag}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _arguments(params):
    threshold = params.get("threshold")
    threshold = accept.DEFAULT_THRESHOLD if threshold is None else float(threshold)
    gt_field = params.get("gt_field") or store_fields.GROUND_TRUTH
    return {
        "pred_field": params.get("pred_field"),
        "gt_field": gt_field,
        "threshold": threshold,
        "tag": params.get("tag") or None,
    }
