"""``rules.match`` on a whole chunk of samples at once, on flat arrays (the same matches, a few numpy calls per
prediction rank instead of a Python loop per prediction and candidate).

A ``Batch`` holds one field's objects of every sample of a chunk, one after another; ``Pairs`` every (prediction,
ground truth) pair of objects of the same sample, in the order of the rows of each sample's similarity table, so
that a table raveled is the pairs' values. ``match`` takes the predictions of every sample in rounds: round ``k``
holds each sample's ``k``-th prediction by decreasing confidence (categories do not compete, so one order per sample
serves them all), and within a round no two predictions share a sample, hence a ground truth. Samples whose
similarities or ranking keys hold NaN are matched by ``rules.match`` (FiftyOne's scan order decides there).
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Self

import numpy as np

from .rules import Objects
from .rules import match as match_one


@dataclass
class Batch:
    """One field's objects on a chunk of samples: ``counts[s]`` objects of sample ``s``, then flat per object its
    label id, label, label code (equal labels, equal codes, across the batches of a chunk), ``[x, y, w, h]`` box,
    confidence (NaN: none), crowd flag and ranking key; ``objects``: each sample's ``Objects`` (for similarities
    other than boxes)."""

    counts: np.ndarray
    ids: list
    labels: list
    codes: np.ndarray
    boxes: np.ndarray
    confidences: np.ndarray
    crowd: np.ndarray
    order: np.ndarray
    objects: list | None = None

    @classmethod
    def of_rows(cls, rows: Sequence[Sequence | None], codes: dict, crowd: Sequence | None = None) -> Self:
        """The batch of each sample's ``[_id, label, bounding_box, confidence]`` rows (``kinds.rows_of``) and crowd
        flags; ``codes``: the chunk's label codes, extended."""
        counts = np.array([len(r or ()) for r in rows], dtype=int)
        flat = list(chain.from_iterable(r or () for r in rows))
        ids, labels, boxes, confidences = zip(*flat, strict=True) if flat else ((), (), (), ())
        flags = list(chain.from_iterable(c or () for c in crowd)) if crowd is not None else []
        confidences = np.array(confidences, dtype=float)
        return cls._of(counts, list(ids), list(labels), codes, _boxes(boxes), confidences, flags)

    @classmethod
    def of_objects(cls, objects: list[Objects], ids: list, codes: dict) -> Self:
        """The batch of each sample's ``Objects`` and label ids (a list per sample)."""
        counts = np.array([len(o.labels) for o in objects], dtype=int)
        labels = list(chain.from_iterable(o.labels for o in objects))
        boxes = np.concatenate([o.boxes for o in objects]) if objects else np.zeros((0, 4))
        confidences = np.array(list(chain.from_iterable(o.confidences for o in objects)), dtype=float)
        flags = list(chain.from_iterable(o.crowd for o in objects))
        batch = cls._of(counts, list(chain.from_iterable(ids)), labels, codes, boxes.reshape(-1, 4), confidences, flags)
        if objects and any(o.order is not None for o in objects):
            batch.order = np.array([k for o in objects for k in o.order], dtype=float)
        batch.objects = objects
        return batch

    @classmethod
    def _of(cls, counts, ids, labels, codes, boxes, confidences, crowd):
        for label in set(labels) - codes.keys():
            codes[label] = len(codes)
        coded = np.fromiter(map(codes.__getitem__, labels), dtype=int, count=len(labels))
        flags = np.array([bool(f) for f in crowd], dtype=bool) if len(crowd) else np.zeros(len(labels), dtype=bool)
        order = np.where(np.isnan(confidences) | (confidences == 0), -1.0, confidences)  # ``c or -1``
        return cls(counts, ids, labels, coded, boxes.reshape(-1, 4), confidences, flags, order)

    def per_sample(self, values: list) -> Iterator[list]:
        """Each sample's slice of ``values`` (one per object, flat)."""
        start = 0
        for count in self.counts.tolist():
            yield values[start : start + count]
            start += count

    @property
    def starts(self) -> np.ndarray:
        """The index of each sample's first object."""
        return np.cumsum(self.counts) - self.counts

    @property
    def samples(self) -> np.ndarray:
        """The sample of each object."""
        return np.repeat(np.arange(len(self.counts)), self.counts)

    def sample_objects(self, s: int) -> Objects:
        """Sample ``s``'s objects as ``Objects``."""
        if self.objects is not None:
            return self.objects[s]
        rows = slice(self.starts[s], self.starts[s] + self.counts[s])
        crowd = self.crowd[rows].tolist()
        confidences = [None if np.isnan(c) else c for c in self.confidences[rows].tolist()]
        return Objects(self.labels[rows], self.boxes[rows], confidences, crowd, order=self.order[rows].tolist())


