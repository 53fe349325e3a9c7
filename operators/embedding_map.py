"""``compute_embedding_map``: UMAP / t-SNE / PCA of an embeddings field for the App's Embeddings panel."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.quality import embedding_map, embeddings
from . import common
from .embeddings import add_field_choice

PARAM_TYPES = dict.fromkeys(("embeddings_field", "method", "brain_key"), common.STR)


class ComputeEmbeddingMap(foo.Operator):
    """Projects embeddings to 2-d and saves a visualization run (open the Embeddings panel, colour by any field)."""

    @property
    def config(self):
        return common.operator_config(
            "compute_embedding_map", "Compute embedding map", "UMAP, t-SNE or PCA of an embeddings field"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        add_field_choice(inputs, view, "Embeddings field", required=True)
        common.choice(inputs, "method", embedding_map.METHODS, embedding_map.DEFAULT_METHOD, "Method")
        inputs.str(
            "brain_key",
            default=embedding_map.DEFAULT_BRAIN_KEY,
            label="Brain key",
            description="Name of the map in the App",
        )
        inputs.view("hint", types.Notice(label="Open the Embeddings panel and colour the points by any field."))
        if well_typed and ctx.params.get("embeddings_field"):
            common.block_all(inputs, embedding_map.check(view, *_arguments(ctx.params)))
        return types.Property(inputs, view=types.View(label="LabelLoop: compute embedding map"))

    def execute(self, ctx):
        ctx.set_progress(progress=0.0, label="Reducing the embeddings")
        result = embedding_map.compute(ctx.target_view(), *_arguments(ctx.params), user=common.user(ctx))
        ctx.set_progress(progress=1.0, label="Done")
        ctx.ops.reload_dataset()
        return result

    def __call__(
        self,
        sample_collection,
        embeddings_field=embeddings.DEFAULT_FIELD,
        method=embedding_map.DEFAULT_METHOD,
        brain_key=embedding_map.DEFAULT_BRAIN_KEY,
        delegate=False,
    ):
        """Saves a 2-d map of ``embeddings_field`` as visualization run ``brain_key``; returns counts."""
        params = {"embeddings_field": embeddings_field, "method": method, "brain_key": brain_key}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _arguments(params):
    method = params.get("method") or embedding_map.DEFAULT_METHOD
    return params.get("embeddings_field"), method, params.get("brain_key") or embedding_map.DEFAULT_BRAIN_KEY
