"""``select_for_annotation``: an active-learning batch — uncertain for the model and diverse — tagged for CVAT."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.quality import active_learning
from . import common
from .embeddings import add_field_choice

PARAM_TYPES = {
    **dict.fromkeys(("pred_field", "strategy", "embeddings_field", "tag"), common.STR),
    "count": common.INT,
    "diversity": common.NUMBER,
}


class SelectForAnnotation(foo.Operator):
    """Tags the samples the model is least sure about, spread out in embedding space."""

    @property
    def config(self):
        return common.operator_config(
            "select_for_annotation", "Select for annotation", "Tag an uncertain, diverse batch to annotate next"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        labels = sorted(view.get_field_schema(embedded_doc_type=active_learning.SUPPORTED))
        common.choice(inputs, "pred_field", labels, None, "Predictions (with logits or confidences)", required=True)
        inputs.int("count", default=active_learning.DEFAULT_COUNT, min=1, label="Batch size")
        common.choice(inputs, "strategy", active_learning.STRATEGIES, active_learning.DEFAULT_STRATEGY, "Uncertainty")
        add_field_choice(inputs, view, "Embeddings for diversity (optional)")
        inputs.float("diversity", default=active_learning.DEFAULT_DIVERSITY, min=0.0, max=1.0, label="Diversity weight")
        inputs.str("tag", default=active_learning.DEFAULT_TAG, label="Tag for the chosen samples")
        if well_typed and ctx.params.get("pred_field"):
            common.block_all(inputs, active_learning.check(view, **_arguments(ctx.params)))
        return types.Property(inputs, view=types.View(label="LabelLoop: select for annotation"))

    def execute(self, ctx):
        result = active_learning.select(ctx.target_view(), **_arguments(ctx.params), user=common.user(ctx))
        ctx.set_progress(progress=1.0, label="Done")
        ctx.ops.reload_samples()
        return result

    def __call__(self, sample_collection, pred_field, count=active_learning.DEFAULT_COUNT, delegate=False, **options):
        """Tags an active-learning batch of ``count`` samples; options: strategy, embeddings_field, diversity, tag."""
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
