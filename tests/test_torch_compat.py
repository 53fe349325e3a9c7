"""core.models.torch_compat: torchvision imports on CPU torch, and its nms is correct."""

import torch

from core.models.torch_compat import ensure_torchvision, nms


def test_torchvision_and_fiftyone_integrations_import():
    ensure_torchvision()
    ensure_torchvision()  # idempotent
    import torchvision  # noqa: F401

    import fiftyone.utils.torch  # noqa: F401
    import fiftyone.utils.transformers  # noqa: F401


def test_the_nms_op_has_a_working_cpu_kernel():
    ensure_torchvision()
    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], dtype=torch.float)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.95])
    assert torch.ops.torchvision.nms(boxes, scores, 0.5).tolist() == [3, 2]
    assert torch.ops.torchvision.nms(boxes, scores, 0.99).tolist() == [3, 0, 1, 2]


def test_nms_of_disjoint_and_empty_inputs():
    boxes = torch.tensor([[0, 0, 1, 1], [2, 2, 3, 3]], dtype=torch.float)
    assert nms(boxes, torch.tensor([0.1, 0.2]), 0.5).tolist() == [1, 0]
    assert nms(torch.zeros((0, 4)), torch.zeros(0), 0.5).tolist() == []
