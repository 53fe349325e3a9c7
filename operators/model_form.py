"""The model-source part of operator forms (hub id or local directory, zoo name, ONNX file, inference endpoint,
FiftyOne model config) and its SDK parameters."""

import dataclasses
import json
from collections.abc import Mapping

from fiftyone.operators import types

from ..core.models import source as models
from ..core.models import tasks
from ..core.models.endpoint import TOKEN_SECRET, EndpointSettings
from ..core.prelabel import run as prelabel
from ..core.store import lease
from . import common, sharding

SOURCE_LABELS = {
    models.HF: "Hugging Face transformers (hub id or local directory)",
    models.ZOO: "FiftyOne Model Zoo (built-in and registered sources)",
    models.ONNX: "ONNX file",
    models.ENDPOINT: "Deployed model (Open Inference Protocol endpoint: Triton, KServe, MLServer)",
    models.FIFTYONE: "FiftyOne model config (JSON)",
}
EMBEDDING_SOURCES = (models.HF, models.ZOO)
"""The sources that compute embeddings (the others pre-label only)."""
MODEL_PARAMS = {
    "model_source": common.STR,
    "model": common.STR.described(
        "a hub id, a local model directory, a zoo model name, an ONNX file, the endpoint's model name, or a FiftyOne "
        "model (an object, or its config as a dict)"
    ),
    "spec": common.STR.described("the model's spec: a dict, its JSON text, or the path of a .json file"),
    "endpoint_url": common.STR,
    "verify_tls": common.BOOL,
    "endpoint_timeout": common.NUMBER,
    "endpoint_retries": common.INT,
    "zoo_name_or_path": common.STR,
    "zoo_kwargs": common.DICT.described("a dict of zoo model arguments, e.g. {'name_or_path': a hub id}"),
    "task": common.STR,
    "prompts": common.STR.described("a list or a comma-separated string of class prompts"),
    "batch_size": common.INT,
    "device": common.STR,
}
"""The types of the model params (see ``common.check_types``)."""
REQUEST = prelabel.PrelabelRequest
"""Where the defaults of the model forms come from."""
_REQUEST_PARAMS = {
    **dict.fromkeys(("output_field", "unknown_labels", "device"), str),
    **dict.fromkeys(("store_logits", "overwrite", "allow_human_labels"), bool),
    "threshold": float,
    "top_k": int,
    "batch_size": int,
}
"""The params that are ``PrelabelRequest`` values as they are, with their type."""


def add_model_inputs(ctx, inputs, task_choices):
    """Adds the model source, model and task inputs; returns whether a model has been given."""
    source = ctx.params.get("model_source") or models.HF
    choices = types.RadioGroup()
    offered = EMBEDDING_SOURCES if task_choices == [tasks.EMBEDDING] else models.KINDS
    for kind in offered:
        choices.add_choice(kind, label=SOURCE_LABELS[kind])
    inputs.enum("model_source", choices.values(), default=models.HF, label="Model source", view=choices)
    if source == models.ZOO:
        names = types.AutocompleteView()
        for name, label in zoo_model_choices():
            names.add_choice(name, label=label)
        inputs.str("model", label="Zoo model", required=True, view=names)
        inputs.str(
            "zoo_name_or_path",
            label="name_or_path",
            description="For the *-transformer-torch zoo entries: a hub id or a local model directory",
        )
    elif source in (models.ONNX, models.ENDPOINT):
        _add_tensor_model_inputs(inputs, source)
    elif source == models.FIFTYONE:
        inputs.str("model", label="Model config", required=True, description=FIFTYONE_DESCRIPTION)
    else:
        inputs.str("model", label="Model", required=True, description="A Hugging Face hub id or a local directory")
    if source not in (models.ONNX, models.ENDPOINT):
        common.choice(inputs, "task", ["auto", *task_choices], "auto", "Task", description="auto: from the model")
    if ctx.params.get("task") in tasks.ZERO_SHOT_TASKS:
        inputs.str("prompts", label="Class prompts", description="Comma-separated class names")
    return bool(ctx.params.get("model"))


FIFTYONE_DESCRIPTION = (
    'A FiftyOne model config a worker can build, e.g. {"type": "fiftyone.utils.torch.TorchImageModel", "config": '
    '{"entrypoint_fcn": "yourpackage.build", "entrypoint_args": {...}, "classes": [...], "output_processor_cls": ...}}'
)
SPEC_DESCRIPTION = (
    'The pre/post-processing spec, JSON or a .json file path: {"task": "classification" or "detection", '
    '"input_size": [height, width], "class_names": [...], "mean": [r, g, b], "std": [r, g, b], "outputs": {...}}'
)


def _add_tensor_model_inputs(inputs, source):
    defaults = EndpointSettings("", "")
    if source == models.ONNX:
        inputs.str("model", label="ONNX file", required=True, description="The path of the exported .onnx file")
        inputs.str("spec", label="Spec", description=SPEC_DESCRIPTION + " (default: <model>.json beside the file)")
        return
    inputs.str("endpoint_url", label="Endpoint URL", required=True, description="e.g. https://triton.internal:8000")
    inputs.str("model", label="Model name", required=True, description="The name the endpoint serves the model under")
    inputs.str("spec", label="Spec", required=True, description=SPEC_DESCRIPTION)
    inputs.bool(
        "verify_tls",
        default=defaults.verify_tls,
        label="Verify the TLS certificate",
        description=f"Credentials: a bearer token in the {TOKEN_SECRET} plugin secret (environment variable)",
    )
    inputs.float("endpoint_timeout", default=defaults.timeout, min=0.1, label="Timeout per request (s)")
    inputs.int("endpoint_retries", default=defaults.retries, min=0, label="Retries (with backoff)")


