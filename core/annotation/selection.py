"""Which samples go to CVAT: the target view narrowed by a tag, a saved view, a comparison's regressed samples, or
a score rule."""

import dataclasses
import math

import fiftyone as fo
from fiftyone import ViewField as F

from ..regression import report


@dataclasses.dataclass
class Selection:
    """Filters applied in order to the target view; all optional."""

    tag: str | None = None
    saved_view: str | None = None
    regressed_in: str | None = None
    """A comparison key: only the samples that regressed in it."""
    score_field: str | None = None
    min_score: float | None = None
    top_k: int | None = None


def saved_views(dataset: fo.Dataset) -> list[str]:
    """The names of the dataset's saved views, for a selection to pick from."""
    return dataset.list_saved_views()


def comparison_keys(dataset: fo.Dataset) -> list[str]:
    """The keys of the dataset's model comparisons, newest first, for a selection to pick from."""
    return [comparison["key"] for comparison in report.comparisons(dataset)]


def problems(samples: fo.core.collections.SampleCollection, selection: Selection) -> list[str]:
    """Every reason the selection cannot be applied, as messages."""
    dataset = samples._root_dataset
    found = []
    if selection.saved_view and not dataset.has_saved_view(selection.saved_view):
        views = ", ".join(saved_views(dataset)) or "none"
        found.append(f"No saved view '{selection.saved_view}' on this dataset (saved views: {views}).")
    if selection.regressed_in and selection.regressed_in not in comparison_keys(dataset):
        keys = ", ".join(comparison_keys(dataset)) or "none"
        found.append(f"No model comparison '{selection.regressed_in}' on this dataset (comparisons: {keys}).")
    if selection.score_field and not isinstance(dataset.get_field(selection.score_field), _NUMERIC):
        found.append(f"Score field '{selection.score_field}' is not a numeric sample field.")
    if (selection.min_score is not None or selection.top_k) and not selection.score_field:
        found.append("Choose the score field that the minimum score or top-k applies to.")
    if selection.min_score is not None and not math.isfinite(selection.min_score):
        found.append(f"The minimum score must be a finite number, not {selection.min_score}.")
    if selection.top_k is not None and not 1 <= selection.top_k < math.inf:
        found.append(f"Top-k must be a finite number of at least 1, not {selection.top_k}.")
    return found


def apply(samples: fo.core.collections.SampleCollection, selection: Selection) -> fo.core.collections.SampleCollection:
    """The samples of ``samples`` that the selection keeps."""
    view = samples
    if selection.tag:
        view = view.match_tags(selection.tag)
    if selection.saved_view:
        view = view.select(samples._root_dataset.load_saved_view(selection.saved_view).values("id"))
    if selection.regressed_in:
        view = report.regressed(view, selection.regressed_in)
    if selection.score_field and selection.min_score is not None:
        view = view.match(F(selection.score_field) >= selection.min_score)
    if selection.score_field and selection.top_k:
        view = view.sort_by(selection.score_field, reverse=True).limit(selection.top_k)
    return view


_NUMERIC = (fo.IntField, fo.FloatField)
