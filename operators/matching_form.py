"""The form inputs of how objects match, shared by ``compare_models`` and ``compute_mistakenness``: instance masks
for Detections, OKS sigmas for Keypoints (shown for the ground truth's label type only)."""

import fiftyone as fo

from ..core.matching import kinds
from ..core.store.fields import label_type

SIGMAS = "keypoint_sigmas"


def object_options(inputs, view, gt_field: str | None) -> None:
    """Adds ``use_masks`` when ``gt_field`` holds Detections (default: whether it has masks) and ``keypoint_sigmas``
    when it holds Keypoints."""
    found = label_type(view, gt_field) if gt_field and view.has_field(gt_field) else None
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


def joined(params: dict, names) -> None:
    """Joins the list values of ``names`` in ``params`` into comma-separated strings, as the form gives them."""
    for name in names:
        if isinstance(params.get(name), (list, tuple)):
            params[name] = ",".join(str(v) for v in params[name])
