"""The kinds of objects a field can hold, and how each is read and compared: the one place where matching
dispatches on the label type.

``Detections`` are compared by their boxes, or by their instance masks (``mask``, else the image at ``mask_path``;
``masks``); ``Polylines`` by their filled shapes or their vertices (``polylines``); ``Keypoints`` by OKS, with optional
per-point sigmas (``keypoints``). Reads project only what the kind compares: each object's row and the ground
truth's crowd flags (``crowd_flags``).
"""

import os
from dataclasses import dataclass

import numpy as np

import fiftyone as fo

from ..store import reads
from . import batch, keypoints, masks, polylines
from .batch import Batch, Pairs
from .rules import Objects

F = fo.ViewField
CROWD = "iscrowd"
BOXES, MASKS, POLYLINES, KEYPOINTS = "boxes", "masks", "polylines", "keypoints"
LIST_FIELDS = {fo.Detections: "detections", fo.Polylines: "polylines", fo.Keypoints: "keypoints"}
"""The label types whose objects are matched, and the name of their list of objects."""
BOX_ROW = ("_id", "label", "bounding_box", "confidence")
ROWS = {
    BOXES: BOX_ROW,
    MASKS: (*BOX_ROW, "mask", "mask_path"),
    POLYLINES: ("_id", "label", "points", "confidence", "closed", "filled"),
    KEYPOINTS: ("_id", "label", "points", "confidence"),
}
MASK_CHUNK = 100
"""Samples per chunk when masks are read (a mask weighs more than a thousand boxes)."""
EXAMPLES = 3


@dataclass(frozen=True)
class Kind:
    """How objects are compared: ``geometry`` (``BOXES``, ``MASKS``, ``POLYLINES`` or ``KEYPOINTS``) and, for
    keypoints, the per-point OKS ``sigmas`` (None: 1 for every point)."""

    geometry: str = BOXES
    sigmas: tuple | None = None

    @property
    def list_field(self) -> str:
        """The name of the list of objects in a label of this kind."""
        return {POLYLINES: "polylines", KEYPOINTS: "keypoints"}.get(self.geometry, "detections")

    @property
    def crowd_matters(self) -> bool:
        """Whether a crowd changes the similarity (it does not for masks and OKS: only the matching)."""
        return self.geometry in (BOXES, POLYLINES)

    def chunk(self, default: int) -> int:
        """Samples per chunk of a read of this kind."""
        return min(default, MASK_CHUNK) if self.geometry == MASKS else default

    def rows(self, list_path: str) -> dict:
        """The aggregation expression of the rows of the objects in the list ``list_path`` (missing values null,
        no list: no rows), which ``objects`` reads."""
        fields = ROWS[self.geometry]
        return {"$map": {"input": {"$ifNull": [f"${list_path}", []]}, "as": "d", "in": [f"$$d.{f}" for f in fields]}}

    def objects(self, rows: list | None, crowd: list | None = None) -> tuple[list, Objects]:
        """``(label ids, Objects)`` of the rows ``rows`` reads; raises ``masks.BadMask`` (naming the object) for a
        mask that cannot be compared (masks, polylines and keypoints: boxes are read whole chunks at a time by
        ``Batch.of_rows``)."""
        rows = rows or []
        ids, objects = Objects.of_rows([_box_row(self.geometry, r) for r in rows], crowd)
        objects.shapes = [_shape(self.geometry, r) for r in rows]
        if self.geometry == KEYPOINTS:
            objects.confidences = [_mean(r[3]) for r in rows]
            objects.order = [-1 if c is None else c for c in objects.confidences]
        return ids, objects

    def batch(self, rows: list, codes: dict, crowd: list | None = None) -> Batch:
        """The ``Batch`` of each sample's rows (as ``rows`` reads them) and ground-truth crowd flags; ``codes``: the
        chunk's label codes, extended."""
        if self.geometry == BOXES:
            return Batch.of_rows(rows, codes, crowd)
        read = [self.objects(r, c) for r, c in zip(rows, crowd or [None] * len(rows), strict=True)]
        return Batch.of_objects([o for _, o in read], [i for i, _ in read], codes)

    def similarities(
        self, preds: Batch, gts: Batch, pairs: Pairs, crowd: bool = True, classwise: bool = True
    ) -> np.ndarray:
        """The similarity (IoU or OKS) of each of ``pairs`` of ``preds`` and ``gts`` (see ``tables``)."""
        if self.geometry == BOXES:
            return batch.box_ious(preds, gts, pairs, crowd)
        return batch.raveled(self.tables(preds.objects, gts.objects, crowd, classwise))

    def tables(self, preds: list[Objects], gts: list[Objects], crowd: bool = True, classwise: bool = True) -> list:
        """The similarity table (IoU or OKS) of each pair of ``preds`` and ``gts``; ``crowd`` False: every object
        counts as a non-crowd; ``classwise``: the matching's, which decides how polylines compare (masks, polylines
        and keypoints: boxes are compared whole chunks at a time by ``batch.box_ious``)."""
        if self.geometry == MASKS:
            return masks.tables(preds, gts)
        if self.geometry == POLYLINES:
            return polylines.tables(preds, gts, crowd, classwise)
        return keypoints.tables(preds, gts, self.sigmas)


