"""``compute_embeddings``: an embeddings field from a zoo or transformers model (for uniqueness and maps)."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.models import tasks
from ..core.quality import embeddings
from . import common, model_form

PARAM_TYPES = {
    **model_form.MODEL_PARAMS,
    "output_field": common.STR,
    "overwrite": common.BOOL,
    "num_shards": common.INT,
}


class ComputeEmbeddings(foo.Operator):
    """Writes one embedding vector per sample, from the same model sources as pre-labelling."""

    @property
    def config(self):
        return common.operator_config(
            "compute_embeddings", "Compute embeddings", "Write an embeddings field with a zoo or Hugging Face model"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        has_model = model_form.add_model_inputs(ctx, inputs, [tasks.EMBEDDING])
        inputs.str("output_field", default=embeddings.DEFAULT_FIELD, label="Embeddings field")
        model_form.add_batch_inputs(inputs)
        inputs.bool(
            "overwrite", default=model_form.REQUEST.overwrite, label="Recompute samples that already have embeddings"
        )
        inputs.int("num_shards", default=1, min=1, label="Split into N delegated operations (scale-out)")
        if well_typed and has_model:
            common.block_all(inputs, model_form.problems(view, ctx.params, _request))
        return types.Property(inputs, view=types.View(label="LabelLoop: compute embeddings"))

    def execute(self, ctx):
        return model_form.execute(self, ctx, _request)

    def __call__(self, sample_collection, model, output_field=embeddings.DEFAULT_FIELD, delegate=False, **options):
        """Writes embeddings of ``model`` (hub id, local directory, or zoo name with ``model_source="zoo"``) to
        ``output_field``. Options: batch_size, device, overwrite, num_shards, zoo_kwargs. Returns the counts."""
        params = model_form.sdk_params({"model": model, "output_field": output_field, **options})
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _request(params):
    return model_form.request(
        params, output_field=params.get("output_field") or embeddings.DEFAULT_FIELD, task=tasks.EMBEDDING
    )


def add_field_choice(inputs, view, label, required=False, or_first=False) -> None:
    """A dropdown ``embeddings_field`` of the vector fields of ``view``. Default: the default embeddings field
    where ``view`` has it, else the first vector field with ``or_first``, else none."""
    fields = embeddings.vector_fields(view)
    default = common.if_offered(embeddings.DEFAULT_FIELD, fields)
    if or_first:
        default = default or next(iter(fields), None)
    common.choice(inputs, "embeddings_field", fields, default, label, required=required)
