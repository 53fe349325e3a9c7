"""``compute_uniqueness`` and ``find_near_duplicates``: from an embeddings field, or a model that writes it first."""

import fiftyone as fo
from fiftyone.operators import types

from ..core.models import tasks
from ..core.quality import embeddings
from ..core.quality import neighbors as near
from ..core.quality import uniqueness as U
from . import common, model_form
from .embeddings import add_field_choice

FIELD, MODEL = "field", "model"
SOURCE_PARAMS = {
    **model_form.MODEL_PARAMS,
    **dict.fromkeys(("embeddings_source", "embeddings_field", "neighbors"), common.STR),
}
"""The params both operators take: where the embeddings come from, and the neighbour search."""
SEARCH_HELP = (
    f"auto: exact below {near.APPROXIMATE_FROM:,} samples, an approximate faiss index from there (much faster at "
    "scale; it can miss some true nearest neighbours, most on structureless embeddings; distances stay exact)"
)


class _FromEmbeddings(common.LabelLoopOperator):
    """What both operators share: their params, the embeddings source at the top of the form (an embeddings field,
    or a model that writes it first) and the SDK entry point."""

    long_running = True

    def form(self, ctx, inputs, view, well_typed):
        add_embeddings_inputs(ctx, inputs, view)
        common.choice(inputs, "neighbors", near.METHODS, near.DEFAULT_METHOD, "Neighbour search", SEARCH_HELP)
        self.settings_form(ctx, inputs, view, well_typed)

    def settings_form(self, ctx, inputs, view, well_typed) -> None:
        """Adds the operator's own settings, and what blocks a run, below the embeddings source (see ``form``)."""

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        embeddings_field: str = embeddings.DEFAULT_FIELD,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Runs the operator on the embeddings of ``embeddings_field``, computing the missing ones first when a
        ``model`` is given.

        Args:
            sample_collection: the samples to compare with each other (a dataset or a view)
            embeddings_field: the vector field of the embeddings (default: ``quality.embeddings.DEFAULT_FIELD``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: for ``compute_uniqueness``: ``k``, the number of neighbours (default:
                ``quality.uniqueness.DEFAULT_K``), and ``output_field``, the float field to write (default:
                ``quality.uniqueness.DEFAULT_OUTPUT_FIELD``). For ``find_near_duplicates``: ``threshold``, the
                cosine distance at or below which samples are near duplicates, in [0, 2] (default:
                ``quality.uniqueness.DEFAULT_THRESHOLD``); ``duplicate_tag``, a tag for all but the first sample
                of each group, and ``member_tag``, a tag for every member (default: None, no tag). For both:
                ``model``, a model that first computes the missing embeddings into ``embeddings_field`` (default:
                None, the field must exist), with ``model_source``, ``zoo_kwargs`` (or ``zoo_name_or_path``),
                ``batch_size`` and ``device`` as for ``compute_embeddings``; ``neighbors``, the neighbour search,
                one of ``quality.neighbors.METHODS``: ``"exact"``, ``"approximate"`` (a faiss index) or ``"auto"``
                (exact below ``quality.neighbors.APPROXIMATE_FROM`` samples; the default)

        Returns:
            a dict with the run key ``run_key`` and the counts; for ``compute_uniqueness`` also the ``field``
            written (counts ``samples``, ``mean``, ``median``) and the ids of the ``most_unique`` samples, for
            ``find_near_duplicates`` the groups' sample ids ``group_ids`` (the largest groups; counts ``groups``,
            ``duplicates``, ...) and whether that list is ``truncated``; for both the search used,
            ``neighbors`` (``"exact"`` or ``"approximate"``); None when delegated
        """
        return common.execute_from_sdk(self, sample_collection, sdk_params(embeddings_field, options), delegate)


class ComputeUniqueness(_FromEmbeddings):
    """Scores how unique each sample is among its nearest neighbours in embedding space.

    Writes a float field in [0, 1]: sort by it to see the rarest samples first.
    """

    name = "compute_uniqueness"
    label = "Compute uniqueness"
    description = "Score each sample by its distance to its nearest neighbours"
    param_types = {**SOURCE_PARAMS, "k": common.INT, "output_field": common.STR}

    def settings_form(self, ctx, inputs, view, well_typed):
        inputs.int("k", default=U.DEFAULT_K, min=1, label="Neighbours (k)")
        inputs.str("output_field", default=U.DEFAULT_OUTPUT_FIELD, label="Uniqueness field")
        if well_typed:
            outputs = U.check_uniqueness_output(view, _output_field(ctx.params))
            common.block_all(inputs, problems(view, ctx.params, outputs, k=_k(ctx.params)))

    def execute(self, ctx):
        return _score(ctx, U.compute_uniqueness, k=_k(ctx.params), output_field=_output_field(ctx.params))

    def resolve_output(self, ctx):
        title = "Uniqueness written: sort by it in the App"
        return common.run_output(ctx, title, [("samples", "Samples scored")], [("mean", "Mean uniqueness")])


class FindNearDuplicates(_FromEmbeddings):
    """Groups samples whose embeddings are within a cosine distance of each other, and tags them.

    Writes each sample's group and how many others share it, so the App can filter by group.
    """

    name = "find_near_duplicates"
    label = "Find near duplicates"
    description = "Group samples with (nearly) the same embeddings"
    param_types = {**SOURCE_PARAMS, "threshold": common.NUMBER, "duplicate_tag": common.STR, "member_tag": common.STR}

    def settings_form(self, ctx, inputs, view, well_typed):
        inputs.float(
            "threshold",
            default=U.DEFAULT_THRESHOLD,
            min=0.0,
            max=2.0,
            label="Cosine distance threshold",
            description="Samples at this distance or closer are near duplicates (0.05: similarity >= 0.95)",
        )
        inputs.str("duplicate_tag", label="Tag all but one per group with", description="e.g. duplicate; empty: none")
        inputs.str("member_tag", label="Tag every group member with", description="e.g. near_duplicate; empty: none")
        if well_typed:
            outputs = U.check_duplicate_outputs(view)
            common.block_all(inputs, problems(view, ctx.params, outputs, threshold=_threshold(ctx.params)))

    def execute(self, ctx):
        tags = {name: ctx.params.get(name) or None for name in ("duplicate_tag", "member_tag")}
        return _score(ctx, U.find_near_duplicates, threshold=_threshold(ctx.params), **tags)

    def resolve_output(self, ctx):
        counts = [("groups", "Groups of near duplicates"), ("duplicates", "Samples beyond one per group")]
        return common.run_output(ctx, f"Groups written: filter by '{U.GROUP_FIELD}'", counts)


def add_embeddings_inputs(ctx, inputs, view):
    """The embeddings source: an existing vector field, or a model that writes the field first."""
    sources = types.RadioGroup()
    sources.add_choice(FIELD, label="An embeddings field")
    sources.add_choice(MODEL, label="Compute embeddings with a model first")
    inputs.enum("embeddings_source", sources.values(), default=FIELD, label="Embeddings", view=sources)
    if ctx.params.get("embeddings_source") == MODEL:
        model_form.add_model_inputs(ctx, inputs, [tasks.EMBEDDING])
        inputs.str("embeddings_field", default=embeddings.DEFAULT_FIELD, label="Write embeddings to")
        model_form.add_batch_inputs(inputs)
    else:
        add_field_choice(inputs, view, "Embeddings field", required=True, or_first=True)


def problems(view, params, outputs, k=None, threshold=None):
    """What blocks a run with ``params``: the settings and the ``outputs`` problems (result fields of another
    type), then the model request or the embeddings field."""
    found = U.check_settings(view, k, threshold, _neighbors(params)) + outputs
    if found:
        return found
    if params.get("embeddings_source") == MODEL:
        return model_form.problems(view, params, _embed_request) if params.get("model") else []
    return U.check(view, params["embeddings_field"]) if params.get("embeddings_field") else []


def _score(ctx, score, **settings):
    """Runs ``score`` (with ``settings``) on the embeddings field, computing the missing embeddings first when a
    model is given; reloads the dataset and returns the result."""
    view, params = ctx.target_view(), ctx.params
    if params.get("embeddings_source") == MODEL:
        request = _embed_request(params)
        field = embeddings.compute_missing(view, request, progress=common.progress_bar(ctx), user=common.user(ctx))
    else:
        field = _embeddings_field(params)
    neighbors = _neighbors(params)
    result = score(
        view, field, neighbors=neighbors, progress=common.progress_bar(ctx), user=common.user(ctx), **settings
    )
    return common.finished(ctx, result)


def sdk_params(embeddings_field, options):
    params = model_form.sdk_params({"embeddings_field": embeddings_field, **options})
    params["embeddings_source"] = MODEL if params.get("model") else FIELD
    return params


def _embed_request(params):
    unscored = {**params, "threshold": None}  # the near-duplicate threshold is no model threshold
    return model_form.request(unscored, output_field=_embeddings_field(params), task=tasks.EMBEDDING)


def _embeddings_field(params):
    return params.get("embeddings_field") or embeddings.DEFAULT_FIELD


def _neighbors(params):
    return params.get("neighbors") or near.DEFAULT_METHOD


def _output_field(params):
    return params.get("output_field") or U.DEFAULT_OUTPUT_FIELD


def _k(params):
    return int(params["k"]) if params.get("k") is not None else U.DEFAULT_K


def _threshold(params):
    return float(params["threshold"]) if params.get("threshold") is not None else U.DEFAULT_THRESHOLD
