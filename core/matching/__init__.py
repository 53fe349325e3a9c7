"""Object matching shared by quality, regression and the annotation loop, with the rules of FiftyOne's
``evaluate_detections``: ``rules`` (which prediction matches which ground truth), the similarities of ``boxes``,
instance ``masks``, ``polylines`` and ``keypoints``, and ``kinds`` (how each label type is read and compared)."""

from . import batch
from .batch import Batch, Pairs
from .boxes import ious, ious_of_pairs
from .kinds import BOXES, KEYPOINTS, LIST_FIELDS, MASKS, POLYLINES, Kind, crowd_flags, kind_of, rows_of
from .masks import BadMask
from .rules import Matches, Objects, match

__all__ = [
    "BOXES",
    "KEYPOINTS",
    "LIST_FIELDS",
    "MASKS",
    "POLYLINES",
    "BadMask",
    "Batch",
    "Kind",
    "Matches",
    "Objects",
    "Pairs",
    "batch",
    "crowd_flags",
    "ious",
    "ious_of_pairs",
    "kind_of",
    "match",
    "rows_of",
]
