"""IoUs of instance masks, as ``evaluate_detections(..., use_masks=True)`` computes them (dense masks, no tolerance).

FiftyOne places each object's mask in a frame of ``round(mask width / box width) x round(mask height / box
height)`` pixels, at the box's rounded pixel corner; two objects whose frames differ are compared in the larger frame
(by pixel count; a tie: the prediction's), the other's whole frame resized to it by nearest neighbour (OpenCV's
``INTER_NEAREST``). Any non-zero pixel is foreground. An IoU is computed only for boxes that intersect or touch,
and is 0 when either box has no positive width and height; crowds do not change a mask IoU (FiftyOne's dense mask
IoU ignores them: they still match as crowds). Here only the masks' own pixels are touched, never whole frames.

A mask is refused (``BadMask``) where FiftyOne would fail on it or place it outside its frame: not 2-D, no pixels,
or a mask that does not fit its box in its frame; a ``mask_path`` that cannot be read is refused too.
"""

import zlib
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from ..store import arrays
from .boxes import touching

"""The header of a ``.npy`` payload as ``numpy.save`` writes a plain array's."""


class BadMask(ValueError):
    """A mask that cannot be compared (the message says why)."""


@dataclass
class Placed:
    """A foreground mask placed in its frame: ``frame`` ``(height, width)``, top-left pixel ``(top, left)``,
    ``area`` foreground pixels; ``mask`` is None when its box has no area (every IoU 0)."""

    mask: np.ndarray | None
    frame: tuple[int, int] = (0, 0)
    top: int = 0
    left: int = 0
    area: int = 0


def read(mask: bytes | None, mask_path: str | None) -> np.ndarray:
    """An object's mask as FiftyOne's ``Detection.get_mask`` returns it: ``mask`` (stored bytes), else the image
    at ``mask_path``; raises ``BadMask`` when neither can be read."""
    if mask is not None:
        try:
            return arrays.decoded(zlib.decompress(mask))
        except (ValueError, OSError, zlib.error) as error:
            raise BadMask(f"its stored mask cannot be decoded ({error})") from error
    return _file(mask_path)


def shape(mask: bytes | None, mask_path: str | None) -> tuple:
    """The shape of an object's mask (see ``read``), decoding only the header of a stored one."""
    if mask is None:
        return _file(mask_path).shape
    try:
        found = arrays.header(zlib.decompressobj().decompress(mask, 1024))
    except zlib.error as error:
        raise BadMask(f"its stored mask cannot be decoded ({error})") from error
    return found[2] if found else read(mask, None).shape


def _file(mask_path):
    if mask_path is None:
        raise BadMask("it has no mask nor mask_path")
    pixels = cv2.imread(mask_path, cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise BadMask(f"its mask_path '{mask_path}' is missing or not an image")
    return pixels


def placed(box, mask: np.ndarray) -> Placed:
    """``mask`` placed as FiftyOne places it for box ``[x, y, w, h]``; raises ``BadMask`` (see the module)."""
    where = fit(box, mask.shape)
    if where is None:
        return Placed(None)
    foreground = mask if mask.dtype == bool else mask != 0
    return Placed(foreground, *where, int(np.count_nonzero(foreground)))


def fit(box, dims: tuple) -> tuple | None:
    """``(frame, top, left)`` of a mask of shape ``dims`` placed in box ``[x, y, w, h]`` (None: the box has no
    area); raises ``BadMask`` (see the module)."""
    if len(dims) != 2:
        raise BadMask(f"its mask has shape {dims}: give 2-D masks (height x width)")
    height, width = dims
    if not height or not width:
        raise BadMask(f"its mask has no pixels (shape {dims})")
    x, y, w, h = box
    if w <= 0 or h <= 0:
        return None
    frame_w, frame_h = round(width / w), round(height / h)
    left, top = round(x * frame_w), round(y * frame_h)
    right, bottom = round(left + w * frame_w), round(top + h * frame_h)
    if not (0 <= left and 0 <= top and right <= frame_w and bottom <= frame_h) or (bottom - top, right - left) != (
        height,
        width,
    ):
        raise BadMask(
            f"its {height}x{width} mask does not fit its box {[round(v, 4) for v in box]} in a {frame_w}x{frame_h} "
            "frame (FiftyOne places a mask at its box's corner in a frame of mask size / box size)"
        )
    return (frame_h, frame_w), top, left


def tables(preds: list, gts: list) -> list[np.ndarray]:
    """The mask IoU table of each pair of ``preds`` and ``gts`` (``Objects`` whose ``shapes`` are ``Placed``)."""
    return [_table(p, g) for p, g in zip(preds, gts, strict=True)]


def _table(preds, gts):
    table = np.zeros((len(preds.labels), len(gts.labels)))
    if not table.size:
        return table
    resized = {}
    for i, j in zip(*np.nonzero(touching(preds.boxes, gts.boxes)), strict=True):
        gt, pred = gts.shapes[j], preds.shapes[i]
        if gt.mask is None or pred.mask is None:
            continue
        if gt.frame != pred.frame:
            if gt.frame[0] * gt.frame[1] > pred.frame[0] * pred.frame[1]:
                pred = _cached(resized, ("p", i, gt.frame), pred, gt.frame)
            else:
                gt = _cached(resized, ("g", j, pred.frame), gt, pred.frame)
        table[i, j] = _iou(gt, pred)
    return table


def _iou(a, b):
    """The IoU of two masks placed in the same frame."""
    top, left = max(a.top, b.top), max(a.left, b.left)
    bottom = min(a.top + a.mask.shape[0], b.top + b.mask.shape[0])
    right = min(a.left + a.mask.shape[1], b.left + b.mask.shape[1])
    inter = 0
    if bottom > top and right > left:
        part_a = a.mask[top - a.top : bottom - a.top, left - a.left : right - a.left]
        part_b = b.mask[top - b.top : bottom - b.top, left - b.left : right - b.left]
        inter = int(np.count_nonzero(part_a & part_b))
    union = a.area + b.area - inter
    return min(inter / union, 1.0) if union else 0.0


def _cached(cache, key, mask, frame):
    if key not in cache:
        cache[key] = _resized(mask, frame)
    return cache[key]


def _resized(placed_mask, frame):
    """``placed_mask`` with its whole frame resized to ``frame`` by nearest neighbour (only its own pixels)."""
    rows, cols = _nearest(placed_mask.frame[0], frame[0]), _nearest(placed_mask.frame[1], frame[1])
    height, width = placed_mask.mask.shape
    top, bottom = np.searchsorted(rows, [placed_mask.top, placed_mask.top + height])
    left, right = np.searchsorted(cols, [placed_mask.left, placed_mask.left + width])
    mask = placed_mask.mask[np.ix_(rows[top:bottom] - placed_mask.top, cols[left:right] - placed_mask.left)]
    return Placed(mask, frame, int(top), int(left), int(np.count_nonzero(mask)))


@lru_cache(maxsize=4096)
def _nearest(source: int, target: int) -> np.ndarray:
    """For each of ``target`` pixels, the source pixel OpenCV's ``INTER_NEAREST`` resize takes."""
    step = 1.0 / (target / source)
    return np.minimum(np.floor(np.arange(target) * step).astype(int), source - 1)
