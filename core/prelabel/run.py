"""Pre-labelling: apply a model to a collection in streamed batches and write its labels in bulk, with provenance.

Images are decoded on worker threads while the previous batch runs through the model; each batch is written with
one bulk ``set_values`` call, so an interrupted run keeps every finished batch and a rerun resumes where it stopped
(samples that already have the output field are skipped unless ``overwrite``).
"""

from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice

from PIL import Image

import fiftyone as fo
import fiftyone.core.utils as fou

from ..exceptions import ModelError, refuse
from ..models import custom, tasks
from ..models import source as M
from ..models.predictor import Predictor
from ..store import fields as L
from ..store import jobs, schema, views
from ..store.declared import FieldGuard
from . import mapping, masks, probabilities

UNKNOWN_POLICIES = ("keep", "drop", "error")
RESERVED_FIELDS = {"id", "_id", "filepath", "tags", "metadata", "created_at", "last_modified_at"}
MAX_REPORTED_FAILURES = 20
GUARD_INTERVAL = 0.5  # seconds between checks that nobody deleted the output field (two queries; ~10 % per batch)


@dataclass
class PrelabelRequest:
    """What to run and where to write it; see ``check`` for the rules each value must meet."""

    source: M.ModelSource
    output_field: str = "predictions"
    task: str | None = None
    prompts: list[str] = field(default_factory=list)
    threshold: float = 0.0
    top_k: int = 1
    class_map: dict[str, str] = field(default_factory=dict)
    unknown_labels: str = "keep"
    batch_size: int = 16
    device: str = "cpu"
    store_logits: bool = False
    overwrite: bool = False
    allow_human_labels: bool = False
    num_workers: int = 2
    prompt_field: str | None = None  # masks from boxes: the Detections field whose boxes prompt the model
    polygons: bool = False  # instance masks written as polygons (Polylines)
    tolerance: float = 2.0  # pixels of polygon approximation (``Detections.to_polylines``)

    def params(self) -> dict:
        """The request as JSON-friendly run parameters."""
        values = dict(self.__dict__)
        values["source"] = self.source.params()
        return values


def check(samples: fo.core.collections.SampleCollection, request: PrelabelRequest) -> list[str]:
    """Every problem with ``request`` on ``samples`` that can be found without running the model, as messages."""
    operator = "compute_embeddings" if request.task == tasks.EMBEDDING else "prelabel"
    refused = views.problems(samples, operator, reads=[request.prompt_field], writes=[request.output_field])
    if refused:
        return refused
    problems = _check_values(request) + _check_field_name(request.output_field)
    if len(samples) == 0:
        problems.append("The target view has no samples: choose the whole dataset or a non-empty view.")
    if problems:
        return problems
    try:
        task, model_labels = plan(request)
    except M.NotCached:
        return []  # a form's look-up (``models.source.cached_only``): the run fetches the model and checks it then
    except ModelError as error:
        return [str(error)]
    return (
        _check_prompts(request, task)
        or masks.problems(samples, request, task)
        or _check_field_type(samples, request, task)
        or _check_human_labels(samples, request)
        or _check_classes(samples._root_dataset, request, model_labels)
    )


def plan(request: PrelabelRequest) -> tuple[str, list[str] | None]:
    """The task that will run and the labels the model can output (None when only known after loading)."""
    if request.source.kind in custom.KINDS:
        return custom.plan(request.source, request.task)
    if request.source.kind == M.HF:
        config = M.hf_config(request.source.name)
        task = M.check_task(request.source.name, config, request.task)
        if task in tasks.ZERO_SHOT_TASKS + tasks.PROMPTED_TASKS:
            return task, list(request.prompts) or None
        id2label = getattr(config, "id2label", None) or {}
        return task, [id2label[i] for i in sorted(id2label)] or None
    from ..models.zoo import zoo_task

    entry = M.zoo_entry(request.source.name)
    return request.task or zoo_task(entry), list(request.prompts) or None


def load_predictor(request: PrelabelRequest) -> Predictor:
    """The predictor for ``request`` (loads the model)."""
    if request.source.kind in custom.KINDS:
        options = dict(threshold=request.threshold, top_k=request.top_k, store_logits=request.store_logits)
        return custom.load(request.source, request.task, request.device, **options)
    if request.source.kind == M.HF:
        from ..models.hf import HFPredictor

        task, _ = plan(request)
        return HFPredictor(
            request.source.name,
            task,
            device=request.device,
            prompts=request.prompts,
            threshold=request.threshold,
            top_k=request.top_k,
            store_logits=request.store_logits,
        )
    from ..models.zoo import ZooPredictor

    return ZooPredictor(
        request.source,
        task=request.task,
        threshold=request.threshold,
        store_logits=request.store_logits,
        prompts=request.prompts,
    )


