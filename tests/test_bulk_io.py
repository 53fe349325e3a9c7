"""The bulk paths of the runs at scale: chunked reads (core.store.reads), writes behind the computation
(core.store.writes.written_behind), IoUs of many pairs at once (core.matching.ious_of_pairs) and the million-sample
builder (testing.synthetic.build_repeated)."""

import gc
import threading
import uuid

import numpy as np
import pytest
from bson import ObjectId

import fiftyone as fo

from core.matching import Objects, ious, ious_of_pairs
from core.store import reads, writes
from testing import synthetic


@pytest.fixture(scope="module")
def repeated():
    dataset = synthetic.build_repeated(f"repeated-{uuid.uuid4().hex[:8]}", 25, distinct=10, chunk=7)
    yield dataset
    dataset.delete()


def test_a_repeated_build_copies_its_first_samples_with_fresh_ids_and_paths(repeated):
    original = synthetic.build_bulk(f"bulk-{uuid.uuid4().hex[:8]}", 10)
    label_ids = repeated.values("ground_truth.detections.id", unwind=True)
    label_ids += repeated.values("candidate.detections.id", unwind=True)
    assert len(repeated) == 25 and len(set(repeated.values("id"))) == 25
    assert len(set(repeated.values("filepath"))) == 25 and len(set(label_ids)) == len(label_ids)
    copies = repeated.values("ground_truth.detections.bounding_box")
    assert copies == original.values("ground_truth.detections.bounding_box") * 2 + copies[:5]
    assert repeated.values("candidate.detections.label")[13] == original.values("candidate.detections.label")[3]
    original.delete()


def test_a_shared_dataset_is_built_once_and_kept():
    name = f"shared-{uuid.uuid4().hex[:8]}"
    built = synthetic.shared(name, 12)
    first_id = built.first().id
    again = synthetic.shared(name, 12)
    assert again.persistent and again.first().id == first_id and len(again) == 12
    assert len(synthetic.shared(name, 13)) == 13  # another size builds anew
    fo.delete_dataset(name)


def test_chunks_read_every_sample_once_through_the_view(repeated):
    view = repeated.filter_labels("ground_truth", fo.ViewField("label") == "car", only_matches=False)
    projection = {"labels": "$ground_truth.detections.label"}
    chunks = list(reads.chunks(view, projection, 7))
    assert [len(c) for c in chunks] == [7, 7, 7, 4]
    documents = [d for c in chunks for d in c]
    assert [d["_id"] for d in documents] == [ObjectId(i) for i in repeated.values("id")]
    assert all(set(d.get("labels") or []) <= {"car"} for d in documents)
    whole = [d for c in reads.whole_chunks(view.skip(20), projection, 3) for d in c]
    lengths = repeated.skip(20).values(fo.ViewField("ground_truth.detections").length())
    assert [len(d.get("labels") or []) for d in whole] == lengths


def test_writes_go_behind_and_progress_follows_in_order(repeated):
    written, done = [], []
    writes.written_behind(iter(range(5)), written.append, done.append)
    assert sorted(written) == [0, 1, 2, 3, 4] and done == [0, 1, 2, 3, 4]


def test_two_chunks_are_written_at_once():
    second_started = threading.Event()

    def write(chunk):
        if chunk == 0:
            assert second_started.wait(timeout=30), "the second chunk's write did not start beside the first"
        else:
            second_started.set()

    done = []
    writes.written_behind(iter(range(3)), write, done.append)
    assert done == [0, 1, 2]


def test_a_failure_on_either_side_is_raised_after_the_write_under_way_ended():
    started, written = threading.Event(), []

    def write(chunk):
        started.set()
        written.append(chunk)

    def chunks():
        yield 1
        started.wait()
        raise ValueError("computation failed")

    with pytest.raises(ValueError, match="computation failed"):
        writes.written_behind(chunks(), write, lambda chunk: None)
    assert written == [1]

    def failing(chunk):
        if chunk == 2:
            raise OSError("write failed")

    done = []
    with pytest.raises(OSError, match="write failed"):
        writes.written_behind(iter(range(5)), failing, done.append)
    assert done == [0, 1]


def test_the_garbage_collector_is_paused_only_while_writing():
    seen = []
    writes.written_behind(iter(range(2)), lambda chunk: seen.append(gc.isenabled()), lambda chunk: None)
    assert seen == [False, False] and gc.isenabled()
    gc.disable()
    try:
        writes.written_behind(iter(range(1)), lambda chunk: None, lambda chunk: None)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_ious_of_many_pairs_equal_one_pair_at_a_time():
    rng = np.random.default_rng(3)
    gts = [_objects(rng, n, crowd=True) for n in (0, 3, 7, 1, 5)]
    preds = [_objects(rng, n) for n in (4, 0, 9, 2, 5)]
    for crowd in (True, False):
        for table, p, g in zip(ious_of_pairs(preds, gts, crowd), preds, gts, strict=True):
            alone = ious(p, g, crowd)
            assert table.shape == (len(p.labels), len(g.labels)) and np.array_equal(table, alone)
    crowded = [g for g in gts if any(g.crowd)]
    assert crowded and not np.array_equal(ious(preds[2], gts[2]), ious(preds[2], gts[2], crowd=False))


def _objects(rng, n, crowd=False):
    boxes = np.concatenate([rng.uniform(0, 0.6, (n, 2)), rng.uniform(0.05, 0.4, (n, 2))], axis=1)
    flags = [bool(i % 2) for i in range(n)] if crowd else None
    return Objects.of([str(v) for v in rng.integers(0, 3, n)], boxes, list(rng.uniform(0, 1, n)), flags)
