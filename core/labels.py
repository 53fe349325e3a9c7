"""Label-level rules of pre-labelling: class mapping, unknown labels, provenance, human-label detection."""

import numpy as np

import fiftyone as fo

PROVENANCE_ATTRIBUTE = "model_version"
PRELABEL_RUN, ACCEPTED_RUN = "prelabel_run", "accepted_run"  # the attributes that carry the run key of a label
_NAMED_TYPES = (fo.Classification, fo.Classifications, fo.Detection, fo.Detections, fo.Polyline, fo.Polylines)


class LabelMapper:
    """Renames model labels through ``class_map`` and applies the unknown-label policy against ``names``.

    ``names`` None means every label is known. ``dropped`` counts the labels dropped as unknown.
    """

    def __init__(self, class_map, policy, names):
        self.class_map, self.policy, self.names = dict(class_map or {}), policy, names
        self.dropped = 0

    def name(self, label):
        """The dataset name for model label ``label``, or None when it is dropped."""
        mapped = self.class_map.get(label, label)
        if self.names is None or mapped in self.names or self.policy == "keep":
            return mapped
        if self.policy == "error":
            raise ValueError(f"The model output label '{label}', which is neither in the dataset nor mapped.")
        self.dropped += 1
        return None


def finish(prediction, mapper, provenance):
    """``prediction`` with mapped names, unknown labels dropped, and ``provenance`` attributes on each label."""
    if prediction is None or isinstance(prediction, np.ndarray):
        return prediction
    if isinstance(prediction, fo.Classification):
        return _named(prediction, mapper, provenance)
    if isinstance(prediction, (fo.Classifications, fo.Detections)):
        field = prediction._LABEL_LIST_FIELD
        kept = [_named(label, mapper, provenance) for label in prediction[field]]
        prediction[field] = [label for label in kept if label is not None]
        return prediction
    return _stamped(prediction, provenance)


def count(value):
    """The number of labels in a written value (1 for a single label or an embedding, 0 for None)."""
    if value is None:
        return 0
    if isinstance(value, (fo.Classifications, fo.Detections)):
        return len(value[value._LABEL_LIST_FIELD])
    return 1


def label_type(samples, field_name):
    """The Label class a field holds, or None (no such field, or not a label field)."""
    field = samples.get_field(field_name) if field_name else None
    label_cls = getattr(field, "document_type", None)
    return label_cls if label_cls is not None and issubclass(label_cls, fo.Label) else None


def count_human_labels(dataset, field_name):
    """How many labels in ``field_name`` lack a model's provenance attribute (0 when the field does not exist)."""
    label_cls = label_type(dataset, field_name)
    if label_cls is None:
        return 0
    path = label_path(field_name, label_cls)
    total, stamped = dataset.aggregate([fo.Count(path), fo.Count(f"{path}.{PROVENANCE_ATTRIBUTE}")])
    return total - stamped


def model_versions(samples, field_name):
    """The model identities that the labels of ``field_name`` carry (empty for human labels or other fields)."""
    label_cls = label_type(samples, field_name)
    path = f"{label_path(field_name, label_cls)}.{PROVENANCE_ATTRIBUTE}" if label_cls else None
    return [v for v in samples.distinct(path) if v] if path and samples.has_field(path) else []


def count_run_labels(samples, field_name, attribute, run_key):
    """How many labels of ``field_name`` carry ``run_key`` in their ``attribute``."""
    path = label_path(field_name, label_type(samples, field_name))
    return samples.filter_labels(field_name, fo.ViewField(attribute) == run_key).count(path)


def remove_run_labels(samples, field_name, attribute, run_key):
    """Removes the labels of ``field_name`` that carry ``run_key`` in their ``attribute``, leaving every other
    label as it is; returns how many were removed."""
    path = label_path(field_name, label_type(samples, field_name))
    kept = samples.filter_labels(field_name, fo.ViewField(attribute) != run_key, only_matches=False)
    removed = samples.count(path) - kept.count(path)
    kept.save(field_name)
    return removed


def dataset_label_names(dataset, exclude=None):
    """Every class name the dataset knows: its class lists and the labels of its label fields."""
    names = set(dataset.default_classes or [])
    for classes in (dataset.classes or {}).values():
        names.update(classes)
    schema = dataset.get_field_schema(embedded_doc_type=fo.Label)
    paths = [
        f"{label_path(name, field.document_type)}.label"
        for name, field in schema.items()
        if name != exclude and issubclass(field.document_type, _NAMED_TYPES)
    ]
    for values in dataset.aggregate([fo.Distinct(path) for path in paths]) if paths else []:
        names.update(v for v in values if v is not None)
    return names


def unknown_label_errors(model_labels, class_map, names):
    """The error for model labels that are neither in ``names`` nor mapped onto them (empty when none)."""
    unknown = [label for label in model_labels if class_map.get(label, label) not in names]
    if not unknown:
        return []
    return [
        f"The model outputs labels that are neither in the dataset nor mapped: {', '.join(unknown[:30])}. "
        "Map them onto dataset names, or choose 'keep' or 'drop' for unknown labels."
    ]


def label_path(field_name, label_cls):
    """The path of the individual labels of a field: ``f.detections`` for Detections, ``f`` for Classification."""
    list_field = getattr(label_cls, "_LABEL_LIST_FIELD", None)
    return f"{field_name}.{list_field}" if list_field else field_name


def _named(label, mapper, provenance):
    name = mapper.name(label.label)
    if name is None:
        return None
    label.label = name
    return _stamped(label, provenance)


def _stamped(label, provenance):
    for key, value in provenance.items():
        label[key] = value
    return label
