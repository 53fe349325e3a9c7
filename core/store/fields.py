"""Label fields: where a field's labels sit, which labels a model wrote (provenance) and which a person did."""

import fiftyone as fo

GROUND_TRUTH = "ground_truth"  # the ground-truth field the operators default to
PROVENANCE_ATTRIBUTE = "model_version"
PRELABEL_RUN, ACCEPTED_RUN = "prelabel_run", "accepted_run"  # the attributes that carry the run key of a label
_NAMED_TYPES = (
    fo.Classification,
    fo.Classifications,
    fo.Detection,
    fo.Detections,
    fo.Polyline,
    fo.Polylines,
    fo.Keypoint,
    fo.Keypoints,
)
"""The label types whose labels carry a class name (``label``); semantic masks name theirs in mask targets."""
MAX_FIELD_NAME = 255  # characters; MongoDB stores any length, but such names break indexes and the App
MAX_KEY = 64  # characters of a key or prefix that names result fields (and their indexes)


def field_name_problems(name: str | None, what: str = "output field") -> list[str]:
    """Why ``name`` cannot be a new top-level field (empty, nested ``a.b``, ``$``, NUL, a leading ``_``,
    too long), as messages; [] when it can."""
    if not name or not name.strip():
        return [f"No {what} given: give a field name such as 'predictions'."]
    shown = name[:40].replace("\0", "\\0") + ("..." if len(name) > 40 else "")
    if len(name) > MAX_FIELD_NAME:
        return [f"The {what} name '{shown}' has {len(name)} characters: give at most {MAX_FIELD_NAME}."]
    if "." in name or "$" in name or "\0" in name or name.startswith("_"):
        return [
            f"'{shown}' cannot be an {what}: give a new top-level field name without '.', '$', NUL, or a leading '_', "
            "such as 'predictions'."
        ]
    return []


def key_problems(key: str, what: str) -> list[str]:
    """Why ``key`` (``what``: e.g. "Comparison key") cannot name result fields: not letters, digits and underscores,
    or longer than ``MAX_KEY``; [] when it can."""
    if not key.isidentifier():
        return [f"{what} '{key[:40]}' must be letters, digits and underscores."]
    if len(key) > MAX_KEY:
        return [f"{what} '{key[:40]}...' has {len(key)} characters: give at most {MAX_KEY}."]
    return []


def field_names(
    samples: fo.core.collections.SampleCollection,
    label_types: type[fo.Label] | tuple[type[fo.Label], ...] | None = None,
    ftype: type[fo.Field] | tuple[type[fo.Field], ...] | None = None,
) -> list[str]:
    """The sorted names of the fields of ``samples`` holding labels of ``label_types`` (a class or a tuple), or of
    FiftyOne field type(s) ``ftype`` (e.g. ``fo.FloatField``): what a form offers to pick from."""
    if label_types is not None:
        return sorted(samples.get_field_schema(embedded_doc_type=label_types))
    return sorted(samples.get_field_schema(ftype=ftype))


def label_type(samples: fo.core.collections.SampleCollection, field_name: str | None) -> type[fo.Label] | None:
    """The Label class a field holds, or None (no such field, or not a label field)."""
    field = samples.get_field(field_name) if field_name else None
    label_cls = getattr(field, "document_type", None)
    return label_cls if label_cls is not None and issubclass(label_cls, fo.Label) else None


def count_human_labels(dataset: fo.Dataset, field_name: str) -> int:
    """How many labels in ``field_name`` lack a model's provenance attribute (0 when the field does not exist)."""
    label_cls = label_type(dataset, field_name)
    if label_cls is None:
        return 0
    path = label_path(field_name, label_cls)
    total, stamped = dataset.aggregate([fo.Count(path), fo.Count(f"{path}.{PROVENANCE_ATTRIBUTE}")])
    return total - stamped


def model_versions(samples: fo.core.collections.SampleCollection, field_name: str) -> list[str]:
    """The model identities that the labels of ``field_name`` carry (empty for human labels or other fields)."""
    label_cls = label_type(samples, field_name)
    path = f"{label_path(field_name, label_cls)}.{PROVENANCE_ATTRIBUTE}" if label_cls else None
    return [v for v in samples.distinct(path) if v] if path and samples.has_field(path) else []


def count_run_labels(
    samples: fo.core.collections.SampleCollection, field_name: str, attribute: str, run_key: str
) -> int:
    """How many labels of ``field_name`` carry ``run_key`` in their ``attribute``."""
    path = label_path(field_name, label_type(samples, field_name))
    return samples.filter_labels(field_name, fo.ViewField(attribute) == run_key).count(path)


def remove_run_labels(
    samples: fo.core.collections.SampleCollection, field_name: str, attribute: str, run_key: str
) -> int:
    """Removes the labels of ``field_name`` that carry ``run_key`` in their ``attribute``, leaving every other
    label as it is; returns how many were removed."""
    path = label_path(field_name, label_type(samples, field_name))
    kept = samples.filter_labels(field_name, fo.ViewField(attribute) != run_key, only_matches=False)
    removed = samples.count(path) - kept.count(path)
    kept.save(field_name)
    return removed


def dataset_label_names(dataset: fo.Dataset, exclude: str | None = None) -> set[str]:
    """Every class name the dataset knows: its class lists, mask targets and the labels of its label fields."""
    names = set(dataset.default_classes or [])
    for classes in (dataset.classes or {}).values():
        names.update(classes)
    targets = [t for name, t in (dataset.mask_targets or {}).items() if name != exclude]
    for mask_targets in [*targets, dataset.default_mask_targets or {}]:
        names.update(mask_targets.values())
    schema = dataset.get_field_schema(embedded_doc_type=fo.Label)
    paths = [
        f"{label_path(name, field.document_type)}.label"
        for name, field in schema.items()
        if name != exclude and issubclass(field.document_type, _NAMED_TYPES)
    ]
    for values in dataset.aggregate([fo.Distinct(path) for path in paths]) if paths else []:
        names.update(v for v in values if v is not None)
    return names


def label_path(field_name: str, label_cls: type[fo.Label] | None) -> str:
    """The path of the individual labels of a field: ``f.detections`` for Detections, ``f`` for Classification."""
    list_field = getattr(label_cls, "_LABEL_LIST_FIELD", None)
    return f"{field_name}.{list_field}" if list_field else field_name
