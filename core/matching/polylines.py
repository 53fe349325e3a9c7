"""Similarities of polylines, as ``evaluate_detections`` computes them.

Per matching category (the label when ``classwise``, else one): when any ground-truth polyline of the category is
``filled``, every polyline of the category is compared as a filled shape (its shapes closed when ``closed``,
overlaps merged), by area: IoU, with crowd columns divided by the prediction's area; a shape that is not a valid
polygon (e.g. fewer than 3 points) has no area. Otherwise all their vertices are compared as keypoints (OKS, see
``keypoints``).
"""

import itertools
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import ops
from shapely.geometry import MultiPolygon, Polygon

from . import keypoints
from .rules import categories


@dataclass
class Shape:
    """A polyline as compared: its filled ``geometry`` and its ``area``, its ``vertices`` and its ``filled`` flag."""

    geometry: object
    area: float
    vertices: np.ndarray
    filled: bool


def shape(points: list | None, closed: bool | None, filled: bool | None) -> Shape:
    """The ``Shape`` of a stored polyline (``points``: its list of shapes, each a list of ``[x, y]``)."""
    shapes = [list(s) for s in points or []]
    geometry = _filled_geometry([s + [s[0]] if closed and s else s for s in shapes])
    vertices = keypoints.points(itertools.chain.from_iterable(shapes))
    return Shape(geometry, geometry.area, vertices, bool(filled))


def _filled_geometry(shapes):
    """The polygon FiftyOne makes of the shapes (``Polyline.to_shapely(filled=True)``, overlaps merged), empty
    where it fails."""
    try:
        geometry = Polygon(shapes[0]) if len(shapes) == 1 else MultiPolygon([(s, None) for s in shapes])
        return ops.unary_union(geometry).buffer(0)
    except Exception:  # noqa: BLE001  (FiftyOne gives an invalid polygon no area, as here)
        return Polygon()


def tables(preds: list, gts: list, crowd: bool = True, classwise: bool = True) -> list[np.ndarray]:
    """The similarity table of each pair of ``preds`` and ``gts`` (``Objects`` whose ``shapes`` are ``Shape``)."""
    return [_table(p, g, crowd, classwise) for p, g in zip(preds, gts, strict=True)]


def _table(preds, gts, crowd, classwise):
    table = np.zeros((len(preds.labels), len(gts.labels)))
    if not table.size:
        return table
    columns = categories(gts.labels, classwise)
    filled = {c for c, s in zip(columns, gts.shapes, strict=True) if s.filled}
    by_area = np.array([c in filled for c in columns])
    if by_area.any():
        flags = np.array(gts.crowd, dtype=bool) & crowd
        shapes = [s for s, a in zip(gts.shapes, by_area, strict=True) if a]
        table[:, by_area] = _ious(preds.shapes, shapes, flags[by_area])
    if not by_area.all():
        vertices = [s.vertices for s, a in zip(gts.shapes, by_area, strict=True) if not a]
        table[:, ~by_area] = keypoints.similarities([s.vertices for s in preds.shapes], vertices)
    return table


def _ious(preds, gts, crowd):
    """The area IoUs of ``Shape`` lists (crowd columns divided by the prediction's area)."""
    pred_geometry, gt_geometry = np.array([s.geometry for s in preds]), np.array([s.geometry for s in gts])
    inter = _intersection_areas(pred_geometry, gt_geometry)
    pred_area = np.array([s.area for s in preds])[:, None]
    union = np.where(crowd[None, :], pred_area, pred_area + np.array([s.area for s in gts])[None, :] - inter)
    return np.minimum(np.divide(inter, union, out=np.zeros_like(inter), where=union != 0), 1.0)


def _intersection_areas(pred_geometry, gt_geometry):
    try:
        return shapely.area(shapely.intersection(pred_geometry[:, None], gt_geometry[None, :]))
    except shapely.errors.ShapelyError:  # one pair failed: FiftyOne gives each failing pair no overlap
        return np.array([[_area_or_zero(p, g) for g in gt_geometry] for p in pred_geometry])


def _area_or_zero(a, b):
    try:
        return a.intersection(b).area
    except shapely.errors.ShapelyError:
        return 0.0