def kind_of(
    samples: fo.core.collections.SampleCollection, field: str, use_masks: bool | None = None, sigmas=None
) -> Kind | None:
    """The ``Kind`` of ``field``'s objects (None: not a field of objects): Detections by masks when ``use_masks``
    (None: when ``field`` has any mask), keypoints with ``sigmas`` (see ``parse_sigmas``)."""
    label_cls = _label_type(samples, field)
    if label_cls is fo.Polylines:
        return Kind(POLYLINES)
    if label_cls is fo.Keypoints:
        return Kind(KEYPOINTS, parse_sigmas(sigmas)[0])
    if label_cls is fo.Detections:
        return Kind(MASKS if (has_masks(samples, field) if use_masks is None else use_masks) else BOXES)
    return None


def sigma_list(value: str | list | tuple | None) -> str | list | tuple | None:
    """``value`` as a list of numbers when ``parse_sigmas`` reads it (so a run records the sigmas, not the text a
    person typed), else as it is (for ``parse_sigmas`` to report)."""
    sigmas, problems = parse_sigmas(value)
    return value if problems else (list(sigmas) if sigmas else None)


def parse_sigmas(value) -> tuple[tuple | None, list[str]]:
    """``(sigmas, problems)`` of per-point OKS sigmas given as numbers or a comma-separated string (None: none)."""
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else list(value or [])
    try:
        sigmas = tuple(float(v) for v in items)
    except (TypeError, ValueError):
        return None, [f"Keypoint sigmas {value!r} must be numbers, e.g. 0.026, 0.025, 0.035."]
    if not all(s > 0 and np.isfinite(s) for s in sigmas):
        return None, [f"Keypoint sigmas {list(sigmas)} must all be positive."]
    return sigmas or None, []


def has_masks(samples: fo.core.collections.SampleCollection, field: str) -> bool:
    """Whether any object of the Detections ``field`` has a mask (or a ``mask_path``)."""
    return bool(samples.match(_with_mask(field).length() > 0).limit(1).values("_id"))


def option_problems(kind: Kind | None, use_masks: bool | None, sigmas) -> list[str]:
    """Problems with options given for another label type than ``kind``'s (None: classifications)."""
    if use_masks and (kind is None or kind.geometry not in (MASKS, BOXES)):
        return ["use_masks applies to Detections: leave it unset."]
    if sigmas and (kind is None or kind.geometry != KEYPOINTS):
        return ["keypoint_sigmas applies to Keypoints: leave it empty."]
    return []


def problems(samples: fo.core.collections.SampleCollection, fields: list[str], kind: Kind | None) -> list[str]:
    """What makes the objects of ``fields`` impossible to compare as ``kind`` that a query tells (cheap: no mask is
    read; ``bad_masks`` reads them); none for classifications (None)."""
    if kind is None:
        return []
    check = {MASKS: _mask_problems, POLYLINES: _polyline_problems, KEYPOINTS: _keypoint_problems}.get(kind.geometry)
    return [p for field in fields for p in check(samples, field, kind)] if check else []


def bad_masks(samples: fo.core.collections.SampleCollection, fields: list[str], whole: bool = False) -> list[str]:
    """Per field, the objects whose masks cannot be compared (see ``masks``; only their shapes are decoded), read
    chunk by chunk (``whole``: of the whole samples, as ``reads.whole_chunks``); empty when every mask can."""
    kind, found = Kind(MASKS), {field: [] for field in fields}
    projection = {f"f{n}": kind.rows(f"{field}.detections") for n, field in enumerate(fields)}
    for documents in (reads.whole_chunks if whole else reads.chunks)(samples, projection, MASK_CHUNK):
        for document in documents:
            for n, field in enumerate(fields):
                rows = document.get(f"f{n}") or []
                found[field] += [(document["_id"], row[0], why) for row in rows if (why := _why(row))]
    return [_bad_masks_problem(field, bad) for field, bad in found.items() if bad]