def prelabel(
    samples: fo.core.collections.SampleCollection,
    request: PrelabelRequest,
    *,
    progress: bool | Callable[..., None] | None = None,
    user: str | None = None,
    part: jobs.Part | None = None,
) -> dict:
    """Runs ``request`` on ``samples``; returns the run key and counts. Raises ValueError on bad input, and
    ``exceptions.FieldBusy`` when another run is writing the output field.

    ``progress`` is FiftyOne's: True/False for a terminal bar, or a callable taking the ProgressBar.
    With ``part``, this is one part of a job (a shard of a scaled-out request, a distributed task): the parts share
    one run and the output field's lease.
    """
    refuse(check(samples, request))
    predictor = masks.as_requested(load_predictor(request), request)
    _check_loaded_classes(samples._root_dataset, request, predictor.labels)
    model = M.identity(request.source)  # hashes the model's files: once per run
    counts = {"samples": len(samples)}
    with jobs.recorded_run(
        samples,
        "prelabel" if predictor.task != tasks.EMBEDDING else "embeddings",
        counts,
        part=part,
        params=request.params(),
        model=model,
        fields=[request.output_field],
        user=user,
    ) as key:
        todo = samples if request.overwrite else samples.exists(request.output_field, False)
        counts["skipped_existing"] = len(samples) - len(todo)
        _declare_field(samples._root_dataset, request.output_field, predictor.label_type)
        counts.update(_run(todo, request, predictor, {L.PROVENANCE_ATTRIBUTE: model, L.PRELABEL_RUN: key}, progress))
        _finish_schema(samples._root_dataset, request, predictor)
    return {"run_key": key, "task": predictor.task, **counts}


def _run(todo, request, predictor, provenance, progress):
    ids, paths = todo.values(["id", "filepath"])
    mapper = mapping.LabelMapper(request.class_map, request.unknown_labels, _dataset_names_or_none(todo, request))
    size = request.batch_size
    batches = [range(i, min(i + size, len(ids))) for i in range(0, len(ids), size)]
    counts = {"written": 0, "labels": 0, "failed_images": 0, "failures": []}
    bar = fou.ProgressBar(total=len(ids), progress=progress)
    guard = FieldGuard(todo._root_dataset, request.output_field, interval=GUARD_INTERVAL)
    folder = probabilities.directory(todo._root_dataset, request.output_field)
    with ThreadPoolExecutor(max(1, request.num_workers)) as pool, ThreadPoolExecutor(1) as writer, bar:
        upcoming = iter(batches)
        ahead = deque(pool.submit(_prepare, predictor, paths, b) for b in islice(upcoming, request.num_workers + 1))
        written = None  # the write in flight: batch n is written while batch n + 1 runs through the model
        for batch in batches:
            ok, failures, prepared = ahead.popleft().result()
            ahead.extend(pool.submit(_prepare, predictor, paths, b) for b in islice(upcoming, 1))
            prompts = masks.prompts(todo, request.prompt_field, [ids[i] for i in ok])
            predictions = _predict(predictor, prepared, prompts)
            values = {ids[i]: mapping.finish(p, mapper, provenance) for i, p in zip(ok, predictions, strict=True)}
            probabilities.saved(values, folder)
            if written is not None:
                written.result()
            written = writer.submit(_write, todo, guard, values)
            _add_counts(counts, values, failures)
            bar.set_iteration(batch.stop)
        if written is not None:
            written.result()
    guard.check([])  # the last write is always checked
    _declare_attributes(todo._root_dataset, request.output_field)
    return {**counts, "dropped_unknown": mapper.dropped}


def _prepare(predictor, paths, batch):
    """Decodes a batch (on a worker thread) and prepares the model inputs of the readable images; an image the
    processor rejects (e.g. 10000x10, resized to height 0) is dropped and reported like an unreadable one."""
    images = {i: _load_image(paths[i]) for i in batch}
    ok = [i for i in batch if not isinstance(images[i], Exception)]
    try:
        prepared = predictor.prepare([images[i] for i in ok]) if ok else None
    except Exception:  # rare: find the culprits one by one, then prepare the rest as one batch again
        images.update({i: _prepare_error(predictor, images[i]) or images[i] for i in ok})
        ok = [i for i in ok if not isinstance(images[i], Exception)]
        prepared = predictor.prepare([images[i] for i in ok]) if ok else None
    failures = [f"{paths[i]}: {images[i]}" for i in batch if i not in ok]
    return ok, failures, prepared


def _prepare_error(predictor, image):
    """Why the model's processor rejects ``image`` alone, or None when it does not."""
    try:
        predictor.prepare([image])
    except Exception as error:
        return ValueError(f"the model cannot take this {image.width}x{image.height} image ({error})")
    return None


def _load_image(path):
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except Exception as error:  # a corrupt or missing file is counted and reported, never fatal
        return error


def _predict(predictor, prepared, prompts):
    if prepared is None:
        return []
    return predictor.predict(prepared) if prompts is None else predictor.predict(prepared, prompts)


def _write(samples, guard, values):
    """One bulk write into the declared field (schema expansion per value is the slow part of ``set_values``), then
    ``guard``'s check that nobody deleted the field meanwhile."""
    if values:
        samples.set_values(guard.field, values, key_field="id", expand_schema=False)
        guard.check(values, last=False)


