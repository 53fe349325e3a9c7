"""Makes the PyPI torchvision wheel importable on a CPU-only torch.

The torchvision wheel's compiled ops (``torchvision/_C.so``) are built against a CUDA torch and fail to load on
the CPU torch build; torchvision then dies at import while registering fake kernels for ``torchvision::nms`` and
``torchvision::qnms``, ops that do not exist. Here we define those two op schemas (with a pure-torch CPU ``nms``)
before torchvision is imported, but only when its compiled ops really cannot be loaded.
"""

import importlib.util
import os

import torch

_LIBRARY = None  # keeps the op definitions alive for the life of the process

_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)


def ensure_torchvision() -> None:
    """Prepares torch so that ``import torchvision`` works; safe to call many times."""
    global _LIBRARY
    if _LIBRARY is not None or _ops_defined() or _compiled_ops_load():
        return
    lib = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        lib.define(schema)
    lib.impl("nms", nms, "CPU")
    _LIBRARY = lib


def nms(dets: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression on ``[x1, y1, x2, y2]`` boxes; indices kept, by decreasing score."""
    order = scores.argsort(descending=True)
    boxes = dets[order]
    x1, y1, x2, y2 = boxes.unbind(1)
    areas = (x2 - x1).clamp(min=0) * (y2 - y1).clamp(min=0)
    ix1 = torch.maximum(x1[:, None], x1[None])
    iy1 = torch.maximum(y1[:, None], y1[None])
    ix2 = torch.minimum(x2[:, None], x2[None])
    iy2 = torch.minimum(y2[:, None], y2[None])
    inter = (ix2 - ix1).clamp(min=0) * (iy2 - iy1).clamp(min=0)
    iou = inter / (areas[:, None] + areas[None] - inter).clamp(min=1e-12)
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= iou[i] > iou_threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def _ops_defined():
    try:
        return torch.ops.torchvision.nms is not None
    except (AttributeError, RuntimeError):
        return False


def _compiled_ops_load():
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    path = os.path.join(spec.submodule_search_locations[0], "_C.so")
    try:
        torch.ops.load_library(path)
    except (OSError, RuntimeError):
        return False
    return True
