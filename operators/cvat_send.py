"""``send_to_cvat``: send the flagged samples to CVAT, pre-populated with the model's labels."""

import fiftyone as fo

from ..core.annotation import selection as cvat_selection
from ..core.annotation import send as cvat_send
from ..core.annotation import shapes as cvat_shapes
from ..core.store import fields as store_fields
from . import common, cvat_form

_LABEL_TYPES = (fo.Classification, fo.Detections, fo.Polylines, fo.Keypoints, fo.Segmentation)
_SCORE_TYPES = (fo.IntField, fo.FloatField)
REQUEST = cvat_send.SendRequest
_NAMES = common.STR.described("a list or a comma-separated string of names")
PARAM_TYPES = {
    **cvat_form.CONNECTION_PARAMS,
    **dict.fromkeys(
        (
            "tag",
            "saved_view",
            "regressed_in",
            "score_field",
            "gt_field",
            "pred_field",
            "schema_from",
            "instance_shapes",
        ),
        common.STR,
    ),
    **dict.fromkeys(("project_name", "task_assignee"), common.STR),
    **dict.fromkeys(("min_score", "threshold", "iou"), common.NUMBER),
    **dict.fromkeys(("top_k", "task_size", "segment_size", "image_quality"), common.INT),
    "classes": _NAMES,
    "attributes": _NAMES,
    "job_assignees": _NAMES,
}


class SendToCVAT(common.LabelLoopOperator):
    """Creates CVAT tasks for the selected samples so people correct the model's labels instead of drawing.

    The review is recorded as a run and as an annotation run of the same key, which ``load_from_cvat`` reads back.
    """

    name = "send_to_cvat"
    long_running = True
    label = "Send to CVAT"
    description = "Send flagged samples to CVAT, pre-populated with predictions"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        dataset = ctx.dataset
        problems = _problems(ctx.params, view) if well_typed and ctx.params.get("gt_field") else []
        cvat_form.warn_unless_configured(ctx, inputs, blocks=not problems)
        label_fields = store_fields.field_names(dataset, _LABEL_TYPES)
        default_gt = common.if_offered(store_fields.GROUND_TRUTH, label_fields)
        common.choice(inputs, "gt_field", label_fields, default_gt, "Field to correct (ground truth)", required=True)
        common.choice(inputs, "pred_field", label_fields, None, "Pre-populate from predictions", "empty: none")
        inputs.float(
            "threshold", default=REQUEST.threshold, min=0.0, max=1.0, label="Pre-populate at or above confidence"
        )
        inputs.float("iou", default=REQUEST.iou, min=0.0, max=1.0, label="Skip boxes overlapping ground truth at IoU")
        if store_fields.label_type(dataset, ctx.params.get("gt_field") or default_gt) is fo.Detections:
            shapes = cvat_shapes.INSTANCE_SHAPES
            common.choice(inputs, "instance_shapes", shapes, REQUEST.instance_shapes, "Edit instance masks as")
        _selection_inputs(inputs, dataset)
        _task_inputs(inputs)
        cvat_form.add_connection_inputs(inputs)
        common.block_all(inputs, problems)

    def execute(self, ctx):
        request, selection = _arguments(ctx.params)
        samples = cvat_selection.apply(ctx.target_view(), selection)
        settings, progress = cvat_form.settings(ctx), common.progress_reporter(ctx)
        result = cvat_send.send(samples, request, settings, user=common.user(ctx), progress=progress)
        return common.finished(ctx, result, "Sent")

    def resolve_output(self, ctx):
        numbers = [
            ("samples", "Samples sent"),
            ("tasks", "Tasks"),
            ("jobs", "Jobs"),
            ("gt_labels", "Ground-truth labels sent"),
            ("prefilled", "Predictions pre-populated"),
        ]
        return common.run_output(ctx, "Sent to CVAT", numbers)

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        gt_field: str = store_fields.GROUND_TRUTH,
        pred_field: str | None = None,
        delegate: bool = False,
        **options,
    ) -> dict | None:
        """Sends samples to CVAT for review: people correct ``gt_field``, pre-populated with the confident
        predictions of ``pred_field``. The server and login come from the ``FIFTYONE_CVAT_*`` secrets.

        Args:
            sample_collection: the samples to send (a dataset or a view), narrowed by the selection options below
            gt_field: the Classification, Detections (boxes, or instance masks edited as CVAT masks or polygons),
                Polylines (filled: CVAT polygons, open: polylines; one kind per review), Keypoints (CVAT points) or
                Segmentation (one CVAT mask per class, merged back per pixel) field to correct (default:
                ``store.fields.GROUND_TRUTH``)
            pred_field: the field of predictions to pre-populate from (default: None, no pre-population)
            delegate: whether to queue a delegated operation instead of running now (default: False)
            **options: the form's fields, each optional. Pre-population: ``threshold``, the minimum confidence
                (default: ``SendRequest.threshold``); ``iou``, skip predicted boxes overlapping the ground truth at
                this IoU (default: ``SendRequest.iou``); ``instance_shapes``, how instance masks are edited in CVAT,
                ``"masks"`` or ``"polygons"`` (default: ``SendRequest.instance_shapes``). Selection (default: all
                of ``sample_collection``):
                ``tag``, only samples with this tag; ``saved_view``, only samples of this saved view;
                ``regressed_in``, only samples that regressed in this model comparison (its key);
                ``score_field``, a numeric field that ranks the samples, with ``min_score``, its lowest value,
                and ``top_k``, how many of the highest to send. Tasks: ``schema_from``, the label schema from
                ``"dataset"`` or ``"project"`` (default: ``SendRequest.schema_from``); ``project_name``, the CVAT
                project (created if it does not exist; default: None); ``classes``, extra classes, and
                ``attributes``, label attributes to edit (each a list or a comma-separated string; default:
                none); ``task_size``, samples per task (default: None, one task); ``segment_size``, samples per
                job (default: CVAT's); ``task_assignee``, a CVAT username; ``job_assignees``, CVAT usernames, a
                list or a comma-separated string, assigned round robin; ``image_quality``, 1-100 (default:
                ``SendRequest.image_quality``). Connection: ``organization``, the CVAT organization (default:
                None, your personal workspace); ``verify_tls``, whether to verify the server's TLS certificate
                (default: ``CVATSettings.verify_tls``)

        Returns:
            a dict with the review's run key ``run_key`` (also its annotation key), the CVAT ``task_ids``, the
            ``task_size`` used and the counts (``samples``, ``tasks``, ``jobs``, ``gt_labels``, ``prefilled``);
            None when delegated
        """
        params = {"gt_field": gt_field, "pred_field": pred_field, **options}
        for name in ("classes", "attributes", "job_assignees"):
            if isinstance(params.get(name), (list, tuple)):
                params[name] = ",".join(params[name])
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _problems(params, view):
    """Why the send of ``params`` cannot run on ``view``, as messages."""
    request, selection = _arguments(params)
    problems = cvat_selection.problems(view, selection)
    return problems or cvat_send.check(cvat_selection.apply(view, selection), request)


