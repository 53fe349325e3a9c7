"""Label errors in semantic masks: which pixels of a ground-truth ``Segmentation`` a model's per-pixel
probabilities disagree with, grouped into regions, and a per-sample score (in the spirit of ``cleanlab.segmentation``).

Probabilities: each prediction Segmentation carries ``probabilities_path`` (``PROBABILITIES``), an ``.npy`` file of
shape ``(K, height, width)`` (float16 or float32, the layout of a segmentation model's logits): channel ``k`` is the
model's probability of pixel value ``k`` (the dataset's mask targets name the values), so ``K`` must exceed the
largest target value. Values that do not sum to 1 over the channels are taken as logits (softmax applied). The
prediction's own mask is not read.

A ground-truth pixel of value ``y`` is suspect when the model's most likely value ``m`` is more likely than ``y`` (a
tie, common in float16, is no disagreement) and has probability ``>= confidence_thresh``; its evidence of a label error
is the log-likelihood ratio ``log(p(m) / p(y))`` (nats, both probabilities floored at ``FLOOR``). Suspect pixels are
grouped into regions (4-connected components) and regions smaller than ``MIN_AREA`` of the image (at least
``MIN_PIXELS``) are dropped as speckle. A region's evidence is ``area x mean²`` of its pixels' evidence (the
likelihood-ratio statistic of one shift over the whole region): a region the model disagrees with evenly, as with a
wrong label, counts more than one of a few sure pixels among unsure ones, as where a noisy model errs. A sample's
``mistakenness`` is ``1 - exp(-E / n)``, ``E`` its regions' evidence combined by a ``REGION_NORM``-norm (a sample's
label error is mostly one region, the weak disagreements of a noisy model many) and ``n`` its labelled pixels: 0 when
the model agrees everywhere, towards 1 as more pixels are more surely mislabelled (a ranking, not a probability). Pixels
whose value is no mask target are not judged.

Written (``prefix`` before each name): sample fields ``mistakenness`` (float), ``possible_missing`` (regions labelled
background, value 0, where the model sees a class: a mask the annotators may have missed or erased),
``possible_spurious`` (regions of a class where the model sees background), and ``suspect_regions`` (Detections):
the ``MAX_REGIONS`` regions of most evidence of each sample, each with its mask, ``label`` the class the model sees,
``confidence`` its mean probability there, ``given`` the ground truth's class, ``kind`` (``possible_missing``,
``possible_spurious`` or ``class_error``), ``mistakenness`` (the region's mean margin ``p(m) - p(y)``) and ``area``
(pixels). Samples without a ground-truth mask are not scored (their fields are emptied). Masks and probabilities are
read one sample at a time, chunk by chunk; their shapes are checked from file headers before anything is written.
The run is recorded with kind ``mistakenness``.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
from scipy import ndimage

import fiftyone as fo

from ..exceptions import refuse
from ..store import masks, reads, runs, schema, views
from ..store.chunk_writes import write_chunks
from ..store.fields import MAX_KEY
from ..store.writes import rolled_back_on_failure
from . import mistakenness
from .mistakenness import KIND, MistakennessRequest

PROBABILITIES = masks.PROBABILITIES_PATH
MIN_AREA, MIN_PIXELS = 0.001, 4
FLOOR = 1e-4
REGION_NORM = 1.5
MAX_REGIONS = 20
CHUNK = 100
KINDS = ("possible_missing", "possible_spurious", "class_error")
REGION_ATTRIBUTES = {
    "given": fo.StringField,
    "kind": fo.StringField,
    "mistakenness": fo.FloatField,
    "area": fo.IntField,
}


def check(samples: fo.core.collections.SampleCollection, request: MistakennessRequest) -> list[str]:
    """Every problem with ``request`` on ``samples`` that the schema and the mask targets tell (the masks and
    probability files are checked by ``compute``, before it writes)."""
    fields = (request.pred_field, request.gt_field)
    problems = views.problems(samples, "compute_mistakenness", fields, written_fields(request))
    if problems:
        return problems
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    if not request.name("mistakenness").isidentifier() or len(request.prefix) > MAX_KEY:
        problems.append(f"Prefix '{request.prefix[:40]}' must be at most {MAX_KEY} letters, digits and underscores.")
    if not 0 <= request.confidence_thresh <= 1:
        problems.append(f"Confidence threshold {request.confidence_thresh} must be between 0 and 1.")
    if request.use_masks or request.keypoint_sigmas:
        problems.append("use_masks and keypoint_sigmas apply to Detections and Keypoints: leave them unset.")
    if request.ensemble:
        problems.append("An ensemble applies to classifications: leave 'ensemble' empty for semantic masks.")
    problems += masks.field_problems(samples, fields, "score a Segmentation field with Segmentation predictions")
    if request.pred_field == request.gt_field:
        problems.append("Choose two different fields for predictions and ground truth.")
    if problems:
        return problems
    return masks.target_problems(samples._root_dataset, fields)[1] or _existing_problems(samples._root_dataset, request)


def _existing_problems(dataset, request):
    """Problems with result fields that exist with another type."""
    expected = {**_field_types(request), request.name("suspect_regions"): fo.Detections}
    return [
        f"Field '{name}' exists with another type: choose another prefix."
        for name, kind in expected.items()
        if dataset.has_field(name) and not _holds(dataset.get_field(name), kind)
    ]


def _holds(field, kind):
    """Whether ``field`` is of field type ``kind``, or holds labels of type ``kind``."""
    return getattr(field, "document_type", None) is kind if issubclass(kind, fo.Label) else isinstance(field, kind)


def written_fields(request: MistakennessRequest) -> list[str]:
    """The sample fields a run writes."""
    return [*_field_types(request), request.name("suspect_regions")]


def _field_types(request):
    names = (request.name(w) for w in ("mistakenness", "possible_missing", "possible_spurious"))
    return dict(zip(names, (fo.FloatField, fo.IntField, fo.IntField), strict=True))


def compute(
    samples: fo.core.collections.SampleCollection,
    request: MistakennessRequest,
    progress: Callable[..., None] | bool | None = None,
    user: str | None = None,
) -> dict:
    """Scores ``samples``, writes the results back, records the run; returns the run key and counts."""
    refuse(check(samples, request))
    dataset = samples._root_dataset
    targets = masks.target_problems(dataset, (request.pred_field, request.gt_field))[0]
    refuse(_file_problems(samples, request, targets))
    fields = written_fields(request)
    counts = Counter(samples=len(samples))
    model = mistakenness._model(samples, request)
    key = runs.start_run(samples, KIND, params=asdict(request), model=model, fields=fields, user=user)
    with rolled_back_on_failure(samples, key, fields, counts, "mistakenness run") as (rollback, _):
        _declare_fields(dataset, request)
        projection = {"gt": masks.projection(request.gt_field), "probs": f"${request.pred_field}.{PROBABILITIES}"}
        documents = reads.chunks(samples, projection, CHUNK)
        results = (_chunk_results(chunk, request, targets, counts) for chunk in documents)
        write_chunks(samples, fields, rollback, results, progress)
    return {"run_key": key, **counts}


def _file_problems(samples, request, targets):
    """Why the ground-truth masks and probability files cannot be read together (headers only)."""
    top = max(targets)

    def probabilities(doc, shape):
        if not doc.get("probs"):
            return f"'{request.pred_field}' has no {PROBABILITIES}: predict with probabilities or target other samples"
        found, problem = masks.npy_shape(doc["probs"])
        if problem:
            return f"{PROBABILITIES}: {problem}"
        if len(found) != 3 or found[1:] != shape or found[0] <= top:
            return (
                f"{PROBABILITIES} '{doc['probs']}' has shape {found}: give (K, {shape[0]}, {shape[1]}) with K > {top}, "
                "one channel per pixel value"
            )
        return None

    spec = {"probs": f"${request.pred_field}.{PROBABILITIES}"}
    return masks.shape_problems(samples, {"gt": request.gt_field}, CHUNK, (spec, probabilities))


def _chunk_results(chunk, request, targets, counts):
    ids, updates = [], []
    for doc in chunk:
        mask = masks.read(doc.get("gt"))
        ids.append(doc["_id"])
        if mask is None:
            counts["unscored"] += 1
            updates.append(dict.fromkeys(written_fields(request)))
            continue
        score, regions = score_sample(np.load(doc["probs"]), mask, targets, request.confidence_thresh)
        kinds = Counter(r["kind"] for r in regions)
        counts.update({kind: kinds[kind] for kind in KINDS})
        counts["scored"] += 1
        update = {request.name("mistakenness"): score}
        update.update({request.name(kind): kinds[kind] for kind in KINDS[:2]})
        update[request.name("suspect_regions")] = _detections(regions[:MAX_REGIONS], targets, mask.shape).to_mongo()
        updates.append(update)
    return ids, updates


def score_sample(
    probabilities: np.ndarray, mask: np.ndarray, targets: dict[int, str], threshold: float
) -> tuple[float, list[dict]]:
    """``(mistakenness, regions by evidence, most first)`` of one ground-truth ``mask`` given the model's
    ``probabilities`` (``K x H x W``); each region a dict of ``pixels`` (a boolean mask), ``slices``, ``given``,
    ``seen`` (pixel values), ``confidence``, ``mistakenness``, ``area``, ``evidence`` (area x mean² of its pixels'
    evidence) and ``kind``."""
    probs = _normalised(np.asarray(probabilities, dtype=np.float32))
    values = np.asarray(mask, dtype=np.int64)
    listed = np.isin(values, list(targets))
    given = np.where(listed, values, 0)
    own = np.take_along_axis(probs, given[None], axis=0)[0]
    seen, best = probs.argmax(axis=0), probs.max(axis=0)
    suspect = listed & (best > own) & (best >= threshold)  # a tie is no disagreement, whichever argmax picks
    components, count = ndimage.label(suspect)
    if not count:
        return 0.0, []
    flat = components.ravel()
    area = np.bincount(flat, minlength=count + 1)
    evidence = np.bincount(flat, weights=np.log((best + FLOOR) / (own + FLOOR)).ravel(), minlength=count + 1) ** 2
    evidence /= np.maximum(area, 1)
    margin = np.bincount(flat, weights=(best - own).ravel(), minlength=count + 1)
    kept = [i for i in range(1, count + 1) if area[i] >= max(MIN_PIXELS, MIN_AREA * values.size)]
    combined = (evidence[kept] ** REGION_NORM).sum() ** (1 / REGION_NORM)
    score = float(1.0 - np.exp(-combined / max(int(listed.sum()), 1)))
    confidence = np.bincount(flat, weights=best.ravel(), minlength=count + 1)
    slices = ndimage.find_objects(components)
    regions = []
    for i in sorted(kept, key=lambda i: -evidence[i]):
        box = slices[i - 1]
        pixels = components[box] == i
        region_given, region_seen = (int(np.bincount(v[box][pixels]).argmax()) for v in (given, seen))
        regions.append(
            {
                "pixels": pixels,
                "slices": box,
                "given": region_given,
                "seen": region_seen,
                "confidence": float(confidence[i] / area[i]),
                "mistakenness": float(margin[i] / area[i]),
                "area": int(area[i]),
                "evidence": float(evidence[i]),
                "kind": _kind(region_given, region_seen, 0 in targets),
            }
        )
    return score, regions


def _kind(given, seen, background):
    if background and given == 0:
        return "possible_missing"
    if background and seen == 0:
        return "possible_spurious"
    return "class_error"


def _normalised(probs):
    """``probs`` when they sum to 1 over the channels, else their softmax (they are logits)."""
    if np.allclose(probs.sum(axis=0), 1.0, atol=1e-2):
        return probs
    shifted = np.exp(probs - probs.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def _detections(regions, targets, shape):
    """The regions as Detections with masks (boxes relative to the image of ``shape``)."""
    height, width = shape
    detections = []
    for region in regions:
        rows, cols = region["slices"]
        box = [
            cols.start / width,
            rows.start / height,
            (cols.stop - cols.start) / width,
            (rows.stop - rows.start) / height,
        ]
        detections.append(
            fo.Detection(
                label=targets.get(region["seen"], str(region["seen"])),
                bounding_box=box,
                mask=region["pixels"],
                confidence=region["confidence"],
                given=targets.get(region["given"], str(region["given"])),
                kind=region["kind"],
                mistakenness=region["mistakenness"],
                area=region["area"],
            )
        )
    return fo.Detections(detections=detections)


def _declare_fields(dataset, request):
    """Declares the written fields and the regions' attributes (so the App can filter on them); indexes the score."""
    regions = request.name("suspect_regions")
    with schema.changing(dataset):
        for name, kind in _field_types(request).items():
            if not dataset.has_field(name):
                dataset.add_sample_field(name, kind)
        if not dataset.has_field(regions):
            dataset.add_sample_field(regions, fo.EmbeddedDocumentField, embedded_doc_type=fo.Detections)
        for name, kind in REGION_ATTRIBUTES.items():
            if not dataset.has_field(f"{regions}.detections.{name}"):
                dataset.add_sample_field(f"{regions}.detections.{name}", kind)
    dataset.create_index([(request.name("mistakenness"), -1), ("id", 1)])
