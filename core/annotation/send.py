"""Sending samples to CVAT for review, pre-populated with the model's labels.

One send is one suite run and one FiftyOne annotation run under the same key. The samples' ground truth (plus
confident predictions where it has nothing) goes as editable CVAT shapes or tags of the review field. Nothing is
left behind by a failed send: the tasks and project it created are deleted, the annotation run and the review
field removed, and the failure recorded on the run. The samples sent are fixed when the send starts; a send during
which some of them are deleted fails (CVAT's images would no longer match the labels uploaded for them). An upload
the server finds too large (413) is retried as smaller tasks.
"""

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import Any

import fiftyone as fo

from ..exceptions import CVATError, refuse
from ..store import runs, views
from ..store.fields import ACCEPTED_RUN, label_path, label_type
from . import review_field as cvat_review
from . import segmentation, shapes, skeletons
from .backend import ConnectedCVATBackendConfig
from .connection import CVATConnection, CVATSettings

logger = logging.getLogger(__name__)

SCHEMA_SOURCES = ("dataset", "project")
TOO_LARGE = 413
MAX_CLASS_NAME = 64  # characters: the longest label name CVAT stores


@dataclasses.dataclass
class SendRequest:
    """What goes to CVAT and how it is split and assigned."""

    gt_field: str
    pred_field: str | None = None
    threshold: float = 0.5
    iou: float = 0.5
    classes: list = dataclasses.field(default_factory=list)
    attributes: list = dataclasses.field(default_factory=list)
    schema_from: str = "dataset"
    project_name: str | None = None
    task_size: int | None = None
    segment_size: int | None = None
    task_assignee: str | None = None
    job_assignees: list = dataclasses.field(default_factory=list)
    image_quality: int = 75
    instance_shapes: str = "masks"
    """How people edit instance masks in CVAT: as ``masks`` (brush) or ``polygons`` (see ``shapes.INSTANCE_SHAPES``)."""

    def params(self) -> dict:
        """The request as a plain dict, as recorded with the run."""
        return dataclasses.asdict(self)


def check(samples: fo.core.collections.SampleCollection, request: SendRequest) -> list[str]:
    """Every problem with the request that can be seen without the server, as messages."""
    problems = views.problems(samples, "send_to_cvat", reads=[request.gt_field, request.pred_field])
    if problems:
        return problems
    dataset = samples._root_dataset
    if len(samples) == 0:
        problems.append("The selection is empty: select samples, a tag or a score rule that matches some.")
    gt_cls = label_type(dataset, request.gt_field)
    if gt_cls not in cvat_review.SUPPORTED:
        found = f"holds {gt_cls.__name__}" if gt_cls else "is not a label field of the dataset"
        problems.append(
            f"Field '{request.gt_field}' {found}: CVAT review supports Classification, Detections (boxes or "
            "instance masks) and Polylines fields, as well as Keypoints (points or skeletons) and Segmentation "
            "(semantic masks)."
        )
    if request.pred_field:
        pred_cls = label_type(dataset, request.pred_field)
        if pred_cls is None or (gt_cls in cvat_review.SUPPORTED and pred_cls is not gt_cls):
            found = pred_cls.__name__ if pred_cls else "no labels"
            problems.append(f"Predictions field '{request.pred_field}' holds {found}; it must match the ground truth.")
    if gt_cls is fo.Segmentation:
        problems += _check_mask_request(samples, request)
    elif gt_cls in cvat_review.SUPPORTED and request.attributes:
        unknown = sorted(set(request.attributes) - set(label_attributes(dataset, request.gt_field)))
        if unknown:
            known = ", ".join(label_attributes(dataset, request.gt_field)) or "none"
            problems.append(f"'{request.gt_field}' labels have no attribute {', '.join(unknown)} (they have: {known}).")
    problems += _check_numbers(request)
    if request.schema_from not in SCHEMA_SOURCES:
        problems.append(f"Label schema source must be one of {', '.join(SCHEMA_SOURCES)}.")
    elif request.schema_from == "project" and not request.project_name:
        problems.append("Name the CVAT project whose labels to use.")
    return problems or _check_class_names(samples, request) or _check_labels(samples, request, gt_cls)


