"""Synthetic detection data for model comparisons: ground truth plus a baseline and a candidate that differ.

Each prediction field is the ground truth seen by a model: some boxes missed, the rest jittered and scored, a few
relabelled, plus false positives. The candidate misses fewer objects and finds fewer false positives than the
baseline, but not on every sample, so a comparison has both fixes and regressions to find.
"""

import random
import time
from datetime import UTC, datetime

import numpy as np
from bson import ObjectId, encode
from bson.raw_bson import RawBSONDocument

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
        fields = {role: to_detections(predictions(rng, gt, *params)) for role, params in MODELS.items()}
        samples.append(fo.Sample(filepath=f"/synthetic/{i:06d}.png", ground_truth=to_detections(gt), **fields))
    dataset.add_samples(samples, progress=False)
    return dataset


def build_bulk(name, count, objects=10, seed=0, chunk=5000, crowd_rate=0.02):
    """The data of ``build`` (same seed, same values) inserted as raw sample documents, ``chunk`` at a time: about
    50x faster than ``build``."""
    rng = np.random.default_rng(seed)
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    dataset.media_type = "image"
    for field in ("ground_truth", *MODELS):
        dataset.add_sample_field(field, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
    dataset.add_sample_field("ground_truth.detections.iscrowd", fo.BooleanField)
    for start in range(0, count, chunk):
        now, stop = datetime.now(UTC), min(start + chunk, count)
        documents = [_document(rng, i, objects, crowd_rate, dataset._doc.id, now) for i in range(start, stop)]
        dataset._sample_collection.insert_many(documents, ordered=False)
    return dataset


def build_repeated(name, count, distinct=1000, objects=10, seed=0, chunk=5000, crowd_rate=0.02):
    """``count`` samples of the data of ``build_bulk``: its first ``distinct`` samples repeated with fresh sample and
    label ids and file paths, inserted as pre-encoded BSON (no per-object Python work: about 20x faster than
    ``build_bulk``, for datasets of a million samples)."""
    rng = np.random.default_rng(seed)
    dataset = build_bulk(name, 0)
    stamp = int(time.time()).to_bytes(4, "big")
    now, dataset_id = datetime.now(UTC), dataset._doc.id
    templates = [_template(rng, i, objects, crowd_rate, dataset_id, now, stamp) for i in range(min(distinct, count))]
    for start in range(0, count, chunk):
        copies = [_copy(*templates[i % len(templates)], i) for i in range(start, min(start + chunk, count))]
        dataset._sample_collection.insert_many(copies, ordered=False)
    return dataset


def shared(name: str, count: int) -> fo.Dataset:
    """The dataset ``name`` of ``count`` samples of ``build_repeated``, built when it does not exist with that many
    samples (so several benchmark processes build it once)."""
    if fo.dataset_exists(name):
        dataset = fo.load_dataset(name)
        if dataset.info.get("built") == count:
            return dataset
    dataset = build_repeated(name, count)
    dataset.info["built"] = count
    dataset.persistent = True  # FiftyOne deletes non-persistent datasets once their process is gone
    dataset.save()
    return dataset


PATH_DIGITS = 9


def _template(rng, i, objects, crowd_rate, dataset_id, now, stamp):
    """``(encoded sample, offsets of its ids, offset of its path's digits)``: ids are ``stamp``, 4 bytes that each
    copy sets to its index, and the id's position in the sample."""
    document = _document(rng, 0, objects, crowd_rate, dataset_id, now)
    document["filepath"] = f"/synthetic/{0:0{PATH_DIGITS}d}.png"
    labels = [d for role in ("ground_truth", *MODELS) for d in document[role]["detections"]]
    for k, item in enumerate([document, *labels]):
        item["_id"] = ObjectId(stamp + bytes(4) + k.to_bytes(4, "big"))
    encoded = encode(document)
    offsets = [encoded.index(item["_id"].binary) + 4 for item in [document, *labels]]
    return encoded, offsets, encoded.index(b"/synthetic/") + len("/synthetic/")


def _copy(encoded, offsets, path_at, i):
    """Copy ``i`` of an encoded template: its ids and file path made unique by ``i``."""
    copy, index = bytearray(encoded), i.to_bytes(4, "big")
    for offset in offsets:
        copy[offset : offset + 4] = index
    copy[path_at : path_at + PATH_DIGITS] = b"%0*d" % (PATH_DIGITS, i)
    return RawBSONDocument(bytes(copy))


def _document(rng, i, objects, crowd_rate, dataset_id, now):
    """One sample as FiftyOne stores it (``None`` fields such as ``metadata`` are left out, as FiftyOne does)."""
    gt = _ground_truth(rng, int(rng.integers(0, 2 * objects + 1)), crowd_rate)
    fields = {role: _raw_detections(predictions(rng, gt, *params)) for role, params in MODELS.items()}
    return raw_sample(i, dataset_id, now, {"ground_truth": _raw_detections(gt), **fields})


def raw_sample(i: int, dataset_id, now, fields: dict) -> dict:
    """Sample ``i`` as FiftyOne stores it, with the raw label ``fields``."""
    return {
        "_id": ObjectId(),
        "filepath": f"/synthetic/{i:06d}.png",
        "tags": [],
        "created_at": now,
        "last_modified_at": now,
        "_media_type": "image",
        "_rand": 0.999 + 0.001 * random.random(),  # FiftyOne's convention
        "_dataset_id": dataset_id,
        **fields,
    }


def _ground_truth(rng, n, crowd_rate):
    xy = rng.uniform(0, 0.8, (n, 2))
    wh = rng.uniform(0.05, 0.2, (n, 2))
    labels = rng.choice(CLASSES, n)
    crowd = rng.random(n) < crowd_rate
    return [(str(label), [*p, *s], None, bool(c)) for label, p, s, c in zip(labels, xy, wh, crowd, strict=True)]


def predictions(rng, gt, miss, relabel, false_positives, jitter, classes=CLASSES):
    """Detections a model with these error rates would make on ground-truth objects ``gt``."""
    found = []
    for label, box, _, _ in gt:
        if rng.random() < miss:
            continue
        if rng.random() < relabel:
            label = str(rng.choice([c for c in classes if c != label]))
        moved = np.clip(np.asarray(box) + rng.normal(0, jitter * box[2], 4), 0, 0.95)
        moved[2:] = np.maximum(moved[2:], 0.01)
        found.append((label, moved.tolist(), float(rng.uniform(0.5, 1.0)), False))
    for _ in range(rng.poisson(false_positives)):
        box = [*rng.uniform(0, 0.8, 2), *rng.uniform(0.05, 0.2, 2)]
        found.append((str(rng.choice(classes)), box, float(rng.uniform(0.05, 0.6)), False))
    return found


def to_detections(objects):
    """FiftyOne Detections of ``(label, box, confidence, crowd)`` tuples."""
    detections = []
    for label, box, confidence, crowd in objects:
        detection = fo.Detection(label=label, bounding_box=[float(v) for v in box], confidence=confidence)
        if crowd:
            detection["iscrowd"] = True
        detections.append(detection)
    return fo.Detections(detections=detections)


def _raw_detections(objects):
    """``to_detections`` as the stored document of a ``Detections`` (keys in FiftyOne's order)."""
    detections = []
    for label, box, confidence, crowd in objects:
        detection = {"_id": ObjectId(), "_cls": "Detection", "attributes": {}, "tags": [], "label": label}
        detection["bounding_box"] = [float(v) for v in box]
        if confidence is not None:
            detection["confidence"] = confidence
        if crowd:
            detection["iscrowd"] = True
        detections.append(detection)
    return {"_cls": "Detections", "detections": detections}
