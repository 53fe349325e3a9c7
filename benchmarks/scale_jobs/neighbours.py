"""Uniqueness + near duplicates at scale: 1M x 512-d (``--quick``: 50k) through our core functions, end to end.

Builds clustered 512-d vectors in bulk (1,000 clusters, each a centre plus a 16-d spread plus noise, fixed seed; 1%
of the samples are planted near duplicates of another sample, at cosine distance ~0.001), stored as FiftyOne stores
a ``VectorField``. Then, with the peak memory reset after the build: ``compute_uniqueness`` and
``find_near_duplicates`` with the default ``neighbors="auto"`` (reading the vectors from and writing the scores and
groups to the dataset), their wall time and the peak RSS of the process (``VmHWM``) over both. Then recall@10 of
the approximate neighbours vs exact search on the first 100k samples (quick: 10k), the share of planted duplicate
pairs found in one group, one active-learning diversity batch of 50 over all vectors, and fiftyone-brain's
``compute_uniqueness`` on 20k samples (quick: 5k) extrapolated linearly to the full size (brain's search is exact,
so its real time grows faster than linearly: the extrapolation flatters it).

``python benchmarks/scale_jobs/neighbours.py [--quick]`` runs it alone; last line ``RESULT scale_neighbours ...``.
"""

import os
import sys
import time
from datetime import UTC, datetime

BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if BENCHMARKS not in sys.path:
    sys.path.insert(0, BENCHMARKS)
import _setup  # noqa: E402  (starts the private mongod when run alone; already imported under scale.py)
import numpy as np  # noqa: E402
from _memory import reset_peak, status_mb  # noqa: E402
from bson import Binary, ObjectId  # noqa: E402

import fiftyone as fo  # noqa: E402
import fiftyone.core.utils as fou  # noqa: E402

from core.quality import active_learning, embeddings, neighbors  # noqa: E402
from core.quality import uniqueness as U  # noqa: E402

DIM, CLUSTERS, SPREAD, SEED = 512, 1000, 16, 0
PLANTED = 0.01  # share of samples that are near copies of another
CHUNK = 10_000
SIZES = {False: (1_000_000, 100_000, 20_000), True: (50_000, 10_000, 5_000)}  # samples, recall subset, brain subset
GOAL = "1M x 512-d: <= 600 s, peak <= 4096 MB, recall@10 >= 0.95"


def run(quick: bool) -> dict:
    """Builds the data, runs and measures the job; returns flat figures."""
    count, subset, brain_count = SIZES[quick]
    build_s, dataset = _setup.timed(lambda: build("scale-neighbours", count))
    print(f"built {count} x {DIM} in {build_s:.0f} s", flush=True)
    base_mb = status_mb("VmRSS")
    reset_peak()
    uniqueness_s, scored = _setup.timed(lambda: U.compute_uniqueness(dataset, "emb", progress=False))
    duplicates_s, grouped = _setup.timed(lambda: U.find_near_duplicates(dataset, "emb", progress=False))
    peak_mb = status_mb("VmHWM")
    print(f"uniqueness {uniqueness_s:.0f} s, near duplicates {duplicates_s:.0f} s, peak {peak_mb:.0f} MB", flush=True)
    figures = {
        "size": f"{count:,} x {DIM}-d",
        "goal": GOAL,
        "samples": count,
        "build_s": round(build_s, 1),
        "uniqueness_s": round(uniqueness_s, 1),
        "near_duplicates_s": round(duplicates_s, 1),
        "total_s": round(uniqueness_s + duplicates_s, 1),
        "peak_mb": round(peak_mb),
        "base_mb": round(base_mb),
        "neighbors": scored["neighbors"],
        "groups": grouped["groups"],
        "planted_found": round(planted_found(dataset), 4),
    }
    figures.update(recall(dataset, subset))
    figures.update(diversity_batch(dataset))
    figures.update(brain(dataset, brain_count, count))
    figures["met"] = bool(
        not quick and figures["total_s"] <= 600 and peak_mb <= 4096 and figures["recall_at_10"] >= 0.95
    )
    return figures


def vectors(rng, count, centres, bases):
    """``count`` clustered vectors: a random centre, plus its 16-d spread, plus isotropic noise."""
    labels = rng.integers(CLUSTERS, size=count)
    latent = rng.normal(size=(count, SPREAD)).astype(np.float32)
    spread = np.einsum("nl,nld->nd", latent, bases[labels])
    noise = rng.normal(scale=0.3, size=(count, DIM)).astype(np.float32)
    return centres[labels] + spread + noise


