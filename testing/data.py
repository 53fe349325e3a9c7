"""Real sample data built offline: scikit-learn's digits as PNG files and a synthetic shapes detection set."""

import os

import numpy as np
from PIL import Image, ImageDraw
from sklearn.datasets import load_digits

import fiftyone as fo

SHAPES = ("circle", "square", "triangle")
DIGIT_SIZE = 64


def build_digits(name, images_dir, limit=None, test_fraction=0.5, seed=0):
    """Writes scikit-learn's 8x8 digits (1,797) as PNGs and loads them with ``ground_truth`` labels.

    Each sample has ``split`` = "train" or "test" (a fixed-seed split) and ``digit_index`` into the source data.
    """
    digits = load_digits()
    count = len(digits.target) if limit is None else min(limit, len(digits.target))
    is_test = np.random.default_rng(seed).permutation(len(digits.target)) < test_fraction * len(digits.target)
    os.makedirs(images_dir, exist_ok=True)
    samples = []
    for i in range(count):
        path = os.path.join(images_dir, f"digit_{i:04d}.png")
        _digit_image(digits.images[i]).save(path)
        samples.append(
            fo.Sample(
                filepath=path,
                ground_truth=fo.Classification(label=str(digits.target[i])),
                split="test" if is_test[i] else "train",
                digit_index=i,
            )
        )
    return _new_dataset(name, samples)


def build_shapes(name, images_dir, count=300, size=128, seed=0):
    """Draws ``count`` images of 1-4 circles, squares and triangles on noisy gradients, with ground-truth boxes."""
    rng = np.random.default_rng(seed)
    os.makedirs(images_dir, exist_ok=True)
    samples = []
    for i in range(count):
        image, detections = _shapes_image(rng, size)
        path = os.path.join(images_dir, f"shapes_{i:04d}.png")
        image.save(path)
        samples.append(fo.Sample(filepath=path, ground_truth=fo.Detections(detections=detections)))
    return _new_dataset(name, samples)


def _new_dataset(name, samples):
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name, persistent=True)
    dataset.add_samples(samples, progress=False)
    dataset.compute_metadata(progress=False)
    return dataset


def _digit_image(pixels):
    gray = Image.fromarray((pixels * (255 / 16)).astype(np.uint8), mode="L")
    return gray.resize((DIGIT_SIZE, DIGIT_SIZE), Image.BILINEAR).convert("RGB")


def _shapes_image(rng, size):
    image = Image.fromarray(_background(rng, size))
    draw = ImageDraw.Draw(image)
    detections = []
    for _ in range(rng.integers(1, 5)):
        label = SHAPES[rng.integers(len(SHAPES))]
        side = int(rng.integers(size // 8, size // 3))
        x, y = (int(v) for v in rng.integers(0, size - side, 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        _draw_shape(draw, label, (x, y, x + side, y + side), colour)
        detections.append(fo.Detection(label=label, bounding_box=[x / size, y / size, side / size, side / size]))
    return image, detections


def _background(rng, size):
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0, 1, size)[None, :, None]
    gradient = start + (end - start) * ramp
    noisy = np.repeat(gradient, size, axis=0) + rng.normal(0, 12, (size, size, 3))
    return noisy.clip(0, 255).astype(np.uint8)


def _draw_shape(draw, label, box, colour):
    x0, y0, x1, y1 = box
    if label == "circle":
        draw.ellipse(box, fill=colour)
    elif label == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)


def add_simulated_predictions(dataset, seed=0):
    """Writes ``baseline`` and ``candidate`` Detections that simulate two detectors of different quality on the
    dataset's ``ground_truth`` boxes (see ``demo.synthetic``), for model comparisons on real images."""
    from . import synthetic

    rng = np.random.default_rng(seed)
    truth = [
        [(d.label, d.bounding_box, None, False) for d in (gt.detections if gt else [])]
        for gt in dataset.values("ground_truth")
    ]
    for role, params in synthetic.MODELS.items():
        dataset.set_values(
            role, [synthetic.to_detections(synthetic.predictions(rng, gt, *params, classes=SHAPES)) for gt in truth]
        )