def zoo_model_choices() -> list[tuple[str, str]]:
    """The zoo models as (name, label): those of the remote sources a team registered
    (``foz.register_zoo_model_source``) first, labelled with their source, then the built-in ones."""
    import fiftyone.zoo as foz

    registered = {}
    for url in foz.list_zoo_model_sources():
        registered.update({name: f"{name} ({url})" for name in foz.list_zoo_models(source=url)})
    built_in = [(name, name) for name in foz.list_zoo_models() if name not in registered]
    return sorted(registered.items()) + built_in


def add_batch_inputs(inputs) -> None:
    """The batch size and device inputs, defaulting to the ``PrelabelRequest`` defaults."""
    inputs.int("batch_size", default=REQUEST.batch_size, min=1, label="Batch size")
    common.choice(inputs, "device", prelabel.available_devices(), REQUEST.device, "Device")


def request(params, **overrides) -> prelabel.PrelabelRequest:
    """A ``PrelabelRequest`` from operator params (App strings or SDK values alike); a param that is not given
    (None, empty, zero or False) keeps the request's default."""
    zoo_kwargs = dict(params.get("zoo_kwargs") or {})
    if params.get("zoo_name_or_path"):
        zoo_kwargs["name_or_path"] = params["zoo_name_or_path"]
    task = params.get("task")
    kind = params.get("model_source") or models.HF
    values = dict(
        source=models.parse_source(kind, params.get("model"), zoo_kwargs, _source_options(kind, params)),
        task=None if task in (None, "auto") else task,
        prompts=split_list(params.get("prompts")),
        class_map=parse_class_map(params.get("class_map")),
        **{name: kind(params[name]) for name, kind in _REQUEST_PARAMS.items() if params.get(name)},
    )
    values.update(overrides)
    return REQUEST(**values)


def _source_options(kind, params):
    """The ``ModelSource.options`` of an ONNX or endpoint source."""
    if kind not in (models.ONNX, models.ENDPOINT):
        return {}
    options = {"spec": params.get("spec") or None}
    if kind == models.ENDPOINT:
        options["url"] = params.get("endpoint_url")
        options["verify_tls"] = params.get("verify_tls") is not False  # verified unless turned off explicitly
        options["timeout"] = params.get("endpoint_timeout") or None
        options["retries"] = params.get("endpoint_retries")
    return options


def with_token(wanted: prelabel.PrelabelRequest, ctx) -> prelabel.PrelabelRequest:
    """``wanted`` with the endpoint token from the plugin secrets (never a param, so never recorded)."""
    if wanted.source.kind != models.ENDPOINT:
        return wanted
    token = ctx.secret(TOKEN_SECRET)
    return dataclasses.replace(wanted, source=dataclasses.replace(wanted.source, token=token or None))


def sdk_params(options):
    """SDK keyword values in the form's types: lists and dicts become the strings the form takes."""
    params = dict(options)
    for name in ("model", "spec"):
        if isinstance(params.get(name), Mapping):
            params[name] = json.dumps(params[name])
    if isinstance(params.get("prompts"), (list, tuple)):
        params["prompts"] = ", ".join(params["prompts"])
    if isinstance(params.get("class_map"), dict):
        params["class_map"] = ", ".join(f"{k}:{v}" for k, v in params["class_map"].items())
    return params


def split_list(value):
    """A list from a comma-separated string."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def parse_class_map(value):
    """A dict from ``"model_label:dataset_label, other:name"``; ValueError on a malformed entry."""
    if not value:
        return {}
    mapping = {}
    for entry in split_list(value):
        source, sep, target = entry.partition(":")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"Class mapping entry '{entry}' is not 'model_label:dataset_label'.")
        mapping[source.strip()] = target.strip()
    return mapping


def problems(view, params, make_request=request, ctx=None):
    """What is wrong with running ``make_request(params)`` on ``view`` now, as messages (another job writing the
    output field included); ``ctx`` gives the endpoint token, if any."""
    try:
        wanted = make_request(params)
        wanted = with_token(wanted, ctx) if ctx is not None else wanted
    except ValueError as error:
        return [str(error)]
    with models.cached_only():  # at each keystroke: no hub look-up (offline, one takes ~25 s of retries)
        problems = prelabel.check(view, wanted)
    return problems or lease.problems(view, [wanted.output_field], job=params.get("job"))


def execute(operator, ctx, make_request=request):
    """Runs a model operator: queues its shards when asked to scale out, else runs (its shard of) the view."""
    view = ctx.target_view()
    num_shards = int(ctx.params.get("num_shards") or 1)
    if num_shards > 1 and not ctx.params.get("shard"):
        return sharding.queue_shards(operator, view, ctx.params, num_shards)
    result = prelabel.prelabel(
        sharding.shard_view(view, ctx.params),
        with_token(make_request(ctx.params), ctx),
        progress=common.progress_bar(ctx),
        user=common.user(ctx),
        part=sharding.part(ctx),
    )
    return common.finished(ctx, result)
