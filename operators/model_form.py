"""The model-source part of operator forms (zoo name, hub id or local directory) and its SDK parameters."""

from fiftyone.operators import types

from ..core.models import source as models
from ..core.models import tasks
from ..core.prelabel import run as prelabel
from ..core.store import lease
from . import common, sharding

SOURCE_LABELS = {models.HF: "Hugging Face transformers (hub id or local directory)", models.ZOO: "FiftyOne Model Zoo"}
MODEL_PARAMS = {
    "model_source": common.STR,
    "model": common.STR.described("a hub id, a local model directory or a zoo model name (a string)"),
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
    for kind, label in SOURCE_LABELS.items():
        choices.add_choice(kind, label=label)
    inputs.enum("model_source", choices.values(), default=models.HF, label="Model source", view=choices)
    if source == models.ZOO:
        names = types.AutocompleteView()
        for name in zoo_model_names():
            names.add_choice(name, label=name)
        inputs.str("model", label="Zoo model", required=True, view=names)
        inputs.str(
            "zoo_name_or_path",
            label="name_or_path",
            description="For the *-transformer-torch zoo entries: a hub id or a local model directory",
        )
    else:
        inputs.str("model", label="Model", required=True, description="A Hugging Face hub id or a local directory")
    common.choice(inputs, "task", ["auto", *task_choices], "auto", "Task", description="auto: from the model config")
    if ctx.params.get("task") in tasks.ZERO_SHOT_TASKS:
        inputs.str("prompts", label="Class prompts", description="Comma-separated class names")
    return bool(ctx.params.get("model"))


def zoo_model_names():
    import fiftyone.zoo as foz

    return sorted(foz.list_zoo_models())


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
    values = dict(
        source=models.parse_source(params.get("model_source") or models.HF, params.get("model"), zoo_kwargs),
        task=None if task in (None, "auto") else task,
        prompts=split_list(params.get("prompts")),
        class_map=parse_class_map(params.get("class_map")),
        **{name: kind(params[name]) for name, kind in _REQUEST_PARAMS.items() if params.get(name)},
    )
    values.update(overrides)
    return REQUEST(**values)


def sdk_params(options):
    """SDK keyword values in the form's types: lists and dicts become the strings the form takes."""
    params = dict(options)
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


def problems(view, params, make_request=request):
    """What is wrong with running ``make_request(params)`` on ``view`` now, as messages (another job writing the
    output field included)."""
    try:
        wanted = make_request(params)
    except ValueError as error:
        return [str(error)]
    return prelabel.check(view, wanted) or lease.problems(view, [wanted.output_field], job=params.get("job"))


def execute(operator, ctx, make_request=request):
    """Runs a model operator: queues its shards when asked to scale out, else runs (its shard of) the view."""
    view = ctx.target_view()
    num_shards = int(ctx.params.get("num_shards") or 1)
    if num_shards > 1 and not ctx.params.get("shard"):
        return sharding.queue_shards(operator, view, ctx.params, num_shards)
    result = prelabel.prelabel(
        sharding.shard_view(view, ctx.params),
        make_request(ctx.params),
        progress=common.progress_bar(ctx),
        user=common.user(ctx),
        run_params={"shard": ctx.params["shard"]} if ctx.params.get("shard") else None,
        job=ctx.params.get("job"),
    )
    return common.finished(ctx, result)
