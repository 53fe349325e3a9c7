"""FiftyOne's stored arrays (``numpy.save`` bytes, zlib-compressed in the document) decoded fast: the ``.npy``
header is read with one regular expression instead of ``numpy.load``'s parser, which costs more than the data for
small arrays (a mask, an embedding)."""

import io
import math
import re

import numpy as np

HEADER = re.compile(rb"\{'descr': '([^']+)', 'fortran_order': (True|False), 'shape': \(([\d, ]*)\), \}")


def decoded(data: bytes) -> np.ndarray:
    """The array of a ``.npy`` payload (a plain one without ``numpy.load``'s slow header parsing)."""
    found = header(data)
    if found is None:
        return np.load(io.BytesIO(data), allow_pickle=False)
    dtype, fortran, dims, offset = found
    array = np.frombuffer(data, dtype=dtype, count=math.prod(dims), offset=offset)
    return array.reshape(dims, order="F" if fortran else "C")


def header(data: bytes) -> tuple | None:
    """``(dtype, fortran order, shape, data offset)`` of a plain ``.npy`` payload's start, else None."""
    if data[:6] != b"\x93NUMPY" or len(data) < 12:
        return None
    start = 10 if data[6] == 1 else 12  # version 1 has a 2-byte header length, later ones 4
    size = int.from_bytes(data[8:start], "little")
    found = HEADER.match(data, start)
    if not found or np.dtype(found[1].decode()).hasobject:
        return None
    dims = tuple(int(v) for v in found[3].split(b",") if v.strip())
    return np.dtype(found[1].decode()), found[2] == b"True", dims, start + size
