"""Where compare_models' time goes at scale: the MongoDB CPU of ``core.regression.compare`` against the floor of any
design that stores a category on every object, on the same synthetic detections (100,000 samples x ~27 objects over
ground truth / baseline / candidate; --quick: 10,000).

Anchor (``floor``): the bare writes of such a result, one ``$set`` per sample addressed by ``_id`` alone (MongoDB's
fastest update path): a string on each object by its position and 15 counts, with no read, no guard and no Python
matching. ``ours``: the whole comparison (read, match, categorise, write by position on the condition that the lists
still hold the ids read). Figures are mongod CPU seconds (user + system) per 1,000,000 samples, extrapolated
linearly, and wall seconds of ours per 1,000,000.

Last line: ``RESULT write_floor floor_mongod_s_per_1m=.. ours_mongod_s_per_1m=.. ours_python_s_per_1m=..
ours_wall_s_per_1m=.. ratio_mongod=..`` (ours / floor).
"""

import time
from datetime import UTC, datetime

import _setup
import psutil
from pymongo import UpdateOne

from core.regression.compare import CompareRequest, compare
from testing import synthetic

SAMPLES = {False: 100_000, True: 10_000}
ROLES = ("ground_truth", "baseline", "candidate")
CHUNK = 5000
COUNTS = 15  # the sample fields a comparison writes


def main():
    args = _setup.parser(__doc__, "10,000 samples instead of 100,000").parse_args()
    count = SAMPLES[args.quick]
    dataset = synthetic.build_repeated("write-floor", count)
    mongod = psutil.Process(_setup.MONGO.process.pid)
    floor = _mongod_seconds(mongod, lambda: _bare_writes(dataset))
    started, python = time.perf_counter(), time.process_time()
    ours = _mongod_seconds(mongod, lambda: compare(dataset, CompareRequest(*ROLES), progress=False))
    wall, python = time.perf_counter() - started, time.process_time() - python
    scale = 1_000_000 / count
    figures = {
        "floor_mongod_s_per_1m": floor * scale,
        "ours_mongod_s_per_1m": ours * scale,
        "ours_python_s_per_1m": python * scale,
        "ours_wall_s_per_1m": wall * scale,
        "ratio_mongod": ours / floor,
    }
    print(
        "RESULT write_floor "
        + " ".join(f"{k}={v:.2f}" if k.startswith("ratio") else f"{k}={v:.0f}" for k, v in figures.items())
    )


def _mongod_seconds(mongod, fn):
    before = sum(mongod.cpu_times()[:2])
    fn()
    return sum(mongod.cpu_times()[:2]) - before


def _bare_writes(dataset):
    """One ``$set`` per sample by ``_id``: ``floor`` on every object, by position, and ``COUNTS`` numbers."""
    collection, now = dataset._sample_collection, datetime.now(UTC)
    documents = list(collection.find({}, {f"{role}.detections._id": 1 for role in ROLES}))
    for start in range(0, len(documents), CHUNK):
        operations = [UpdateOne({"_id": d["_id"]}, {"$set": _values(d, now)}) for d in documents[start : start + CHUNK]]
        collection.bulk_write(operations, ordered=False)


def _values(document, now):
    values = {"last_modified_at": now, **{f"floor_{n}": n for n in range(COUNTS)}}
    for role in ROLES:
        labels = (document.get(role) or {}).get("detections") or []
        values.update({f"{role}.detections.{i}.floor": "unchanged_tp" for i in range(len(labels))})
    return values


if __name__ == "__main__":
    main()
