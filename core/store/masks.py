"""Semantic masks (``Segmentation`` fields) read in bulk: their mask targets, their shapes from headers only (for
checks before a run writes anything) and the masks themselves from raw documents (``reads.chunks``).

A mask is the label's ``mask`` (a compressed ``.npy`` stored in the document) or the image behind its ``mask_path``;
integer masks only (RGB masks are refused). A Segmentation without either has no mask (None).
"""

import io
import os
import zlib
from collections.abc import Callable, Iterable, Mapping

import numpy as np
from PIL import Image

import fiftyone as fo
import fiftyone.core.utils as fou

from . import reads
from .fields import label_type

PROBABILITIES_PATH = "probabilities_path"
"""The attribute of a predicted Segmentation naming its ``.npy`` file of (K, H, W) per-pixel class probabilities."""
HEADER_BYTES = 512  # an .npy header fits in this many decompressed bytes
EXAMPLES = 3  # problems name at most this many samples


def targets(dataset: fo.Dataset, field: str) -> dict[int, str] | None:
    """The mask targets of ``field`` (its own, else the dataset's default), keys as ints; None when there are none."""
    found = dataset.mask_targets.get(field) or dataset.default_mask_targets or None
    return {int(k): str(v) for k, v in found.items()} if found and _integer_keys(found) else found


def _integer_keys(found: dict) -> bool:
    return all(isinstance(k, int) or (isinstance(k, str) and k.isdigit()) for k in found)


def field_problems(samples: fo.core.collections.SampleCollection, fields: Iterable[str], instead: str) -> list[str]:
    """A problem for each of ``fields`` that is no Segmentation field of ``samples``, ending with ``instead``."""
    problems = []
    for name in fields:
        found = label_type(samples, name)
        if found is not fo.Segmentation:
            held = f"holds {found.__name__}" if found else "is not a label field of the dataset"
            problems.append(f"'{name}' {held}: {instead}.")
    return problems


def target_problems(dataset: fo.Dataset, fields: Iterable[str]) -> tuple[dict[int, str] | None, list[str]]:
    """``(targets, problems)``: the mask targets the ``fields`` share; problems when none has targets, when they
    differ, or when they are RGB (hex) targets."""
    found = {name: targets(dataset, name) for name in fields}
    known = {name: t for name, t in found.items() if t}
    if not known:
        names = ", ".join(f"'{n}'" for n in found)
        return None, [
            f"No mask targets for {names}: set dataset.mask_targets['<field>'] = {{0: 'background', 1: 'cat', ...}} "
            "(or dataset.default_mask_targets) so pixel values name classes."
        ]
    first = next(iter(known.values()))
    if not all(isinstance(k, int) for k in first):
        return None, ["RGB (hex) mask targets are not supported: use integer masks and integer mask targets."]
    differ = [name for name, t in known.items() if t != first]
    if differ:
        shown = "; ".join(f"'{n}': {known[n]}" for n in known)
        return None, [f"The fields' mask targets differ ({shown}): give them the same pixel value -> class map."]
    return first, []


def projection(field: str) -> dict:
    """The ``$project`` spec of one Segmentation field's mask and mask path."""
    return {"mask": f"${field}.mask", "path": f"${field}.mask_path"}


def read(value: dict | None) -> np.ndarray | None:
    """The mask of a projected Segmentation (``projection``), as a 2-d integer array; None when it has none."""
    value = value or {}
    if value.get("mask") is not None:
        return fou.deserialize_numpy_array(value["mask"])
    if value.get("path"):
        return fo.Segmentation(mask_path=value["path"]).get_mask()
    return None


def shape(value: dict | None) -> tuple[tuple[int, ...] | None, str | None]:
    """``(shape, problem)`` of a projected Segmentation, from its header only: shape None without a mask; a problem
    when its file is missing or unreadable or it is not a 2-d integer mask."""
    value = value or {}
    if value.get("mask") is not None:
        found, dtype = _npy_header(zlib.decompressobj().decompress(value["mask"], HEADER_BYTES))
    elif value.get("path"):
        path = value["path"]
        if not os.path.isfile(path):
            return None, f"mask_path '{path}' does not exist"
        try:
            with Image.open(path) as image:
                bands = len(image.getbands())
                found, dtype = (image.height, image.width, *((bands,) * (bands > 1))), None
        except OSError as error:
            return None, f"mask_path '{path}' is not a readable image ({error})"
    else:
        return None, None
    if len(found) != 2 or (dtype is not None and dtype.kind not in "iub"):
        return None, f"the mask has shape {found} and type {dtype or 'RGB'}: give a 2-d integer mask"
    if 0 in found:
        return None, f"the mask is empty (shape {found}): give a mask of the image's size"
    return found, None


def npy_shape(path: str) -> tuple[tuple[int, ...] | None, str | None]:
    """``(shape, problem)`` of the ``.npy`` file ``path``, from its header only."""
    if not path or not os.path.isfile(path):
        return None, f"file '{path}' does not exist"
    try:
        return np.load(path, mmap_mode="r").shape, None
    except (OSError, ValueError) as error:
        return None, f"file '{path}' is not a readable .npy array ({error})"


def _npy_header(head: bytes) -> tuple[tuple[int, ...], np.dtype]:
    stream = io.BytesIO(head)
    version = np.lib.format.read_magic(stream)
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    found, _, dtype = reader(stream)
    return found, dtype


def shape_problems(
    samples: fo.core.collections.SampleCollection,
    fields: Mapping[str, str],
    size: int,
    more: tuple[dict, Callable[[dict, tuple[int, ...]], str | None]] | None = None,
) -> list[str]:
    """Why the masks of ``fields`` ({role: Segmentation field}) cannot be read together, from headers only: a
    missing or unreadable file, not a 2-d integer mask, shapes that differ between the fields or from the image's
    ``metadata`` (when computed); ``more``: a projection and a check of each document against its mask shape (e.g.
    of a probabilities file). One pass over the samples, ``size`` at a time."""
    spec = {role: projection(field) for role, field in fields.items()}
    spec |= {"_size": ["$metadata.height", "$metadata.width"], **(more[0] if more else {})}
    found = []
    for chunk in reads.chunks(samples, spec, size):
        for doc in chunk:
            problem = _document_problem(doc, fields, more[1] if more else None)
            if problem:
                found.append((doc["_id"], problem))
    return summarised(found, "Fix or remove these masks, then run again.")


def _document_problem(doc, fields, check):
    shapes = {}
    for role, field in fields.items():
        found, problem = shape(doc.get(role))
        if problem:
            return f"'{field}': {problem}"
        if found is not None:
            shapes[field] = found
    if len(set(shapes.values())) > 1:
        return "the masks' shapes differ (" + ", ".join(f"'{f}' {s}" for f, s in shapes.items()) + ")"
    image = tuple(doc.get("_size") or ())
    first = next(iter(shapes.values()), None)
    if first is not None and None not in image and len(image) == 2 and first != image:
        return f"the masks have shape {first} but the image is {image[0]} x {image[1]} (height x width)"
    return check(doc, first) if check and first is not None else None


def summarised(problems: list[tuple[object, str]], what: str) -> list[str]:
    """One message for ``(sample id, problem)`` pairs: how many samples, a few examples, and ``what`` to do."""
    if not problems:
        return []
    shown = "; ".join(f"sample {_id}: {problem}" for _id, problem in problems[:EXAMPLES])
    more = f" (and {len(problems) - EXAMPLES} more)" if len(problems) > EXAMPLES else ""
    return [f"{len(problems)} samples have bad masks: {shown}{more}. {what}"]
