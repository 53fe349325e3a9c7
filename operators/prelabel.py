"""``prelabel``: apply a zoo or transformers model to the target view, with provenance, resume and scale-out."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.models import tasks
from ..core.prelabel import run as prelabel
from . import common, model_form

PRELABEL_TASKS = [t for t in tasks.TASKS if t != tasks.EMBEDDING]
REQUEST = prelabel.PrelabelRequest
PARAM_TYPES = {
    **model_form.MODEL_PARAMS,
    "output_field": common.STR,
    "threshold": common.NUMBER,
    "top_k": common.INT,
    "class_map": common.STR.described(
        "a class mapping: a dict or a string of comma-separated 'model_label:dataset_label' pairs"
    ),
    "unknown_labels": common.STR,
    **dict.fromkeys(("store_logits", "overwrite", "allow_human_labels"), common.BOOL),
    "num_shards": common.INT,
}


class Prelabel(foo.Operator):
    """Pre-labels samples so people correct instead of draw."""

    @property
    def config(self):
        return common.operator_config(
            "prelabel", "Pre-label with a model", "Apply a zoo or Hugging Face model and write its labels"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        has_model = model_form.add_model_inputs(ctx, inputs, PRELABEL_TASKS)
        inputs.str("output_field", default=REQUEST.output_field, label="Output field")
        inputs.float("threshold", default=REQUEST.threshold, min=0.0, max=1.0, label="Confidence threshold")
        inputs.int("top_k", default=REQUEST.top_k, min=1, label="Top-k (classification)")
        inputs.str("class_map", label="Class mapping", description="model_label:dataset_label, comma-separated")
        common.choice(
            inputs, "unknown_labels", prelabel.UNKNOWN_POLICIES, REQUEST.unknown_labels, "Unknown model labels"
        )
        model_form.add_batch_inputs(inputs)
        inputs.bool("store_logits", default=REQUEST.store_logits, label="Store logits (needed for mistakenness)")
        inputs.bool(
            "overwrite", default=REQUEST.overwrite, label="Recompute samples that already have the output field"
        )
        inputs.bool(
            "allow_human_labels",
            default=REQUEST.allow_human_labels,
            label="Allow writing into a field with human labels",
        )
        inputs.int("num_shards", default=1, min=1, label="Split into N delegated operations (scale-out)")
        if well_typed and has_model:
            common.block_all(inputs, model_form.problems(view, ctx.params))
        return types.Property(inputs, view=types.View(label="LabelLoop: pre-label with a model"))

    def execute(self, ctx):
        return model_form.execute(self, ctx)

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("run_key", label="Run")
        outputs.str("task", label="Task")
        for name, label in COUNT_FIELDS:
            outputs.int(name, label=label)
        outputs.list("failures", types.String(), label="Unreadable images (first 20)")
        return types.Property(outputs, view=types.View(label="Pre-labelling finished"))

    def __call__(self, sample_collection, model, output_field=REQUEST.output_field, delegate=False, **options):
        """Pre-labels ``sample_collection`` with ``model`` (hub id, local directory, or zoo name with
        ``model_source="zoo"``). Options: task, prompts, threshold, top_k, class_map, unknown_labels, batch_size,
        device, store_logits, overwrite, allow_human_labels, num_shards, zoo_kwargs. Returns the counts."""
        params = model_form.sdk_params({"model": model, "output_field": output_field, **options})
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


COUNT_FIELDS = (
    ("written", "Samples written"),
    ("labels", "Labels written"),
    ("skipped_existing", "Skipped (already labelled)"),
    ("failed_images", "Unreadable images"),
    ("dropped_unknown", "Dropped unknown labels"),
    ("queued_shards", "Queued shards"),
)