def _boxes(boxes: Sequence) -> np.ndarray:
    """The ``(n, 4)`` array of ``[x, y, w, h]`` lists (read flat when each has 4 numbers: far faster)."""
    try:
        return np.fromiter(chain.from_iterable(boxes), dtype=float, count=4 * len(boxes)).reshape(-1, 4)
    except (TypeError, ValueError):  # a box of another length or with a null: as numpy reads them
        return np.array(boxes, dtype=float).reshape(-1, 4)


@dataclass
class Pairs:
    """Every pair of an object ``a`` of one batch with an object ``b`` of another on the same ``sample``, by sample,
    then ``a``, then ``b`` (each sample's similarity table raveled)."""

    sample: np.ndarray
    a: np.ndarray
    b: np.ndarray

    @classmethod
    def of(cls, a: Batch, b: Batch) -> Self:
        """The pairs of ``a``'s and ``b``'s objects."""
        sizes = a.counts * b.counts
        sample = np.repeat(np.arange(len(sizes)), sizes)
        within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        width = b.counts[sample]
        return cls(sample, a.starts[sample] + within // width, b.starts[sample] + within % width)

    def of_sample(self, s: int) -> slice:
        """The pairs of sample ``s``."""
        low, high = np.searchsorted(self.sample, [s, s + 1])
        return slice(int(low), int(high))


def box_ious(preds: Batch, gts: Batch, pairs: Pairs, crowd: bool = True) -> np.ndarray:
    """The IoU of each pair's boxes, as ``boxes.ious`` computes them (the same operations, so the same values; crowd
    ground truth divides by the prediction's area, unless ``crowd`` is False)."""
    (px, py, pw, ph), (gx, gy, gw, gh) = preds.boxes.T, gts.boxes.T
    a, b = pairs.a, pairs.b
    w = np.minimum((px + pw)[a], (gx + gw)[b]) - np.maximum(px[a], gx[b])
    h = np.minimum((py + ph)[a], (gy + gh)[b]) - np.maximum(py[a], gy[b])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    pred_area = (pw * ph)[a]
    union = pred_area + (gw * gh)[b] - inter
    if crowd:
        union = np.where(gts.crowd[b], pred_area, union)
    return np.minimum(np.divide(inter, union, out=np.zeros_like(inter), where=union > 0), 1.0)


def raveled(tables: list[np.ndarray]) -> np.ndarray:
    """Per-sample similarity tables as the values of their ``Pairs``."""
    return np.concatenate([t.ravel() for t in tables]) if tables else np.zeros(0)


@dataclass
class Matched:
    """``rules.Matches`` of a batch: per prediction whether it is a true positive, its ground truth's index (-1:
    none) and IoU; per ground truth the same."""

    pred_tp: np.ndarray
    pred_match: np.ndarray
    pred_iou: np.ndarray
    gt_tp: np.ndarray
    gt_match: np.ndarray
    gt_iou: np.ndarray

    def counts(self, preds: Batch, gts: Batch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per sample (tp, fp, fn) as ``evaluate_detections`` writes them."""
        tp = np.bincount(preds.samples[self.pred_tp], minlength=len(preds.counts))
        fn = np.bincount(gts.samples[~self.gt_tp], minlength=len(gts.counts))
        return tp, preds.counts - tp, fn


def match(
    preds: Batch,
    gts: Batch,
    pairs: Pairs,
    values: np.ndarray,
    iou_thresh: float = 0.5,
    classwise: bool = True,
    keep: np.ndarray | None = None,
) -> Matched:
    """``rules.match`` of every sample of ``preds`` and ``gts`` (``values``: the similarity of each of their
    ``pairs``); ``keep``: the predictions that take part (default all; the others stay unmatched)."""
    thresh = min(iou_thresh, 1 - 1e-10)
    same = preds.codes[pairs.a] == gts.codes[pairs.b]
    crowd = gts.crowd[pairs.b]
    usable = same if classwise else same | ~crowd
    if keep is not None:
        usable &= keep[pairs.a]
    result = Matched(
        np.zeros(len(preds.codes), dtype=bool),
        np.full(len(preds.codes), -1),
        np.full(len(preds.codes), np.nan),
        np.zeros(len(gts.codes), dtype=bool),
        np.full(len(gts.codes), -1),
        np.full(len(gts.codes), np.nan),
    )
    odd = np.union1d(pairs.sample[usable & np.isnan(values)], preds.samples[np.isnan(preds.order)])
    eligible = usable & (values >= thresh) & (values > 0) & ~np.isin(pairs.sample, odd)
    _rounds(result, preds, pairs, values, eligible, crowd)
    same_as_pred = preds.codes[np.maximum(result.gt_match, 0)] == gts.codes
    result.gt_tp = (result.gt_match >= 0) & same_as_pred
    result.pred_tp = (result.pred_match >= 0) & (preds.codes == gts.codes[np.maximum(result.pred_match, 0)])
    for s in odd.tolist():
        _match_sample(result, preds, gts, pairs, values, s, iou_thresh, classwise, keep)
    return result


def _rounds(result, preds, pairs, values, eligible, crowd):
    """Matches the ``eligible`` pairs, round by round (see the module)."""
    picked = np.flatnonzero(eligible)
    a, b, v, c = pairs.a[picked], pairs.b[picked], values[picked], crowd[picked]
    rank = _ranks(preds)[a]
    order = np.lexsort((b, v, c, a, rank))  # per prediction: non-crowds by IoU then index, then crowds alike
    a, b, v, c, rank = a[order], b[order], v[order], c[order], rank[order]
    bounds = np.searchsorted(rank, np.arange(int(rank.max()) + 2)) if len(rank) else [0]
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        if low == high:
            continue
        ra, rb, rv, rc = a[low:high], b[low:high], v[low:high], c[low:high]
        free = ~rc & (result.gt_match[rb] == -1)
        starts = np.flatnonzero(np.r_[True, ra[1:] != ra[:-1]])
        position = np.arange(len(ra))
        best = np.maximum.reduceat(np.where(free, position, -1), starts)
        best_crowd = np.maximum.reduceat(np.where(rc, position, -1), starts)
        best = np.where(best >= 0, best, best_crowd)
        best = best[best >= 0]
        i, j, iou = ra[best], rb[best], rv[best]
        result.pred_match[i], result.pred_iou[i] = j, iou
        first = result.gt_match[j] == -1
        result.gt_match[j[first]], result.gt_iou[j[first]] = i[first], iou[first]


def _ranks(preds):
    """Each prediction's rank in its sample by decreasing ranking key (ties: in order)."""
    samples = preds.samples
    order = np.lexsort((np.arange(len(samples)), -preds.order, samples))
    ranks = np.empty(len(samples), dtype=int)
    ranks[order] = np.arange(len(samples)) - preds.starts[samples[order]]
    return ranks


def _match_sample(result, preds, gts, pairs, values, s, iou_thresh, classwise, keep):
    """Matches sample ``s`` with ``rules.match`` into ``result``."""
    p_low, g_low = int(preds.starts[s]), int(gts.starts[s])
    p_rows, g_rows = range(p_low, p_low + int(preds.counts[s])), range(g_low, g_low + int(gts.counts[s]))
    kept = [i - p_low for i in p_rows if keep is None or keep[i]]
    if not kept:
        return
    table = values[pairs.of_sample(s)].reshape(len(p_rows), len(g_rows))[kept]
    found = match_one(preds.sample_objects(s).subset(kept), gts.sample_objects(s), iou_thresh, classwise, table)
    where = np.array([p_low + i for i in kept], dtype=int)
    result.pred_tp[where] = np.array(found.pred_status) == "tp"
    result.pred_match[where] = np.where(found.pred_match >= 0, found.pred_match + g_low, -1)
    result.pred_iou[where] = found.pred_iou
    result.gt_tp[g_low : g_low + len(g_rows)] = np.array(found.gt_status) == "tp"
    result.gt_match[g_low : g_low + len(g_rows)] = np.where(found.gt_match >= 0, where[found.gt_match], -1)
    result.gt_iou[g_low : g_low + len(g_rows)] = found.gt_iou
