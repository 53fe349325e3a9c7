"""Model resolution shared by pre-labelling and embeddings: a FiftyOne zoo name, a Hugging Face hub id or a local
transformers directory, an ONNX file, a model behind an inference endpoint, or a FiftyOne model (an object passed
to the SDK, or a model config), each checked up front with an error that says what to do."""

import contextlib
import contextvars
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ModelError
from . import tasks
from .torch_compat import ensure_torchvision

if TYPE_CHECKING:
    from transformers import PretrainedConfig

    from fiftyone.zoo.models import ZooModel

ZOO, HF, ONNX, ENDPOINT, FIFTYONE = "zoo", "hf", "onnx", "endpoint", "fiftyone"
KINDS = (HF, ZOO, ONNX, ENDPOINT, FIFTYONE)
CONFIG = "config.json"
PROCESSOR_CONFIGS = ("preprocessor_config.json", "processor_config.json")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``kind`` is one of ``KINDS``; ``name`` a zoo name, hub id or local directory, an
    ONNX file, the model name an endpoint serves, or a FiftyOne model handle or config (``fiftyone_model``).

    ``options`` are the source's settings (an ONNX or endpoint model's ``spec``, the endpoint's ``url``,
    ``verify_tls``, ``timeout``, ``retries``); ``token`` is the endpoint's credential, never recorded or shown.
    """

    kind: str
    name: str
    zoo_kwargs: dict = field(default_factory=dict, hash=False)
    options: dict = field(default_factory=dict, hash=False)
    token: str | None = field(default=None, hash=False, compare=False, repr=False)

    def params(self) -> dict:
        """The source as JSON-friendly run parameters (without the token)."""
        return {"kind": self.kind, "name": self.name, "zoo_kwargs": self.zoo_kwargs, **self.options}


def parse_source(
    kind: str, name: str | None, zoo_kwargs: dict | None = None, options: dict | None = None, token: str | None = None
) -> ModelSource:
    """Validates the form of a model source (not the model itself)."""
    name = (name or "").strip()
    if kind not in KINDS:
        raise ModelError(
            f"Unknown model source '{kind}': use 'hf' (transformers), 'zoo' (FiftyOne Model Zoo), 'onnx' (an ONNX "
            "file), 'endpoint' (an inference server) or 'fiftyone' (a FiftyOne model or model config)."
        )
    if not name:
        raise ModelError(f"No model given: {_WHAT_TO_NAME[kind]}.")
    return ModelSource(kind, name, dict(zoo_kwargs or {}), dict(options or {}), token or None)


_WHAT_TO_NAME = {
    HF: "give a Hugging Face hub id or a local model directory",
    ZOO: "name a FiftyOne zoo model",
    ONNX: "give the path of an ONNX file",
    ENDPOINT: "give the name the endpoint serves the model under",
    FIFTYONE: "pass a FiftyOne model object or a model config",
}


class NotCached(ModelError):
    """A hub id that is not in the local cache, where only the cache may be read (``cached_only``)."""


_CACHED_ONLY = contextvars.ContextVar("labelloop_cached_only", default=False)


@contextlib.contextmanager
def cached_only() -> Iterator[None]:
    """Within it, ``hf_config`` reads the local Hugging Face cache only and raises ``NotCached`` for anything
    else: a form checks what a person types at each keystroke, and a hub look-up offline takes ~25 s of retries."""
    token = _CACHED_ONLY.set(True)
    try:
        yield
    finally:
        _CACHED_ONLY.reset(token)


def _relative_to(name: str) -> str:
    """For a relative path: what it is relative to, and what to give instead."""
    if os.path.isabs(os.path.expanduser(name)):
        return ""
    return (
        f" (a relative path is read from {os.getcwd()}, the working directory of the process that runs the "
        "operator — the App server's when run from the App): give an absolute path"
    )


def hf_config(name: str) -> "PretrainedConfig":
    """The transformers config of a hub id or local directory, or a ModelError saying why it cannot be loaded."""
    ensure_torchvision()
    import transformers

    if os.path.isdir(name):
        check_model_files(name)
    elif _looks_like_path(name):
        raise ModelError(f"No such model directory: '{name}'{_relative_to(name)}.")
    try:
        return transformers.AutoConfig.from_pretrained(name, local_files_only=_CACHED_ONLY.get())
    except OSError as error:
        if _CACHED_ONLY.get():
            raise NotCached(f"'{name}' is not in the local Hugging Face cache.") from error
        raise ModelError(
            f"Could not load '{name}' from the Hugging Face hub: it is not in the local cache and the hub cannot be "
            "reached (offline?). Save the model with `save_pretrained` where the hub is reachable and give its "
            f"local directory instead. ({type(error).__name__})"
        ) from error
    except ValueError as error:
        raise ModelError(f"'{name}' is not a model transformers can load: {error}") from error


def check_model_files(path: str) -> None:
    """Raises a ModelError naming the file when the model directory ``path`` lacks, or holds a truncated or
    corrupt, config, processor config or weights file (before any data is loaded)."""
    if not os.path.isfile(os.path.join(path, CONFIG)):
        raise ModelError(
            f"Directory '{path}' is not a transformers model (no {CONFIG}): give the directory that "
            "`save_pretrained` wrote."
        )
    _check_json(path, CONFIG)
    processor_files = [f for f in PROCESSOR_CONFIGS if os.path.isfile(os.path.join(path, f))]
    if not processor_files:
        raise ModelError(
            f"Model directory '{path}' has no {PROCESSOR_CONFIGS[0]}: save the model's image processor into it too "
            "(`processor.save_pretrained`)."
        )
    for file_name in processor_files:
        _check_json(path, file_name)
    for file_name in _weight_files(path):
        _check_weights(path, file_name)


def _check_json(path: str, file_name: str) -> dict:
    """The content of JSON file ``file_name`` of ``path``, or a ModelError naming it."""
    try:
        with open(os.path.join(path, file_name), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        raise ModelError(
            f"'{file_name}' in model directory '{path}' is unreadable or not valid JSON (truncated?): save the model "
            f"again with `save_pretrained`. ({error})"
        ) from error


def _weight_files(path: str) -> list[str]:
    """The weight files of ``path`` (the shards an index names, or the single file), or a ModelError."""
    for index in WEIGHT_INDEXES:
        if os.path.isfile(os.path.join(path, index)):
            return sorted(set(_check_json(path, index).get("weight_map", {}).values()))
    found = [f for f in WEIGHT_FILES if os.path.isfile(os.path.join(path, f))]
    if not found:
        raise ModelError(
            f"Model directory '{path}' has no weights ({WEIGHT_FILES[0]}): copy the whole directory that "
            "`save_pretrained` wrote."
        )
    return found[:1]


def _check_weights(path: str, file_name: str) -> None:
    """Raises a ModelError when weights file ``file_name`` is missing, or a safetensors file is shorter than its
    header says (truncated)."""
    full = os.path.join(path, file_name)
    if not os.path.isfile(full):
        raise ModelError(f"Model directory '{path}' lacks the weights file '{file_name}' its index names.")
    if file_name.endswith(".safetensors") and not _complete_safetensors(full):
        raise ModelError(
            f"Weights file '{file_name}' in model directory '{path}' is truncated or corrupt: copy it again, or save "
            "the model again with `save_pretrained`."
        )


def _complete_safetensors(path: str) -> bool:
    """Whether a safetensors file is as long as its header says (reads the header only)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        header_size = int.from_bytes(prefix, "little") if len(prefix) == 8 else size
        if header_size > size - 8:
            return False
        try:
            header = json.loads(f.read(header_size))
        except ValueError:
            return False
    ends = [t["data_offsets"][1] for key, t in header.items() if key != "__metadata__"]
    return size == 8 + header_size + max(ends, default=0)


