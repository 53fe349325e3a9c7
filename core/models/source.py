"""Model resolution shared by pre-labelling and embeddings: a FiftyOne zoo name, a Hugging Face hub id, or a
local transformers directory, each checked up front with an error that says what to do."""

import hashlib
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ModelError
from . import tasks
from .torch_compat import ensure_torchvision

if TYPE_CHECKING:
    from transformers import PretrainedConfig

    from fiftyone.zoo.models import ZooModel

ZOO, HF = "zoo", "hf"


@dataclass(frozen=True)
class ModelSource:
    """Where a model comes from: ``kind`` is "zoo" or "hf"; ``name`` a zoo name, hub id or local directory."""

    kind: str
    name: str
    zoo_kwargs: dict = field(default_factory=dict, hash=False)


def parse_source(kind: str, name: str | None, zoo_kwargs: dict | None = None) -> ModelSource:
    """Validates the form of a model source (not the model itself)."""
    name = (name or "").strip()
    if kind not in (ZOO, HF):
        raise ModelError(f"Unknown model source '{kind}': use 'zoo' (FiftyOne Model Zoo) or 'hf' (transformers).")
    if not name:
        raise ModelError("No model given: name a zoo model, a Hugging Face hub id, or a local model directory.")
    return ModelSource(kind, name, dict(zoo_kwargs or {}))


def hf_config(name: str) -> "PretrainedConfig":
    """The transformers config of a hub id or local directory, or a ModelError saying why it cannot be loaded."""
    ensure_torchvision()
    import transformers

    if os.path.isdir(name):
        if not os.path.isfile(os.path.join(name, "config.json")):
            raise ModelError(
                f"Directory '{name}' is not a transformers model (no config.json): give the directory that "
                "`save_pretrained` wrote."
            )
    elif _looks_like_path(name):
        raise ModelError(f"No such model directory: '{name}'.")
    try:
        return transformers.AutoConfig.from_pretrained(name)
    except OSError as error:
        raise ModelError(
            f"Could not load '{name}' from the Hugging Face hub: it is not in the local cache and the hub cannot be "
            "reached (offline?). Save the model with `save_pretrained` where the hub is reachable and give its "
            f"local directory instead. ({type(error).__name__})"
        ) from error
    except ValueError as error:
        raise ModelError(f"'{name}' is not a model transformers can load: {error}") from error


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
    """A stable identity string of a model: zoo name (+ kwargs) or hub id / directory with a content hash."""
    if source.kind == ZOO:
        extra = ",".join(f"{k}={v}" for k, v in sorted(source.zoo_kwargs.items()))
        return f"zoo:{source.name}" + (f"[{extra}]" if extra else "")
    if os.path.isdir(source.name):
        return f"hf:{os.path.abspath(source.name)}@{_directory_digest(source.name)}"
    return f"hf:{source.name}"


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
