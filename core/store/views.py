"""What the operators make of a view: the collections and fields they cannot work on yet, refused up front with
what to do instead (issue 15).

They write per sample id into the root dataset, so patches, frames and clips views (whose samples are not the
dataset's) and video are refused; a grouped dataset would silently be only its active slice, so it is refused
unless a flattened slice selection (``select_group_slices``) is targeted; a field the view hides
(``select_fields`` / ``exclude_fields``) or a frame-level field cannot be read or written.
"""

from collections.abc import Iterable

import fiftyone as fo
import fiftyone.core.media as fom
from fiftyone.core.clips import ClipsView
from fiftyone.core.patches import EvaluationPatchesView, PatchesView
from fiftyone.core.video import FramesView

Samples = fo.core.collections.SampleCollection
Fields = Iterable[str | None]
_VIEWS = (
    ((PatchesView, EvaluationPatchesView), "patches views (to_patches)", "target the images they come from"),
    (FramesView, "frames views (to_frames)", "clone the frames into an image dataset (view.clone()) and target it"),
    (ClipsView, "clips views (to_clips) or any video", "target an image dataset or view"),
)


def problems(samples: Samples, operator: str, reads: Fields = (), writes: Fields = ()) -> list[str]:
    """Why ``operator`` cannot run on ``samples`` reading the fields ``reads`` and writing ``writes`` (None
    and empty names are skipped; one message per top-level field), each with what to do instead; empty when it
    can."""
    refused = _collection_problem(samples, operator)
    return [refused] if refused else field_problems(samples, operator, reads, writes)


def field_problems(samples: Samples, operator: str, reads: Fields = (), writes: Fields = ()) -> list[str]:
    """The field problems of ``problems``: frame-level fields and fields that ``samples`` hide."""
    verbs = {}
    for verb, names in (("reads", reads), ("writes", writes)):
        for name in (n for n in names if isinstance(n, str) and n):
            verbs.setdefault(name.split(".", 1)[0], (name, verb))
    return [p for top, (name, verb) in verbs.items() if (p := _field_problem(samples, operator, top, name, verb))]


def _collection_problem(samples: Samples, operator: str) -> str | None:
    for kind, what, instead in _VIEWS:
        if isinstance(samples, kind):
            return f"{operator} does not support {what} yet: {instead}."
    if samples.media_type == fom.VIDEO:
        return f"{operator} does not support video yet: target an image dataset or view."
    if samples.media_type == fom.GROUP:
        return (
            f"{operator} would only see the active '{samples.group_slice}' slice of this grouped dataset: select the "
            "slices to run on with select_group_slices(...) and target that view."
        )
    return None


def _field_problem(samples: Samples, operator: str, top: str, name: str, verb: str) -> str | None:
    if top == "frames":
        return f"'{name}' is a frame-level field: {operator} does not support video frames yet."
    if samples._root_dataset.has_field(top) and not samples.has_field(top):
        return (
            f"The target view hides '{top}', which {operator} {verb}: include it in select_fields(...) or leave it "
            "out of exclude_fields(...)."
        )
    return None
