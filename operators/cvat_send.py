"""``send_to_cvat``: send the flagged samples to CVAT, pre-populated with the model's labels."""

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.annotation import selection as cvat_selection
from ..core.annotation import send as cvat_send
from ..core.store import fields as store_fields
from . import common, cvat_form

_LABEL_TYPES = (fo.Classification, fo.Detections)
_SCORE_TYPES = (fo.IntField, fo.FloatField)
REQUEST = cvat_send.SendRequest
_NAMES = common.STR.described("a list or a comma-separated string of names")
PARAM_TYPES = {
    **cvat_form.CONNECTION_PARAMS,
    **dict.fromkeys(("tag", "saved_view", "score_field", "gt_field", "pred_field", "schema_from"), common.STR),
    **dict.fromkeys(("project_name", "task_assignee"), common.STR),
    **dict.fromkeys(("min_score", "threshold", "iou"), common.NUMBER),
    **dict.fromkeys(("top_k", "task_size", "segment_size", "image_quality"), common.INT),
    "classes": _NAMES,
    "attributes": _NAMES,
    "job_assignees": _NAMES,
}


class SendToCVAT(foo.Operator):
    """Creates CVAT tasks for the selected samples so people correct the model's labels instead of drawing."""

    @property
    def config(self):
        return common.operator_config(
            "send_to_cvat", "Send to CVAT", "Send flagged samples to CVAT, pre-populated with predictions"
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view()
        dataset = ctx.dataset
        well_typed = common.check_types(inputs, ctx.params, PARAM_TYPES)
        label_fields = sorted(dataset.get_field_schema(embedded_doc_type=_LABEL_TYPES))
        default_gt = common.if_offered(store_fields.GROUND_TRUTH, label_fields)
        common.choice(inputs, "gt_field", label_fields, default_gt, "Field to correct (ground truth)", required=True)
        common.choice(inputs, "pred_field", label_fields, None, "Pre-populate from predictions", "empty: none")
        inputs.float(
            "threshold", default=REQUEST.threshold, min=0.0, max=1.0, label="Pre-populate at or above confidence"
        )
        inputs.float("iou", default=REQUEST.iou, min=0.0, max=1.0, label="Skip boxes overlapping ground truth at IoU")
        _selection_inputs(inputs, dataset)
        _task_inputs(inputs)
        cvat_form.add_connection_inputs(inputs)
        if well_typed and ctx.params.get("gt_field"):
            request, selection = _arguments(ctx.params)
            problems = cvat_selection.problems(view, selection)
            if not problems:
                problems = cvat_send.check(cvat_selection.apply(view, selection), request)
            common.block_all(inputs, problems)
        return types.Property(inputs, view=types.View(label="LabelLoop: send to CVAT"))

    def execute(self, ctx):
        request, selection = _arguments(ctx.params)
        samples = cvat_selection.apply(ctx.target_view(), selection)
        ctx.set_progress(progress=0.0, label=f"Sending {len(samples)} samples to CVAT")
        result = cvat_send.send(samples, request, cvat_form.settings(ctx), user=common.user(ctx))
        ctx.set_progress(progress=1.0, label="Sent")
        ctx.ops.reload_dataset()
        return result

    def resolve_output(self, ctx):
        numbers = [
            ("samples", "Samples sent"),
            ("tasks", "Tasks"),
            ("jobs", "Jobs"),
            ("gt_labels", "Ground-truth labels sent"),
            ("prefilled", "Predictions pre-populated"),
        ]
        return common.run_output("Sent to CVAT", numbers)

    def __call__(
        self, sample_collection, gt_field=store_fields.GROUND_TRUTH, pred_field=None, delegate=False, **options
    ):
        """Sends ``sample_collection`` to CVAT; ``options`` are the form's fields (``threshold``, ``tag``,
        ``saved_view``, ``score_field``, ``min_score``, ``top_k``, ``project_name``, ``schema_from``, ``classes``,
        ``attributes``,
        ``task_size``, ``segment_size``, ``task_assignee``, ``job_assignees``, ``image_quality``,
        ``organization``, ``verify_tls``). Returns the review's run key and counts."""
        params = {"gt_field": gt_field, "pred_field": pred_field, **options}
        for name in ("classes", "attributes", "job_assignees"):
            if isinstance(params.get(name), (list, tuple)):
                params[name] = ",".join(params[name])
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _selection_inputs(inputs, dataset):
    inputs.str("tag", label="Only samples with this tag", description="e.g. to_annotate; empty: all")
    common.choice(inputs, "saved_view", dataset.list_saved_views(), None, "Only samples of this saved view")
    scores = sorted(dataset.get_field_schema(ftype=_SCORE_TYPES))
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
    )
    return request, selection


def _number(params, name, default):
    value = params.get(name)
    return default if value is None else float(value)


def _names(text):
    return [name.strip() for name in (text or "").split(",") if name.strip()]