def check_task(name: str, config: "PretrainedConfig", task: str | None) -> str:
    """The task to run: ``task`` when the model supports it, the inferred one when ``task`` is None."""
    inferred = tasks.infer_task(config)
    if task is None:
        return inferred
    if task not in tasks.TASKS:
        raise ModelError(f"Unknown task '{task}': choose one of {', '.join(tasks.TASKS)}.")
    if task != inferred and task != tasks.EMBEDDING:
        architecture = (config.architectures or ["?"])[0]
        raise ModelError(
            f"Model '{name}' ({architecture}) is a {inferred.replace('_', ' ')} model, not {task.replace('_', ' ')}: "
            f"choose task '{inferred}' or another model."
        )
    return task


def zoo_entry(name: str) -> "ZooModel":
    """The zoo model entry called ``name``, or a ModelError listing similar names."""
    import fiftyone.zoo as foz

    try:
        return foz.get_zoo_model(name)
    except ValueError as error:
        close = [n for n in foz.list_zoo_models() if _similar(name, n)][:8]
        hint = f" Similar names: {', '.join(close)}." if close else ""
        message = f"No FiftyOne zoo model named '{name}'.{hint} `fiftyone zoo models list` lists them."
        raise ModelError(message) from error


def identity(source: ModelSource) -> str:
    """A stable identity string of a model: zoo name (+ kwargs), hub id / directory with a content hash, ONNX file
    with a hash of its content and spec, endpoint URL and model (and spec hash); see ``fiftyone_model.identity``
    for FiftyOne models."""
    if source.kind in (ONNX, ENDPOINT):
        from .custom import spec_of

        spec = spec_of(source).as_dict()
        if source.kind == ONNX:
            return f"onnx:{os.path.abspath(source.name)}@{_digest(source.name, spec)}"
        url = source.options.get("url", "").rstrip("/")
        return f"endpoint:{url}/v2/models/{source.name}@{_digest(None, spec)}"
    if source.kind == FIFTYONE:
        from .fiftyone_model import identity as model_identity

        return model_identity(source.name)
    if source.kind == ZOO:
        extra = ",".join(f"{k}={v}" for k, v in sorted(source.zoo_kwargs.items()))
        return f"zoo:{source.name}" + (f"[{extra}]" if extra else "")
    if os.path.isdir(source.name):
        return f"hf:{os.path.abspath(source.name)}@{_directory_digest(source.name)}"
    return f"hf:{source.name}"


def _digest(path, spec):
    """A short hash of file ``path``'s content (when given) and the JSON of ``spec``."""
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode())
    if path and os.path.isfile(path):
        with open(path, "rb") as f:
            digest.update(hashlib.file_digest(f, "sha256").digest())
    return digest.hexdigest()[:12]


def _directory_digest(path: str) -> str:
    """A short hash of the names and whole contents of the files directly in ``path`` (read in chunks)."""
    digest = hashlib.sha256()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                content = hashlib.file_digest(f, "sha256").digest()
            digest.update(name.encode() + b"\0" + content)
    return digest.hexdigest()[:12]


def _looks_like_path(name):
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or os.sep + os.sep in name


def _similar(name, candidate):
    words = [w for w in name.lower().replace("_", "-").split("-") if len(w) > 2]
    return any(w in candidate.lower() for w in words)