def _check_labels(samples, request, gt_cls):
    if gt_cls is fo.Segmentation:
        return segmentation.problems(samples, filter(None, (request.gt_field, request.pred_field)))
    return shapes.problems(samples, request.gt_field, request.pred_field, request.threshold)


def _check_mask_request(samples, request):
    """A semantic mask's review: no attributes (its class regions carry none), and only classes with a pixel value."""
    problems = []
    if request.attributes:
        problems.append("A Segmentation field is reviewed as class regions, which carry no attributes: send none.")
    targets = segmentation.mask_targets(samples, request.gt_field)
    named = set(targets.values()) if targets else {name for name in request.classes if name.isdecimal()}
    unknown = sorted(set(request.classes) - named)
    if unknown:
        problems.append(
            f"Classes {', '.join(unknown)} have no pixel value in the mask targets of '{request.gt_field}': add them "
            "to dataset.mask_targets first."
        )
    return problems


def _check_class_names(samples, request):
    long_names = [name for name in _classes(samples, request) if len(name) > MAX_CLASS_NAME]
    if long_names:
        shown = ", ".join(f"'{name[:40]}...' ({len(name)} characters)" for name in long_names[:5])
        return [
            f"CVAT takes class names of at most {MAX_CLASS_NAME} characters; {len(long_names)} are longer: {shown}. "
            "Rename these classes first."
        ]
    return []


def _check_numbers(request):
    problems = []
    if not 0.0 <= request.threshold <= 1.0:
        problems.append(f"Confidence threshold {request.threshold} is outside [0, 1].")
    if not 0.0 < request.iou <= 1.0:
        problems.append(f"IoU {request.iou} is outside (0, 1].")
    for name in ("task_size", "segment_size"):
        value = getattr(request, name)
        if value is not None and value < 1:
            problems.append(f"{name.replace('_', ' ').capitalize()} must be at least 1 (or empty for one task).")
    if not 1 <= request.image_quality <= 100:
        problems.append("Image quality must be between 1 and 100.")
    if request.instance_shapes not in shapes.INSTANCE_SHAPES:
        problems.append(f"Instance masks are edited as one of {', '.join(shapes.INSTANCE_SHAPES)}.")
    return problems