def _selection_inputs(inputs, dataset):
    inputs.str("tag", label="Only samples with this tag", description="e.g. to_annotate; empty: all")
    common.choice(inputs, "saved_view", cvat_selection.saved_views(dataset), None, "Only samples of this saved view")
    comparisons = cvat_selection.comparison_keys(dataset)
    common.choice(inputs, "regressed_in", comparisons, None, "Only samples that regressed in comparison")
    scores = store_fields.field_names(dataset, ftype=_SCORE_TYPES)
    common.choice(inputs, "score_field", scores, None, "Score rule: field", "e.g. mistakenness, uniqueness")
    inputs.float("min_score", label="Score rule: at least")
    inputs.int("top_k", label="Score rule: only the top k")


def _task_inputs(inputs):
    common.choice(inputs, "schema_from", cvat_send.SCHEMA_SOURCES, REQUEST.schema_from, "Label schema from")
    inputs.str("project_name", label="CVAT project", description="created if it does not exist")
    inputs.str("classes", label="Extra classes", description="comma-separated, added to the dataset's")
    inputs.str("attributes", label="Label attributes to edit", description="comma-separated attribute names")
    inputs.int("task_size", min=1, label="Samples per task", description="empty: one task")
    inputs.int("segment_size", min=1, label="Samples per job")
    inputs.str("task_assignee", label="Task assignee (CVAT username)")
    inputs.str("job_assignees", label="Job assignees", description="CVAT usernames, comma-separated, round robin")
    inputs.int("image_quality", default=REQUEST.image_quality, min=1, max=100, label="Image quality")


def _arguments(params):
    selection = cvat_selection.Selection(
        tag=params.get("tag") or None,
        saved_view=params.get("saved_view") or None,
        regressed_in=params.get("regressed_in") or None,
        score_field=params.get("score_field") or None,
        min_score=params.get("min_score"),
        top_k=params.get("top_k"),
    )
    request = REQUEST(
        gt_field=params.get("gt_field"),
        pred_field=params.get("pred_field") or None,
        threshold=_number(params, "threshold", REQUEST.threshold),
        iou=_number(params, "iou", REQUEST.iou),
        classes=_names(params.get("classes")),
        attributes=_names(params.get("attributes")),
        schema_from=params.get("schema_from") or REQUEST.schema_from,
        project_name=params.get("project_name") or None,
        task_size=params.get("task_size"),
        segment_size=params.get("segment_size"),
        task_assignee=params.get("task_assignee") or None,
        job_assignees=_names(params.get("job_assignees")),
        image_quality=int(_number(params, "image_quality", REQUEST.image_quality)),
        instance_shapes=params.get("instance_shapes") or REQUEST.instance_shapes,
    )
    return request, selection


def _number(params, name, default):
    value = params.get(name)
    return default if value is None else float(value)


def _names(text):
    return [name.strip() for name in (text or "").split(",") if name.strip()]
