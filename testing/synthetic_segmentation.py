"""Synthetic semantic masks: ground truth of random shapes, predictions that differ from it, corrupted labels with
the regions that were corrupted, and per-pixel probabilities of a noisy model.

Masks are ``uint8`` with 0 the background and ``1..classes-1`` the classes (``TARGETS``). A model's probabilities
come from the true mask: its one-hot logits, blurred at the boundaries, plus spatially smooth noise (so a noisy model
errs in blobs, not in scattered pixels), through a softmax; ``(classes, height, width)`` float16.
"""

import os

import numpy as np
from scipy import ndimage

import fiftyone as fo

CLASSES = ("background", "road", "car", "person", "tree")
TARGETS = dict(enumerate(CLASSES))
SIZE = (48, 64)
CORRUPTIONS = ("painted", "erased", "shifted")
PROBABILITIES = "probabilities_path"


def truth(rng: np.random.Generator, size: tuple[int, int] = SIZE, shapes: int = 4, classes: int = len(CLASSES)):
    """A mask of ``shapes`` random rectangles and ellipses of random classes on the background."""
    mask = np.zeros(size, dtype=np.uint8)
    rows, cols = np.mgrid[: size[0], : size[1]]
    for _ in range(shapes):
        cy, cx = rng.integers(0, size[0]), rng.integers(0, size[1])
        ry, rx = rng.integers(size[0] // 10 + 2, size[0] // 3 + 3), rng.integers(size[1] // 10 + 2, size[1] // 3 + 3)
        if rng.random() < 0.5:
            inside = (np.abs(rows - cy) <= ry) & (np.abs(cols - cx) <= rx)
        else:
            inside = ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1
        mask[inside] = rng.integers(1, classes)
    return mask


def predicted(rng: np.random.Generator, mask: np.ndarray, blobs: int, classes: int = len(CLASSES)) -> np.ndarray:
    """``mask`` as a model sees it: ``blobs`` random blobs relabelled (any class, background included) and the
    boundaries moved by a pixel here and there."""
    out = mask.copy()
    for _ in range(blobs):
        out[_blob(rng, mask.shape)] = rng.integers(0, classes)
    edges = ndimage.morphological_gradient(mask, size=3) > 0
    jitter = edges & (rng.random(mask.shape) < 0.3)
    out[jitter] = ndimage.grey_dilation(mask, size=3)[jitter]
    return out


def _blob(rng, size, scale=0.12):
    rows, cols = np.mgrid[: size[0], : size[1]]
    cy, cx = rng.integers(0, size[0]), rng.integers(0, size[1])
    ry, rx = max(2, int(size[0] * scale * rng.uniform(0.5, 1.5))), max(2, int(size[1] * scale * rng.uniform(0.5, 1.5)))
    return ((rows - cy) / ry) ** 2 + ((cols - cx) / rx) ** 2 <= 1


def corrupt(rng: np.random.Generator, mask: np.ndarray, kind: str, classes: int = len(CLASSES)):
    """``(corrupted mask, corrupted region)``: ``painted`` (a blob painted with another class), ``erased`` (one
    object set to background), ``shifted`` (one object's boundary moved outwards by 2-3 pixels); the region is empty
    when there was nothing to corrupt."""
    out = mask.copy()
    if kind == "painted":
        region = _blob(rng, mask.shape, 0.18)
        other = (mask[region].astype(int) + rng.integers(1, classes)) % classes
        out[region] = other
    else:
        objects, count = ndimage.label(mask > 0)
        if not count:
            return out, np.zeros(mask.shape, dtype=bool)
        sizes = ndimage.sum_labels(np.ones_like(mask), objects, index=range(1, count + 1))
        picked = objects == 1 + int(np.argmax(sizes))
        value = int(np.bincount(mask[picked]).argmax())
        if kind == "erased":
            out[picked] = 0
        else:
            grown = ndimage.binary_dilation(picked, iterations=int(rng.integers(2, 4)))
            out[grown] = value
    return out, out != mask


def probabilities(rng: np.random.Generator, mask: np.ndarray, noise: float, classes: int = len(CLASSES)):
    """A noisy model's probabilities of the true ``mask`` (see the module docstring), ``noise``: the noise's scale
    relative to the logits' margin."""
    onehot = np.eye(classes, dtype=np.float32)[mask].transpose(2, 0, 1)
    logits = 4.0 * ndimage.gaussian_filter(onehot, sigma=(0, 1.0, 1.0))
    smooth = ndimage.gaussian_filter(rng.normal(size=logits.shape).astype(np.float32), sigma=(0, 3.0, 3.0))
    logits += noise * 4.0 * smooth / (smooth.std() + 1e-6)
    logits -= logits.max(axis=0, keepdims=True)
    probs = np.exp(logits)
    return (probs / probs.sum(axis=0, keepdims=True)).astype(np.float16)


def segmentation(mask: np.ndarray, directory: str | None = None, name: str = "", **attributes) -> fo.Segmentation:
    """A Segmentation of ``mask``: in the document, or (``directory``) as a PNG at ``<directory>/<name>.png``."""
    if directory is None:
        return fo.Segmentation(mask=mask, **attributes)
    path = os.path.join(directory, f"{name}.png")
    fo.Segmentation(mask=mask).export_mask(path)
    return fo.Segmentation(mask_path=path, **attributes)


def dataset(name: str, samples: list[fo.Sample], fields: tuple[str, ...]) -> fo.Dataset:
    """A new dataset ``name`` (replacing one of that name) of ``samples`` with ``TARGETS`` for ``fields``."""
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    result = fo.Dataset(name)
    result.add_samples(samples, progress=False)
    result.mask_targets = dict.fromkeys(fields, TARGETS)
    result.save()
    return result


def comparison(name: str, count: int, seed: int = 0, directory: str | None = None) -> fo.Dataset:
    """``count`` samples with ``ground_truth``, ``baseline`` and ``candidate`` Segmentations: the candidate errs in
    fewer blobs than the baseline on average, but not on every sample."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        gt = truth(rng)
        masks = {"ground_truth": gt, "baseline": predicted(rng, gt, 3), "candidate": predicted(rng, gt, 2)}
        fields = {f: segmentation(m, directory, f"{f}-{i}") for f, m in masks.items()}
        samples.append(fo.Sample(filepath=f"/synthetic/seg{i:06d}.png", **fields))
    return dataset(name, samples, ("ground_truth", "baseline", "candidate"))


def label_errors(name: str, count: int, directory: str, rate: float = 0.3, noise: float = 0.5, seed: int = 0):
    """``(dataset, corrupted)``: ``count`` samples whose ``ground_truth`` was corrupted on a share ``rate`` of them
    (each by one of ``CORRUPTIONS``) and whose ``predictions`` Segmentation is the noisy model's argmax, its
    probabilities in ``<directory>/<i>.npy`` (label attribute ``PROBABILITIES``); ``corrupted``: {sample filepath:
    (kind, region mask)}."""
    rng = np.random.default_rng(seed)
    samples, corrupted = [], {}
    for i in range(count):
        clean = truth(rng)
        gt = clean
        filepath = f"/synthetic/err{i:06d}.png"
        if rng.random() < rate:
            kind = CORRUPTIONS[i % len(CORRUPTIONS)]
            gt, region = corrupt(rng, clean, kind)
            if region.any():
                corrupted[filepath] = (kind, region)
        probs = probabilities(rng, clean, noise)
        path = os.path.join(directory, f"{i}.npy")
        np.save(path, probs)
        prediction = fo.Segmentation(mask=probs.argmax(axis=0).astype(np.uint8), **{PROBABILITIES: path})
        samples.append(fo.Sample(filepath=filepath, ground_truth=fo.Segmentation(mask=gt), predictions=prediction))
    return dataset(name, samples, ("ground_truth", "predictions")), corrupted
