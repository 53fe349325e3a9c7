"""Every private FiftyOne API the suite relies on, in one table (checked by tests/test_fiftyone_private_api.py).

FiftyOne gives no stability promise for underscore names, so a FiftyOne upgrade may remove or change any of these
without notice; the test resolves each entry against the installed FiftyOne and names the API and the files that
use it when one is gone or has a different signature, and checks that each ``used_by`` file still names it. Add
an entry whenever code starts using another one.

Kinds and what the test checks:

* ``attribute``: the owner class has it (a property or a class attribute);
* ``instance attribute``: the source of the owner (or a FiftyOne base class) assigns ``self.<name>``;
* ``classattr``: the owner class has it with the value ``value`` (or any value when ``value`` is None);
* ``method``: we call it with the keyword/positional parameters ``params``: each is accepted, the others optional;
* ``kwarg``: a public method with a private keyword argument ``params`` (checked like ``method``);
* ``override``: we override it and FiftyOne calls our version: its parameters are exactly ``params``.

Not an attribute, so not in the table: ``CVATConnection._make_request`` must raise a ``requests`` ``HTTPError``
holding the response (FiftyOne's login and ``task_exists`` catch it and look at the status code), and the suite
reads and writes FiftyOne's stored documents directly (``_id`` of samples and labels, ``_cls``, ``_dataset_id``,
``_media_type``, ``_rand`` in testing/synthetic.py), which the test compares with what FiftyOne itself stores.
"""

from typing import Literal, NamedTuple

Kind = Literal["attribute", "instance attribute", "classattr", "method", "kwarg", "override"]


class PrivateAPI(NamedTuple):
    """One private FiftyOne name: ``owner`` (module.Class) provides ``name``; ``used_by`` are repository paths."""

    owner: str
    name: str
    kind: Kind
    used_by: tuple[str, ...]
    params: tuple[str, ...] = ()
    value: object = None

    @property
    def label(self) -> str:
        """``owner.name``, the API as the test reports it."""
        return f"{self.owner}.{self.name}"


PRIVATE_APIS = (
    PrivateAPI(
        "fiftyone.core.collections.SampleCollection",
        "_root_dataset",
        "attribute",
        (
            "core/annotation/merge.py",
            "core/annotation/review_field.py",
            "core/annotation/selection.py",
            "core/annotation/send.py",
            "core/prelabel/accept.py",
            "core/prelabel/run.py",
            "core/quality/embedding_map.py",
            "core/quality/mistakenness.py",
            "core/quality/uniqueness.py",
            "core/regression/compare.py",
            "core/regression/report.py",
            "core/store/admin.py",
            "core/store/declared.py",
            "core/store/info.py",
            "core/store/jobs.py",
            "core/store/lease.py",
            "core/store/runs.py",
            "core/store/schema.py",
            "core/store/views.py",
            "core/store/writes.py",
            "operators/common.py",
        ),
    ),
    PrivateAPI(
        "fiftyone.core.dataset.Dataset",
        "_sample_collection",
        "attribute",
        (
            "core/prelabel/accept.py",
            "core/regression/compare.py",
            "core/regression/report.py",
            "core/store/declared.py",
            "core/store/writes.py",
            "testing/synthetic.py",
        ),
    ),
    PrivateAPI(
        "fiftyone.core.dataset.Dataset",
        "_doc",
        "instance attribute",
        (
            "core/store/declared.py",
            "core/store/jobs.py",
            "core/store/lease.py",
            "core/store/schema.py",
            "testing/synthetic.py",
        ),
    ),
    PrivateAPI("fiftyone.core.dataset.Dataset", "_reload", "method", ("core/store/schema.py",)),
    PrivateAPI("fiftyone.core.dataset.Dataset", "_reload_docs", "method", ("core/store/schema.py",), ("hard",)),
    PrivateAPI("fiftyone.core.dataset.Dataset", "_sample_doc_cls", "instance attribute", ("core/store/schema.py",)),
    PrivateAPI("fiftyone.core.dataset.Dataset", "_frame_doc_cls", "instance attribute", ("core/store/schema.py",)),
    PrivateAPI("fiftyone.core.odm.sample.DatasetSampleDocument", "_fields", "attribute", ("core/store/schema.py",)),
    PrivateAPI(
        "fiftyone.core.odm.sample.DatasetSampleDocument", "_fields_ordered", "attribute", ("core/store/schema.py",)
    ),
    PrivateAPI(
        "fiftyone.operators.executor.ExecutionContext",
        "_delegated_operation_id",
        "instance attribute",
        ("operators/sharding.py",),
    ),
    PrivateAPI("fiftyone.core.collections.SampleCollection", "_pipeline", "method", ("core/regression/report.py",)),
    PrivateAPI("fiftyone.core.view.DatasetView", "_stages", "attribute", ("core/regression/report.py",)),
    PrivateAPI(
        "fiftyone.core.collections.SampleCollection",
        "values",
        "kwarg",
        ("core/annotation/review_field.py", "core/quality/embeddings.py"),
        params=("field_or_expr", "_raw"),
    ),
    PrivateAPI(
        "fiftyone.core.labels.Detections",
        "_LABEL_LIST_FIELD",
        "classattr",
        ("core/prelabel/mapping.py", "core/store/fields.py"),
        value="detections",
    ),
    PrivateAPI(
        "fiftyone.core.labels.Classifications",
        "_LABEL_LIST_FIELD",
        "classattr",
        ("core/prelabel/mapping.py", "core/store/fields.py"),
        value="classifications",
    ),
    PrivateAPI("fiftyone.core.labels.Detection", "_fields_ordered", "classattr", ("core/annotation/send.py",)),
    PrivateAPI(
        "fiftyone.utils.cvat.CVATAnnotationAPI",
        "_make_request",
        "override",
        ("core/annotation/connection.py",),
        params=("request_method", "url", "print_error_info", "kwargs"),
    ),
    PrivateAPI("fiftyone.utils.cvat.CVATBackend", "_connect_to_api", "override", ("core/annotation/backend.py",)),
    PrivateAPI(
        "fiftyone.utils.cvat.CVATAnnotationAPI",
        "_upload_annotations",
        "method",
        ("core/annotation/send.py",),  # wrapped: each task's labels go up only while no sent sample was deleted
        params=("anno_shapes", "anno_tags", "anno_tracks", "class_id_map", "attr_id_map", "task_id"),
    ),
    PrivateAPI(
        "fiftyone.utils.cvat.CVATAnnotationResults",
        "_forget_tasks",
        "method",
        ("core/annotation/load.py",),
        params=("task_ids",),
    ),
)