def _declare_field(dataset, field_name, label_cls):
    """Declares the output field before the first write, so that batches never expand the schema."""
    if dataset.has_field(field_name):
        return
    with schema.changing(dataset):
        if dataset.has_field(field_name):  # declared by another shard meanwhile
            return
        if label_cls is None:
            dataset.add_sample_field(field_name, fo.VectorField)
        else:
            dataset.add_sample_field(field_name, fo.EmbeddedDocumentField, embedded_doc_type=label_cls)


def _declare_attributes(dataset, field_name):
    with schema.changing(dataset):
        if dataset.has_field(field_name):
            dataset.add_dynamic_sample_fields(fields=[field_name])


def _add_counts(counts, values, failures):
    counts["written"] += len(values)
    counts["labels"] += sum(mapping.count(value) for value in values.values())
    counts["failed_images"] += len(failures)
    counts["failures"] += failures[: MAX_REPORTED_FAILURES - len(counts["failures"])]


def _finish_schema(dataset, request, predictor):
    if predictor.task == tasks.SEMANTIC_SEGMENTATION and predictor.labels:
        dataset.mask_targets[request.output_field] = dict(enumerate(predictor.labels))
        dataset.save()
    masks.set_skeleton(dataset, request.output_field, predictor)


def _check_values(request):
    problems = []
    if not 0.0 <= request.threshold <= 1.0:
        problems.append(f"Confidence threshold {request.threshold} is outside [0, 1].")
    if request.top_k < 1:
        problems.append(f"top_k must be at least 1 (got {request.top_k}).")
    if request.batch_size < 1:
        problems.append(f"Batch size must be at least 1 (got {request.batch_size}).")
    if request.unknown_labels not in UNKNOWN_POLICIES:
        choices = ", ".join(UNKNOWN_POLICIES)
        problems.append(f"Unknown-label policy '{request.unknown_labels}': choose one of {choices}.")
    if request.task in tasks.ZERO_SHOT_TASKS and not request.prompts:
        problems.append(f"Task '{request.task}' needs class prompts: give the names of the classes to look for.")
    if request.device not in available_devices():
        devices = ", ".join(available_devices())
        problems.append(f"Device '{request.device}' is not available here: use one of {devices}.")
    return problems


def _check_field_name(name):
    if (name or "").strip() in RESERVED_FIELDS:
        return [f"'{name}' cannot be an output field: give a new top-level field name such as 'predictions'."]
    return L.field_name_problems(name)


def _check_prompts(request, task):
    if request.prompts and task not in tasks.ZERO_SHOT_TASKS:
        return [
            f"This model is not zero-shot: prompts are for zero-shot tasks ({', '.join(tasks.ZERO_SHOT_TASKS)}). "
            "Leave the prompts empty, or choose a zero-shot model and task."
        ]
    return []


def _check_human_labels(samples, request):
    human = 0 if request.allow_human_labels else L.count_human_labels(samples._root_dataset, request.output_field)
    if human:
        return [
            f"Field '{request.output_field}' holds {human} labels not written by a model (human labels): choose "
            "another output field, or allow writing into a field with human labels explicitly."
        ]
    return []


def _check_field_type(samples, request, task):
    existing = samples._root_dataset.get_field(request.output_field)
    if existing is None:
        return []
    expected = tasks.label_class(task, request.top_k, request.polygons)
    actual = getattr(existing, "document_type", None)
    if expected is None:
        ok = isinstance(existing, (fo.VectorField, fo.ArrayField))
        wanted = "an embeddings (vector) field"
    else:
        ok = actual is expected
        wanted = f"a {expected.__name__} field"
    if ok:
        return []
    found = actual.__name__ if actual else type(existing).__name__
    field_name = request.output_field
    return [f"Field '{field_name}' holds {found}, but this model writes {wanted}: choose another output field."]


def _check_classes(dataset, request, model_labels):
    problems = []
    names = L.dataset_label_names(dataset, exclude=request.output_field)
    unknown_targets = sorted(set(request.class_map.values()) - names) if names else []
    if request.class_map and not names:
        problems.append("The class mapping needs label names in the dataset, but it has no labels to map onto.")
    if unknown_targets:
        problems.append(
            f"The class mapping maps onto names not in the dataset: {', '.join(unknown_targets)}. "
            f"Known names: {', '.join(sorted(names)[:30])}."
        )
    if not problems and model_labels is not None and request.unknown_labels == "error":
        problems += mapping.unknown_label_errors(model_labels, request.class_map, names)
    return problems


def _check_loaded_classes(dataset, request, model_labels):
    refuse(_check_classes(dataset, request, model_labels or None))


def _dataset_names_or_none(samples, request):
    if request.unknown_labels == "keep" and not request.class_map:
        return None
    return L.dataset_label_names(samples._root_dataset, exclude=request.output_field)


def available_devices() -> list[str]:
    """The devices inference can run on here."""
    import torch

    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
