"""``select_for_annotation``: an active-learning batch — uncertain for the model and diverse — tagged for CVAT."""

import fiftyone as fo

from ..core.quality import active_learning
from ..core.store import fields as store_fields
from . import common
from .embeddings import add_field_choice

PARAM_TYPES = {
    **dict.fromkeys(("pred_field", "strategy", "embeddings_field", "tag"), common.STR),
    "count": common.INT,
    "diversity": common.NUMBER,
}


class SelectForAnnotation(common.LabelLoopOperator):
    """Tags the samples the model is least sure about, spread out in embedding space.

    Samples that already carry the tag are never chosen again, so each run adds a new batch.
    """

    name = "select_for_annotation"
    label = "Select for annotation"
    description = "Tag an uncertain, diverse batch to annotate next"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        labels = store_fields.field_names(view, active_learning.SUPPORTED)
        common.choice(inputs, "pred_field", labels, None, "Predictions (with logits or confidences)", required=True)
        inputs.int("count", default=active_learning.DEFAULT_COUNT, min=1, label="Batch size")
        common.choice(inputs, "strategy", active_learning.STRATEGIES, active_learning.DEFAULT_STRATEGY, "Uncertainty")
        add_field_choice(inputs, view, "Embeddings for diversity (optional)")
        inputs.float("diversity", default=active_learning.DEFAULT_DIVERSITY, min=0.0, max=1.0, label="Diversity weight")
        inputs.str("tag", default=active_learning.DEFAULT_TAG, label="Tag for the chosen samples")
        if well_typed and ctx.params.get("pred_field"):
            common.block_all(inputs, active_learning.check(view, **_arguments(ctx.params)))

    def execute(self, ctx):
        arguments = _arguments(ctx.params)
        result = active_learning.select(ctx.target_view(), **arguments, user=common.user(ctx))
        ctx.ops.notify(f"Tagged {result['tagged']} samples '{arguments['tag']}' to annotate next", variant="success")
        return common.finished(ctx, result, "Done", samples_only=True)

    def resolve_output(self, ctx):
        title = f"Batch tagged '{_arguments(ctx.params)['tag']}': filter the grid by this sample tag"
        return common.run_output(ctx, title, [("tagged", "Samples tagged")], [("mean_uncertainty", "Mean uncertainty")])

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        pred_field: str,
        count: int = active_learning.DEFAULT_COUNT,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Tags an active-learning batch: the ``count`` samples the model is least sure about, spread out in
        embedding space.

        Args:
            sample_collection: the samples to choose from (a dataset or a view); samples that already have the tag
                are never chosen again
            pred_field: the Classification or Detections field of the predictions (with logits or confidences)
            count: how many samples to tag (default: ``quality.active_learning.DEFAULT_COUNT``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: ``strategy``, the uncertainty measure, one of ``quality.active_learning.STRATEGIES``
                (default: ``quality.active_learning.DEFAULT_STRATEGY``); ``embeddings_field``, a vector field
                that spreads the batch out (default: None, uncertainty alone); ``diversity``, the weight of that
                spread in [0, 1] (default: ``quality.active_learning.DEFAULT_DIVERSITY``); ``tag``, the tag of the
                chosen samples (default: ``quality.active_learning.DEFAULT_TAG``)

        Returns:
            a dict with the run key ``run_key``, the chosen sample ``ids``, ``tagged`` (how many) and
            ``mean_uncertainty``; None when delegated
        """
        params = {"pred_field": pred_field, "count": count, **options}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _arguments(params):
    diversity = params.get("diversity")
    return {
        "pred_field": params.get("pred_field"),
        "count": int(params.get("count") or active_learning.DEFAULT_COUNT),
        "strategy": params.get("strategy") or active_learning.DEFAULT_STRATEGY,
        "embeddings_field": params.get("embeddings_field") or None,
        "diversity": active_learning.DEFAULT_DIVERSITY if diversity is None else float(diversity),
        "tag": params.get("tag") or active_learning.DEFAULT_TAG,
    }