def send(
    samples: fo.core.collections.SampleCollection,
    request: SendRequest,
    settings: CVATSettings,
    user: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> dict:
    """Sends ``samples`` for review; returns the run key (also the annotation key) and counts. ``progress(fraction,
    label)`` hears when the upload starts, when given."""
    refuse(check(samples, request))
    if progress:
        progress(0.0, f"Sending {len(samples)} samples to CVAT")
    connection = SendConnection(settings)
    instances = label_type(samples, request.gt_field) is fo.Detections  # a semantic mask's regions go as masks
    connection.instance_polygons = instances and request.instance_shapes == "polygons"
    if label_type(samples, request.gt_field) is fo.Keypoints:
        connection.skeleton = skeletons.skeleton_of(samples, request.gt_field)
    try:
        _check_server(connection, request)
        return _send(samples, request, connection, settings, user)
    finally:
        connection.close()


def _check_server(connection, request):
    unknown = connection.unknown_users([request.task_assignee, *request.job_assignees])
    if unknown:
        raise CVATError(f"CVAT has no user named {', '.join(map(repr, unknown))}: check the assignee names.")
    if request.schema_from == "project" and connection.get_project_id(request.project_name) is None:
        raise CVATError(f"CVAT has no project named '{request.project_name}' to take the label schema from.")


def _send(samples, request, connection, settings, user):
    dataset = samples._root_dataset
    ids = samples.values("id")
    sent = dataset.select(ids, ordered=True)  # FiftyOne reads the samples several times: always these, in order
    connection.sending = (sent, ids)
    key = runs.new_run_key("cvat")
    review_field = cvat_review.review_field_name(request.gt_field, key)
    params = {**request.params(), "review_field": review_field, "server": settings.public_url}
    key = runs.start_run(samples, "send_to_cvat", params=params, fields=[review_field], user=user, key=key)

    def taken_back(error: BaseException) -> CVATError | None:
        removed = _undo(dataset, key, review_field, connection)
        return CVATError(f"{error} Nothing was kept: {removed}.") if isinstance(error, CVATError) else None

    kind = shapes.cvat_label_type(samples, [name for name in (request.gt_field, request.pred_field) if name])
    with runs.recorded(samples, key, on_failure=taken_back) as run:
        counts = cvat_review.build(
            sent,
            request.gt_field,
            review_field,
            pred_field=request.pred_field,
            threshold=request.threshold,
            iou=request.iou,
            sent=shapes.SENT.get(kind),
        )
        results, task_size = _upload(sent, key, request, (review_field, kind), connection, settings)
        counts.update(samples=len(ids), tasks=len(results.task_ids), jobs=_count_jobs(results))
        run.counts = counts
    return {"run_key": key, "task_ids": list(results.task_ids), "task_size": task_size, **counts}


class SendConnection(CVATConnection):
    """A send's connection: before FiftyOne uploads the labels of a task, checks that none of the samples being
    sent (``sending``: the view of the fixed ids, and the ids) was deleted. FiftyOne reads the samples again for
    each step of a task, so after a deletion the labels would go to other samples' images (and labels on frames
    the task lacks make FiftyOne upload them again forever)."""

    sending: tuple[fo.DatasetView, list[str]] | None = None
    instance_polygons: bool = False
    skeleton: fo.KeypointSkeleton | None = None
    """Keypoints go as skeletons of this one (see ``skeletons``); None: as points."""
    _sublabels: dict | None = None

    def _create_detection_shapes(self, *args: Any, **kwargs: Any) -> tuple:
        """FiftyOne's shapes of a frame's detections; instance masks as polygons when ``instance_polygons`` (FiftyOne
        1.22.1 draws them so for servers before 2.3 only: the version it goes by is lowered while it draws)."""
        if not self.instance_polygons:
            return super()._create_detection_shapes(*args, **kwargs)
        version, self._server_version = self._server_version, shapes.POLYGON_SERVER_VERSION
        try:
            return super()._create_detection_shapes(*args, **kwargs)
        finally:
            self._server_version = version

    def _create_keypoint_shapes(self, keypoints: list[fo.Keypoint], *args: Any, **kwargs: Any) -> tuple:
        """FiftyOne's points shapes of the keypoints' finite points (it fails on a NaN; see ``shapes``), or with a
        skeleton, skeleton shapes of every point (a NaN one ``outside``)."""
        if self.skeleton is None:
            return super()._create_keypoint_shapes(shapes.finite_keypoints(keypoints), *args, **kwargs)
        hidden = {k.id: [not shapes.is_finite(p) for p in k.points] for k in keypoints}
        ids, made, tracks, remapped = super()._create_keypoint_shapes(
            shapes.placed_keypoints(keypoints), *args, **kwargs
        )
        names = skeletons.node_names(self.skeleton)
        made = [skeletons.as_skeleton(s, names, hidden[i]) for i, s in zip(ids, made, strict=True)]
        return ids, made, tracks, remapped

    def post(self, url: str, **kwargs: Any) -> Any:
        """Creates tasks' and projects' labels as skeleton labels when keypoints go as skeletons."""
        body = kwargs.get("json")
        if self.skeleton is not None and isinstance(body, dict) and body.get("labels"):
            kwargs["json"] = {**body, "labels": [skeletons.label_spec(lab, self.skeleton) for lab in body["labels"]]}
        return super().post(url, **kwargs)

    def _get_task_id_labels_json(self, task_json: dict) -> tuple:
        task_id, labels = super()._get_task_id_labels_json(task_json)
        self._sublabels = skeletons.sublabel_ids(labels)
        return task_id, labels

    def _upload_annotations(self, anno_shapes: list[dict], *args: Any, **kwargs: Any) -> dict:
        if self.sending:
            _check_not_deleted(*self.sending)
        if self._sublabels:
            skeletons.with_sublabel_ids(anno_shapes, self._sublabels)
        return super()._upload_annotations(anno_shapes, *args, **kwargs)


def _check_not_deleted(sent: fo.DatasetView, ids: list[str]) -> None:
    deleted = len(ids) - len(sent)
    if deleted:
        raise CVATError(
            f"{deleted} of the {len(ids)} samples were deleted while they were sent, so CVAT's images no longer "
            "matched their labels. Send the remaining samples again."
        )


def _upload(samples, key, request, review, connection, settings):
    """Annotates, retrying as smaller tasks while the server answers 413; returns the results and task size."""
    task_size = request.task_size or len(samples)
    while True:
        try:
            return _annotate(samples, key, request, review, connection, settings, task_size), task_size
        except CVATError as error:
            if _status(error) != TOO_LARGE or task_size == 1:
                raise
            _undo_upload(samples._root_dataset, key, connection)
            task_size = math.ceil(task_size / 2)
            logger.warning("CVAT refused the upload as too large; retrying with tasks of %d samples", task_size)


def _annotate(samples, key, request, review, connection, settings, task_size):
    """FiftyOne's ``annotate()`` of ``review`` = (the review field, its label type)."""
    schema = dict(zip(("label_field", "label_type"), review, strict=True))
    if request.schema_from == "dataset":
        schema.update(classes=_classes(samples, request), attributes=list(request.attributes) or False)
    return samples.annotate(
        key,
        backend=ConnectedCVATBackendConfig,
        connection=connection,
        url=settings.public_url,
        organization=settings.organization,
        project_name=request.project_name,
        task_name=f"labelloop_{key}",
        task_size=task_size,
        segment_size=request.segment_size,
        task_assignee=request.task_assignee,
        job_assignees=list(request.job_assignees) or None,
        image_quality=request.image_quality,
        **schema,
    )


def _classes(samples, request):
    """The classes CVAT offers: the ground truth's, the prefilled predictions' and any the user added (for masks:
    their classes)."""
    dataset = samples._root_dataset
    names = set(request.classes)
    fields = list(filter(None, (request.gt_field, request.pred_field)))
    if label_type(dataset, request.gt_field) is fo.Segmentation:
        return sorted(names | set(segmentation.classes(samples, fields)))
    for field in fields:
        names.update(dataset.distinct(f"{_label_path(dataset, field)}.label"))
    return sorted(name for name in names if name)


def label_attributes(dataset: fo.Dataset, field: str) -> list[str]:
    """The custom attributes declared on the labels of ``field`` (what people may edit in CVAT besides the class
    and the box), without the suite's markers and provenance."""
    label_cls = label_type(dataset, field)
    prefix = _label_path(dataset, field) + "."
    standard = set(label_cls._fields_ordered) | _STANDARD | _SUITE_ATTRIBUTES
    names = (path[len(prefix) :] for path in dataset.get_field_schema(flat=True) if path.startswith(prefix))
    return sorted(name for name in names if "." not in name and name not in standard)


def _label_path(dataset, field):
    return label_path(field, label_type(dataset, field))


def _undo(dataset, key, review_field, connection):
    """Removes everything a failed send created; says what."""
    removed = _undo_upload(dataset, key, connection)
    if dataset.has_field(review_field):
        dataset.delete_sample_field(review_field)
    tasks, projects = removed["tasks"], removed["projects"]
    return (
        f"the CVAT tasks {tasks} and projects {projects} it created were deleted"
        if tasks or projects
        else ("no CVAT task was created")
    )


def _undo_upload(dataset, key, connection):
    removed = connection.remove_created()
    if removed["tasks"] or removed["projects"]:
        logger.warning("Removed CVAT tasks %s, projects %s of a failed send", removed["tasks"], removed["projects"])
    if dataset.has_annotation_run(key):
        dataset.delete_annotation_run(key)
    return removed


def _status(error):
    return getattr(getattr(error, "response", None), "status_code", None)


def _count_jobs(results):
    return sum(len(ids) for ids in results.job_ids.values())


_SUITE_ATTRIBUTES = {
    *cvat_review.MODEL_MARKS,
    ACCEPTED_RUN,
    "accepted_from",
    "accepted_by",
    "accepted_at",
    "accepted_source_id",
}
_STANDARD = {*fo.Detection._fields_ordered, *fo.Polyline._fields_ordered, *fo.Keypoint._fields_ordered}
