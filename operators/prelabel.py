"""``prelabel``: apply a model (transformers, zoo, ONNX, an inference endpoint, any FiftyOne model) to the target
view, with provenance, resume and scale-out."""

import fiftyone as fo
import fiftyone.core.models as fom
from fiftyone.operators.executor import ExecutionError

from ..core.models import fiftyone_model, tasks
from ..core.models import source as models
from ..core.prelabel import run as prelabel
from ..core.store import fields as store_fields
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
    "prompt_field": common.STR,
    "tolerance": common.NUMBER,
    **dict.fromkeys(("store_logits", "overwrite", "allow_human_labels", "polygons"), common.BOOL),
    "num_shards": common.INT,
}


class Prelabel(common.LabelLoopOperator):
    """Pre-labels samples so people correct instead of draw.

    Writes the output field, each label stamped with the model and the run, and records the run; samples that
    already have the field are skipped, so a rerun resumes. With ``num_shards`` above 1 it queues one delegated
    operation per shard instead.
    """

    name = "prelabel"
    long_running = True
    distributed = True
    label = "Pre-label with a model"
    description = "Apply a model (Hugging Face, zoo, ONNX, an inference endpoint) and write its labels"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        has_model = model_form.add_model_inputs(ctx, inputs, PRELABEL_TASKS)
        inputs.str("output_field", default=REQUEST.output_field, label="Output field")
        _add_mask_inputs(ctx, inputs, view)
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
            common.block_all(inputs, model_form.problems(view, ctx.params, request, ctx=ctx))

    def execute(self, ctx):
        return model_form.execute(self, ctx, request)

    def resolve_output(self, ctx):
        strings = (("run_key", "Run"), ("task", "Task"))
        failures = (("failures", "Unreadable images (first 20)"),)
        title = "Shards queued" if (ctx.results or {}).get("queued_shards") else "Pre-labelling finished"
        return common.run_output(ctx, title, COUNT_FIELDS, strings=strings, lists=failures)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        model: "str | dict | fom.Model",
        output_field: str = REQUEST.output_field,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Pre-labels samples with a model, stamping each label with the model's identity and the run (resumable:
        samples that already have the output field are skipped).

        Args:
            sample_collection: the samples to pre-label (a dataset or a view)
            model: a Hugging Face hub id or a local model directory; a zoo model name with ``model_source="zoo"``;
                an ONNX file with ``model_source="onnx"``; the model name an endpoint serves with
                ``model_source="endpoint"`` and ``endpoint_url``; any ``fiftyone.core.models.Model`` object (runs
                here only: a delegated worker cannot rebuild an object), or a FiftyOne model config dict with
                ``model_source="fiftyone"`` (delegable)
            output_field: the label field to write (default: ``PrelabelRequest.output_field``)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: ``model_source``, one of ``models.source.KINDS`` (default: ``"hf"``; ``"fiftyone"`` for a
                model object); ``spec``, the pre/post-processing spec of an ONNX or endpoint model (a dict, JSON
                text or a .json path; default for ONNX: ``<model>.json`` beside the file); ``endpoint_url``,
                ``verify_tls`` (default: True), ``endpoint_timeout`` (seconds per request) and
                ``endpoint_retries`` of an endpoint (defaults: ``models.endpoint.EndpointSettings``; its token is
                the ``LABELLOOP_ENDPOINT_TOKEN`` plugin secret); ``zoo_kwargs``, a dict of zoo
                model arguments, e.g. ``{"name_or_path": hub_id}`` for the *-transformer-torch entries, or that
                name alone as ``zoo_name_or_path`` (default: none); ``task``, one of ``models.tasks.TASKS`` but
                the embedding task, or ``"auto"`` (default: ``PrelabelRequest.task``, from the model config);
                ``prompts``, the class prompts of a zero-shot task, a list or a comma-separated string;
                ``threshold``, the minimum confidence (default: ``PrelabelRequest.threshold``); ``top_k``,
                classes per classification (default: ``PrelabelRequest.top_k``); ``class_map``, model label to
                dataset label, a dict or a string of comma-separated ``model_label:dataset_label`` pairs (default:
                none); ``unknown_labels``, what to do with labels the dataset does not know, one of
                ``prelabel.run.UNKNOWN_POLICIES`` (default: ``PrelabelRequest.unknown_labels``); ``batch_size``
                (default: ``PrelabelRequest.batch_size``); ``device`` (default: ``PrelabelRequest.device``);
                ``store_logits`` (default: ``PrelabelRequest.store_logits``); ``prompt_field``, for masks or
                keypoints from boxes (task ``masks_from_boxes``, a SAM model, or ``keypoints_from_boxes``, a ViTPose
                model): the Detections field whose boxes prompt the model, each box's mask written onto a copy of
                the box, or one keypoint per box, in the output field (default: none);
                ``polygons``, whether instance masks are written as closed, filled polygons (``fo.Polylines``,
                default: ``PrelabelRequest.polygons``) and ``tolerance``, their approximation in pixels (default:
                ``PrelabelRequest.tolerance``); ``overwrite``, whether to recompute
                samples that already have the output field (default: ``PrelabelRequest.overwrite``);
                ``allow_human_labels``, whether to write into a field with human labels (default:
                ``PrelabelRequest.allow_human_labels``); ``num_shards``, split the work into this many delegated
                operations (default: 1, run it here)

        Returns:
            a dict with the run key ``run_key``, the ``task`` run and the counts (``samples``, ``written``,
            ``labels``, ``skipped_existing``, ``failed_images``, ``dropped_unknown``, and the first ``failures``);
            with ``num_shards`` above 1, the ``queued_shards``, their ``operation_ids``, ``id_ranges`` and ``job``
            instead; None when delegated
        """
        if isinstance(model, fom.Model):
            return self._call_with_object(sample_collection, model, output_field, delegate, options)
        if not isinstance(model, (str, dict)):
            raise ExecutionError(fiftyone_model.not_a_model(model))
        params = model_form.sdk_params({"model": model, "output_field": output_field, **options})
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)

    def _call_with_object(self, sample_collection, model, output_field, delegate, options):
        """Runs a model object here, through a handle that names it for this call only."""
        if delegate or (options.get("num_shards") or 1) > 1:
            raise ExecutionError(fiftyone_model.delegation_refusal(model))
        handle = fiftyone_model.register(model)
        try:
            params = {"model": handle, "output_field": output_field, **options, "model_source": models.FIFTYONE}
            return common.execute_from_sdk(self, sample_collection, model_form.sdk_params(params))
        finally:
            fiftyone_model.release(handle)


def _add_mask_inputs(ctx, inputs, view):
    """The instance mask options: the prompt boxes of masks from boxes, and polygons with their tolerance."""
    common.choice(
        inputs,
        "prompt_field",
        store_fields.field_names(view, fo.Detections),
        None,
        "Prompt boxes (masks or keypoints from boxes)",
        description="For a SAM or pose (ViTPose) model: the Detections field whose boxes prompt it (never changed)",
    )
    inputs.bool("polygons", default=REQUEST.polygons, label="Write instance masks as polygons")
    if ctx.params.get("polygons"):
        inputs.float("tolerance", default=REQUEST.tolerance, min=0.0, label="Polygon tolerance (pixels)")


def request(params) -> prelabel.PrelabelRequest:
    """The ``PrelabelRequest`` of the form's params, its mask options included."""
    given = {name: params.get(name) for name in MASK_OPTIONS}
    return model_form.request(params, **{name: v for name, v in given.items() if _given(v)})


def _given(value):
    """Whether a mask option was given (a tolerance of 0 is)."""
    return value not in (None, "") and value is not False


MASK_OPTIONS = ("prompt_field", "polygons", "tolerance")
"""The params that are ``PrelabelRequest`` mask options; one not given keeps the request's default."""


COUNT_FIELDS = (
    ("written", "Samples written"),
    ("labels", "Labels written"),
    ("skipped_existing", "Skipped (already labelled)"),
    ("failed_images", "Unreadable images"),
    ("dropped_unknown", "Dropped unknown labels"),
    ("queued_shards", "Queued shards"),
)
