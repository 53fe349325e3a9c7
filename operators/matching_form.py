"""The form inputs of how objects match, shared by ``compare_models`` and ``compute_mistakenness``: instance masks
for Detections, OKS sigmas for Keypoints (shown for the ground truth's label type only)."""

import fiftyone as fo

from ..core.matching import kinds
from ..core.store.fields import label_type
from .progress import from_app

SIGMAS = "keypoint_sigmas"
OPTIONS = {fo.Detections: "use_masks", fo.Keypoints: SIGMAS}
"""The matching option the form offers for each ground-truth label type."""


def object_options(inputs, view, gt_field: str | None) -> None:
    """Adds ``use_masks`` when ``gt_field`` holds Detections (default: whether it has masks) and ``keypoint_sigmas``
    when it holds Keypoints."""
    found = _label_type(view, gt_field)
    if found is fo.Detections:
        inputs.bool(
            "use_masks",
            default=kinds.has_masks(view, gt_field),
            label="Match instance masks",
            description="Mask IoU as evaluate_detections(use_masks=True); off: box IoU",
        )
    elif found is fo.Keypoints:
        inputs.str(
            SIGMAS, label="Keypoint OKS sigmas", description="Comma-separated, one per point; empty: 1 for every point"
        )


def offered_params(ctx, view, gt_field: str | None) -> dict:
    """``ctx.params`` without the matching options the form does not offer for ``gt_field``'s label type, when the
    App sent them: a value the person gave (or the form defaulted) for another ground truth stays in the App's
    params after the form drops its input, and would block a run the person cannot unblock. The SDK's are kept,
    and checked."""
    if not from_app(ctx):
        return ctx.params
    found = _label_type(view, gt_field)
    return {k: v for k, v in ctx.params.items() if k not in OPTIONS.values() or OPTIONS.get(found) == k}


def _label_type(view, gt_field):
    return label_type(view, gt_field) if gt_field and view.has_field(gt_field) else None


def joined(params: dict, names) -> None:
    """Joins the list values of ``names`` in ``params`` into comma-separated strings, as the form gives them."""
    for name in names:
        if isinstance(params.get(name), (list, tuple)):
            params[name] = ",".join(str(v) for v in params[name])
