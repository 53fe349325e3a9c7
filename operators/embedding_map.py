"""``compute_embedding_map``: UMAP / t-SNE / PCA of an embeddings field for the App's Embeddings panel."""

import fiftyone as fo
from fiftyone.operators import types

from ..core.quality import embedding_map, embeddings
from . import common
from .embeddings import add_field_choice

PARAM_TYPES = dict.fromkeys(("embeddings_field", "method", "brain_key"), common.STR)
SCALE_HELP = (
    f"PCA uses every sample; UMAP and t-SNE are fitted on at most {embedding_map.SAMPLE_SIZE:,} and place the others"
)


class ComputeEmbeddingMap(common.LabelLoopOperator):
    """Projects embeddings to 2-d and saves a visualization run (open the Embeddings panel, colour by any field).

    Samples without embeddings are left out of the map.
    """

    name = "compute_embedding_map"
    long_running = True
    label = "Compute embedding map"
    description = "UMAP, t-SNE or PCA of an embeddings field"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        add_field_choice(inputs, view, "Embeddings field", required=True)
        method = ctx.params.get("method") or embedding_map.DEFAULT_METHOD
        common.choice(inputs, "method", embedding_map.METHODS, embedding_map.DEFAULT_METHOD, "Method", SCALE_HELP)
        if method != "pca" and len(view) > embedding_map.SAMPLE_SIZE:
            inputs.view("sampled", types.Notice(label=embedding_map.SCALE_NOTE))
        inputs.str(
            "brain_key",
            default=embedding_map.DEFAULT_BRAIN_KEY,
            label="Brain key",
            description="Name of the map in the App",
        )
        inputs.view("hint", types.Notice(label="Open the Embeddings panel and colour the points by any field."))
        if well_typed and ctx.params.get("embeddings_field"):
            common.block_all(inputs, embedding_map.check(view, **_arguments(ctx.params)))

    def execute(self, ctx):
        ctx.set_progress(progress=0.0, label="Reducing the embeddings")
        result = embedding_map.compute(ctx.target_view(), **_arguments(ctx.params), user=common.user(ctx))
        return common.finished(ctx, result, "Done")

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        embeddings_field: str = embeddings.DEFAULT_FIELD,
        method: str = embedding_map.DEFAULT_METHOD,
        brain_key: str = embedding_map.DEFAULT_BRAIN_KEY,
        delegate: bool = False,
    ) -> dict | None:
        """Reduces an embeddings field to 2-d and saves it as a visualization run, for the App's Embeddings
        panel.

        Args:
            sample_collection: the samples to map (a dataset or a view)
            embeddings_field: the vector field of the embeddings (default: ``quality.embeddings.DEFAULT_FIELD``)
            method: one of ``quality.embedding_map.METHODS`` (default: ``quality.embedding_map.DEFAULT_METHOD``)
            brain_key: the name of the map in the App (default: ``quality.embedding_map.DEFAULT_BRAIN_KEY``)
            delegate: whether to queue a delegated operation instead of running now (default: False)

        Returns:
            a dict with the run key ``run_key``, the ``brain_key``, the ``method``, ``samples`` (mapped),
            ``skipped_without_embeddings`` and ``seconds``; None when delegated
        """
        params = {"embeddings_field": embeddings_field, "method": method, "brain_key": brain_key}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _arguments(params):
    method = params.get("method") or embedding_map.DEFAULT_METHOD
    brain_key = params.get("brain_key") or embedding_map.DEFAULT_BRAIN_KEY
    return {"embeddings_field": params.get("embeddings_field"), "method": method, "brain_key": brain_key}
