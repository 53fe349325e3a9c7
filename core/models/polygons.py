"""Polygons from instance masks, with ``Detections.to_polylines`` semantics: each mask's boundary traced as a
closed, filled polyline (``tolerance`` pixels of approximation), the label, confidence and attributes kept."""

from typing import Any

import fiftyone as fo

from . import tasks
from .predictor import Prediction, Predictor


def polylines(detections: fo.Detections, tolerance: float) -> fo.Polylines:
    """The masks of ``detections`` as closed, filled polygons; a mask too small to trace (no shape of 3 points or
    more) gives no polygon."""
    traced = detections.to_polylines(tolerance=tolerance, filled=True)
    kept = []
    for polyline in traced.polylines:
        polyline.points = [shape for shape in polyline.points if len(shape) >= 3]
        if polyline.points:
            polyline.closed = True
            kept.append(polyline)
    return fo.Polylines(polylines=kept)


class PolygonPredictor:
    """A mask predictor (``tasks.MASK_TASKS``) whose masks are written as polygons (``polylines``)."""

    def __init__(self, predictor: Predictor, tolerance: float) -> None:
        self.predictor, self.tolerance = predictor, tolerance
        self.task, self.labels = predictor.task, predictor.labels

    @property
    def label_type(self) -> type[fo.Label]:
        """Polylines."""
        return tasks.label_class(self.task, polygons=True)

    def prepare(self, images: list) -> Any:
        """The wrapped predictor's inputs (thread-safe as its ``prepare`` is)."""
        return self.predictor.prepare(images)

    def predict(self, prepared: Any, *prompts: Any) -> list[Prediction]:
        """The wrapped predictor's masks, traced."""
        found = self.predictor.predict(prepared, *prompts)
        return [polylines(label, self.tolerance) if label is not None else None for label in found]