def crowd_flags(list_path: str) -> fo.ViewExpression:
    """The expression of each label's crowd value in the list ``list_path`` (e.g. ``ground_truth.detections``), as
    ``evaluate_detections`` reads it: its ``iscrowd`` attribute when it has one, else ``attributes["iscrowd"]``."""
    own, legacy = F(CROWD), F(f"attributes.{CROWD}.value")
    return F(list_path).map((own.type() == "missing").if_else(legacy, own))


def rows_of(list_path: str) -> dict:
    """The aggregation expression of the ``[_id, label, bounding_box, confidence]`` row of each label in the list
    ``list_path`` (missing values null, no list: no rows), which ``Objects.of_rows`` reads."""
    return Kind(BOXES).rows(list_path)


def _label_type(samples, field):
    found = samples.get_field(field) if field else None
    label_cls = getattr(found, "document_type", None)
    return label_cls if label_cls in LIST_FIELDS else None


def _box_row(geometry, row):
    """The ``[_id, label, bounding_box, confidence]`` of a row (polylines: their vertices' extent; keypoints: none)."""
    if geometry == MASKS:
        return row[:4]
    if geometry == KEYPOINTS:
        return [row[0], row[1], [0.0, 0.0, 0.0, 0.0], None]
    vertices = keypoints.points(p for s in row[2] or [] for p in s)
    with np.errstate(all="ignore"):
        low, high = (np.nanmin(vertices, 0), np.nanmax(vertices, 0)) if len(vertices) else (np.zeros(2), np.zeros(2))
    return [row[0], row[1], [*low, *(high - low)], row[3]]


def _shape(geometry, row):
    if geometry == MASKS:
        try:
            return masks.placed(row[2], masks.read(row[4], row[5]))
        except masks.BadMask as error:
            raise masks.BadMask(f"Object {row[0]} ('{row[1]}') cannot be compared: {error}.") from error
    if geometry == POLYLINES:
        return polylines.shape(row[2], row[4], row[5])
    return keypoints.points(row[2])


def _mean(confidence):
    """A keypoint's ranking confidence, as FiftyOne's: the mean of its finite per-point confidences (None: none)."""
    if not confidence:
        return None
    values = np.array([np.nan if c is None else c for c in confidence], dtype=float)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def _why(row):
    try:
        masks.fit(row[2], masks.shape(row[4], row[5]))
    except masks.BadMask as error:
        return str(error)
    return None


def _bad_masks_problem(field, bad):
    examples = "; ".join(f"object {label} of sample {sample}: {why}" for sample, label, why in bad[:EXAMPLES])
    return f"{len(bad)} objects in '{field}' have masks that cannot be compared ({examples}): fix or remove them."


def _with_mask(field):
    return F(f"{field}.detections").filter(F("mask").exists() | F("mask_path").exists())


def _mask_problems(samples, field, kind):
    total = samples.count(f"{field}.detections")
    masked = samples.sum(_with_mask(field).length()) if total else 0
    problems = []
    if masked < total:
        problems.append(
            f"{total - masked} of {total} objects in '{field}' have no mask (mask or mask_path): give every object a "
            "mask, or compare boxes (use_masks=False)."
        )
    on_disk = samples.filter_labels(field, ~F("mask").exists() & F("mask_path").exists(), only_matches=True)
    missing = [p for p in on_disk.distinct(f"{field}.detections.mask_path") if not os.path.isfile(p)]
    if missing:
        problems.append(
            f"{len(missing)} mask files of '{field}' are missing (e.g. {', '.join(missing[:EXAMPLES])}): restore them "
            "or remove their objects."
        )
    return problems


def _polyline_problems(samples, field, kind):
    """Polygons (closed or filled) with a shape of fewer than 3 points, lines of fewer than 2, polylines without
    points."""
    short = F("points").map(F().length()).min() < (F("closed") | F("filled")).if_else(3, 2)  # no points: null < 3
    bad = F(f"{field}.polylines").filter(short).length()
    count = samples.sum(bad)
    if not count:
        return []
    return [
        f"{int(count)} polylines in '{field}' have a shape with too few points (a polygon needs 3, a line 2): fix or "
        "remove them."
    ]


def _keypoint_problems(samples, field, kind):
    if not kind.sigmas:
        return []
    other = samples.sum(F(f"{field}.keypoints").filter(F("points").length() != len(kind.sigmas)).length())
    if other:
        return [
            f"{int(other)} keypoints in '{field}' do not have {len(kind.sigmas)} points, one per sigma: give as many "
            "sigmas as the skeleton has points."
        ]
    return []
