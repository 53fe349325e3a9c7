"""What LabelLoop knows about a collection: its label fields and the suite's runs on it."""

from collections.abc import Callable, Sequence

import fiftyone as fo

from . import runs
from .fields import label_path


def problems(samples: fo.core.collections.SampleCollection) -> list[str]:
    """Why ``samples`` cannot be summarised (empty when they can)."""
    if len(samples) == 0:
        return ["The target view has no samples: choose the whole dataset or a non-empty view."]
    return []


def summarize(
    samples: fo.core.collections.SampleCollection, progress: Callable[[float, str], None] | None = None
) -> dict:
    """Summary of ``samples``: size, label fields with their label counts and writers, and the suite's runs.

    ``progress(fraction, label)`` is called as the work advances, when given.
    """
    report = progress or (lambda fraction, label: None)
    report(0.0, "Reading the label schema")
    suite_runs = runs.list_suite_runs(samples)
    report(0.3, "Counting labels")
    return {
        "dataset": samples._root_dataset.name,
        "num_samples": len(samples),
        "media_type": samples.media_type,
        "label_fields": label_fields(samples, suite_runs),
        "runs": suite_runs,
    }


def label_fields(samples: fo.core.collections.SampleCollection, suite_runs: Sequence[dict] = ()) -> list[dict]:
    """One dict per label field of ``samples``: name, label type, number of labels, suite runs that wrote it."""
    schema = samples.get_field_schema(embedded_doc_type=fo.Label)
    names = sorted(schema)
    paths = [label_path(name, schema[name].document_type) for name in names]
    counts = samples.aggregate([fo.Count(path) for path in paths]) if paths else []
    return [
        {
            "name": name,
            "type": schema[name].document_type.__name__,
            "num_labels": count,
            "written_by": [r["key"] for r in suite_runs if name in (r["fields"] or [])],
        }
        for name, count in zip(names, counts, strict=True)
    ]
