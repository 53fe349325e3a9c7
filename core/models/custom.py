"""A team's own model: an ONNX file, a model behind an inference endpoint, or a FiftyOne model (object or config).
What each can do (``plan``, checked before anything is written) and its predictor (``load``)."""

from ..exceptions import ModelError
from . import source as M
from . import tasks
from .endpoint import EndpointClient, EndpointSettings, check_metadata, endpoint_predictor
from .predictor import Predictor
from .tensor import TensorSpec, load_spec

KINDS = (M.ONNX, M.ENDPOINT, M.FIFTYONE)
ENDPOINT_OPTIONS = ("version", "verify_tls", "timeout", "retries")
"""The ``ModelSource.options`` that are ``EndpointSettings`` values (besides ``url``)."""


def spec_of(source: M.ModelSource) -> TensorSpec:
    """The pre/post-processing spec of an ONNX or endpoint source."""
    return load_spec(source.options.get("spec"), source.name if source.kind == M.ONNX else None)


def endpoint_settings(source: M.ModelSource) -> EndpointSettings:
    """The endpoint settings of an endpoint source, or a ModelError saying what is wrong with them."""
    given = {key: source.options[key] for key in ENDPOINT_OPTIONS if source.options.get(key) is not None}
    settings = EndpointSettings(url=(source.options.get("url") or "").strip(), model=source.name, **given)
    problems = settings.problems()
    if problems:
        raise ModelError(" ".join(problems))
    return settings


def plan(source: M.ModelSource, task: str | None) -> tuple[str, list[str] | None]:
    """The task that will run and the class names of the model (None when it does not say); an endpoint is asked
    for its model's metadata once (no retries), so a form says at once when it is down."""
    if task == tasks.EMBEDDING:
        raise ModelError(f"Embeddings take a transformers or zoo model, not a '{source.kind}' source.")
    if source.kind == M.FIFTYONE:
        from .fiftyone_model import model_for, task_of

        model = model_for(source.name)
        return task_of(model, task), list(getattr(model, "classes", None) or []) or None
    spec = spec_of(source)
    if task is not None and task != spec.task:
        raise ModelError(f"The model's spec declares task '{spec.task}', not '{task}': choose '{spec.task}'.")
    if source.kind == M.ONNX:
        from .onnx import check_file

        check_file(source.name)
    else:
        client = EndpointClient(endpoint_settings(source), source.token)
        check_metadata(client.metadata(attempts=1), spec, source.name)
    return spec.task, spec.class_names


def load(source: M.ModelSource, task: str | None, device: str, **options) -> Predictor:
    """The predictor of ``source`` (its outputs checked against its spec on one blank image first).
    ``options``: threshold, top_k, store_logits."""
    if source.kind == M.FIFTYONE:
        from .fiftyone_model import FiftyOneModelPredictor, model_for, task_of

        model = model_for(source.name)
        options.pop("top_k", None)
        return FiftyOneModelPredictor(model, task_of(model, task), **options)
    spec = spec_of(source)
    if source.kind == M.ONNX:
        from .onnx import onnx_predictor

        return onnx_predictor(source.name, spec, device, **options)
    return endpoint_predictor(EndpointClient(endpoint_settings(source), source.token), spec, **options)
