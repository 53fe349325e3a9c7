"""``compute_embeddings``: an embeddings field from a zoo or transformers model (for uniqueness and maps)."""

import fiftyone as fo

from ..core.models import tasks
from ..core.quality import embeddings
from . import common, model_form

PARAM_TYPES = {
    **model_form.MODEL_PARAMS,
    "output_field": common.STR,
    "overwrite": common.BOOL,
    "num_shards": common.INT,
}


class ComputeEmbeddings(common.LabelLoopOperator):
    """Writes one embedding vector per sample, from the same model sources as pre-labelling.

    The vectors feed uniqueness, near duplicates, the embedding map and the diversity of active learning.
    """

    name = "compute_embeddings"
    long_running = True
    distributed = True
    label = "Compute embeddings"
    description = "Write an embeddings field with a zoo or Hugging Face model"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        has_model = model_form.add_model_inputs(ctx, inputs, [tasks.EMBEDDING])
        inputs.str("output_field", default=embeddings.DEFAULT_FIELD, label="Embeddings field")
        model_form.add_batch_inputs(inputs)
        inputs.bool(
            "overwrite", default=model_form.REQUEST.overwrite, label="Recompute samples that already have embeddings"
        )
        inputs.int("num_shards", default=1, min=1, label="Split into N delegated operations (scale-out)")
        if well_typed and has_model:
            common.block_all(inputs, model_form.problems(view, ctx.params, _request))

    def execute(self, ctx):
        return model_form.execute(self, ctx, _request)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        model: str,
        output_field: str = embeddings.DEFAULT_FIELD,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Writes one embedding vector per sample with a Hugging Face transformers or FiftyOne zoo model.

        Args:
            sample_collection: the samples to embed (a dataset or a view)
            model: a Hugging Face hub id or a local model directory, or a zoo model name with
                ``model_source="zoo"``
            output_field: the vector field to write (default: ``quality.embeddings.DEFAULT_FIELD``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: ``model_source``, ``"hf"`` or ``"zoo"`` (default: ``"hf"``); ``zoo_kwargs``, a dict of zoo
                model arguments, e.g. ``{"name_or_path": hub_id}`` for the *-transformer-torch entries, or that
                name alone as ``zoo_name_or_path`` (default: none); ``batch_size`` (default:
                ``PrelabelRequest.batch_size``); ``device`` (default: ``PrelabelRequest.device``); ``overwrite``,
                whether to recompute samples that already have embeddings (default: ``PrelabelRequest.overwrite``);
                ``num_shards``, split the work into this many delegated operations (default: 1, run it here)

        Returns:
            a dict with the run key ``run_key`` and the counts (``samples``, ``written``, ``skipped_existing``,
            ``failed_images`` and the first ``failures``); with ``num_shards`` above 1, the ``queued_shards``, their
            ``operation_ids``, ``id_ranges`` and ``job`` instead; None when delegated
        """
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
