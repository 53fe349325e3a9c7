"""Synthetic detection data for model comparisons: ground truth plus a baseline and a candidate that differ.

Each prediction field is the ground truth seen by a model: some boxes missed, the rest jittered and scored, a few
relabelled, plus false positives. The candidate misses fewer objects and finds fewer false positives than the
baseline, but not on every sample, so a comparison has both fixes and regressions to find.
"""

import numpy as np

import fiftyone as fo

CLASSES = ("car", "person", "dog", "bicycle")
MODELS = {  # miss rate, relabel rate, false positives per image, box jitter
    "baseline": (0.30, 0.08, 1.0, 0.04),
    "candidate": (0.15, 0.04, 0.6, 0.02),
}


def build(name, count, objects=10, seed=0, crowd_rate=0.02):
    """A dataset of ``count`` samples with ``ground_truth``, ``baseline`` and ``candidate`` Detections."""
    rng = np.random.default_rng(seed)
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    samples = []
    for i in range(count):
        gt = _ground_truth(rng, int(rng.integers(0, 2 * objects + 1)), crowd_rate)
        fields = {role: _predictions(rng, gt, *params) for role, params in MODELS.items()}
        samples.append(fo.Sample(filepath=f"/synthetic/{i:06d}.png", ground_truth=_detections(gt), **fields))
    dataset.add_samples(samples, progress=False)
    return dataset


def _ground_truth(rng, n, crowd_rate):
    xy = rng.uniform(0, 0.8, (n, 2))
    wh = rng.uniform(0.05, 0.2, (n, 2))
    labels = rng.choice(CLASSES, n)
    crowd = rng.random(n) < crowd_rate
    return [(str(label), [*p, *s], None, bool(c)) for label, p, s, c in zip(labels, xy, wh, crowd, strict=True)]


def _predictions(rng, gt, miss, relabel, false_positives, jitter):
    found = []
    for label, box, _, _ in gt:
        if rng.random() < miss:
            continue
        if rng.random() < relabel:
            label = str(rng.choice([c for c in CLASSES if c != label]))
        moved = np.clip(np.asarray(box) + rng.normal(0, jitter * box[2], 4), 0, 0.95)
        moved[2:] = np.maximum(moved[2:], 0.01)
        found.append((label, moved.tolist(), float(rng.uniform(0.5, 1.0)), False))
    for _ in range(rng.poisson(false_positives)):
        box = [*rng.uniform(0, 0.8, 2), *rng.uniform(0.05, 0.2, 2)]
        found.append((str(rng.choice(CLASSES)), box, float(rng.uniform(0.05, 0.6)), False))
    return _detections(found)


def _detections(objects):
    detections = []
    for label, box, confidence, crowd in objects:
        detection = fo.Detection(label=label, bounding_box=[float(v) for v in box], confidence=confidence)
        if crowd:
            detection["iscrowd"] = True
        detections.append(detection)
    return fo.Detections(detections=detections)