def build(name, count):
    """The dataset: ``emb`` (VectorField), ``index`` and ``copy_of`` (the sample a planted copy copies, else -1),
    inserted as raw documents ``CHUNK`` at a time."""
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    dataset = fo.Dataset(name)
    dataset.media_type = "image"
    dataset.add_sample_field("emb", fo.VectorField)
    dataset.add_sample_field("index", fo.IntField)
    dataset.add_sample_field("copy_of", fo.IntField)
    rng = np.random.default_rng(SEED)
    centres = rng.normal(size=(CLUSTERS, DIM)).astype(np.float32)
    bases = (rng.normal(size=(CLUSTERS, SPREAD, DIM)) * 0.6).astype(np.float32)
    for start in range(0, count, CHUNK):
        rows = vectors(rng, min(CHUNK, count - start), centres, bases)
        half, copy_of = len(rows) // 2, np.full(len(rows), -1)
        planted = half + np.flatnonzero(rng.random(len(rows) - half) < 2 * PLANTED)  # in the 2nd half of the chunk
        copy_of[planted] = start + rng.integers(0, half, size=len(planted))  # of a sample of the 1st half
        rows[planted] = rows[copy_of[planted] - start] + rng.normal(scale=0.02, size=(len(planted), DIM))
        documents = [_document(dataset, start + i, row, int(copy_of[i])) for i, row in enumerate(rows)]
        dataset._sample_collection.insert_many(documents, ordered=False)
    return dataset


def _document(dataset, index, row, copy_of):
    now = datetime.now(UTC)
    return {
        "_id": ObjectId(),
        "filepath": f"/synthetic/{index:07d}.png",
        "tags": [],
        "created_at": now,
        "last_modified_at": now,
        "_media_type": "image",
        "_rand": 0.999 + 0.001 * float(np.random.random()),  # FiftyOne's convention
        "_dataset_id": dataset._doc.id,
        "emb": Binary(fou.serialize_numpy_array(row)),
        "index": index,
        "copy_of": copy_of,
    }


def planted_found(dataset):
    """The share of planted copies that ended in one near-duplicate group with the sample they copy."""
    copy_of, group = (np.array(v, dtype=object) for v in dataset.values(["copy_of", U.GROUP_FIELD]))
    planted = np.flatnonzero(copy_of.astype(int) >= 0)
    same = [group[i] is not None and group[i] == group[int(copy_of[i])] for i in planted]
    return float(np.mean(same)) if len(planted) else 1.0


def recall(dataset, subset):
    """Recall@10 of the approximate neighbours vs exact search on the first ``subset`` samples, and their times."""
    _, unit, _ = embeddings.read_matrix(dataset.limit(subset), "emb", neighbors.normalise)
    exact_s, exact = _setup.timed(lambda: neighbors.nearest(unit, 10, "exact"))
    approximate_s, approximate = _setup.timed(lambda: neighbors.nearest(unit, 10, "approximate"))
    hits = [len(np.intersect1d(a, e)) for a, e in zip(approximate.indices, exact.indices, strict=True)]
    print(f"recall@10 on {subset}: {np.mean(hits) / 10:.4f} ({exact_s:.0f} s exact, {approximate_s:.0f} s approximate)")
    return {
        "recall_at_10": round(float(np.mean(hits)) / 10, 4),
        "recall_subset": subset,
        "subset_exact_s": round(exact_s, 1),
        "subset_approximate_s": round(approximate_s, 1),
    }


def diversity_batch(dataset):
    """Reading every vector into one matrix, and picking an active-learning batch of 50 with diversity over it."""
    read_s, (_, unit, _) = _setup.timed(lambda: embeddings.read_matrix(dataset, "emb", neighbors.normalise))
    scores = np.random.default_rng(SEED).random(len(unit))
    pick_s, _ = _setup.timed(lambda: active_learning.pick(scores, 50, unit, 0.5))
    return {"read_vectors_s": round(read_s, 1), "diversity_batch_50_s": round(pick_s, 1)}


def brain(dataset, brain_count, count):
    """fiftyone-brain's ``compute_uniqueness`` on ``brain_count`` samples, and linearly extrapolated to ``count``."""
    import fiftyone.brain as fob

    view = dataset.limit(brain_count)
    seconds, _ = _setup.timed(
        lambda: fob.compute_uniqueness(view, uniqueness_field="brain_uniqueness", embeddings="emb", progress=False)
    )
    extrapolated = seconds * count / brain_count
    print(f"brain compute_uniqueness: {seconds:.1f} s on {brain_count}, {extrapolated:.0f} s extrapolated linearly")
    return {
        "brain_subset": brain_count,
        "brain_uniqueness_subset_s": round(seconds, 1),
        "brain_uniqueness_s_extrapolated_linear": round(extrapolated, 1),
    }


def main():
    args = _setup.parser(__doc__, "50k samples instead of 1M").parse_args()
    started = time.perf_counter()
    figures = run(args.quick)
    print(f"job took {time.perf_counter() - started:.0f} s")
    shown = " ".join(f"{key}={value}" for key, value in figures.items() if key not in ("size", "goal"))
    print(f"RESULT scale_neighbours {shown}")


if __name__ == "__main__":
    main()
