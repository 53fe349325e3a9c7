"""The identity of a local model directory: a content hash of whole files, so a retrained model gets a new one."""

import os
import re

from core.models import source as models

MIB = 1 << 20


def _model_dir(path, tail: bytes):
    """A model directory whose weights are 1 MiB of zeros followed by ``tail``."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "config.json"), "w") as f:
        f.write('{"model_type": "vit"}')
    with open(os.path.join(path, "model.safetensors"), "wb") as f:
        f.write(bytes(MIB) + tail)
    return str(path)


def _identity(path):
    return models.identity(models.parse_source("hf", path))


def test_identity_keeps_its_format_and_is_stable(tmp_path):
    path = _model_dir(tmp_path / "model", b"weights")
    identity = _identity(path)
    assert re.fullmatch(rf"hf:{re.escape(os.path.abspath(path))}@[0-9a-f]{{12}}", identity)
    assert _identity(path) == identity


def test_weights_that_differ_after_the_first_mib_change_the_identity(tmp_path):
    before = _identity(_model_dir(tmp_path / "model", b"trained once"))
    after = _identity(_model_dir(tmp_path / "model", b"retrained!!!"))  # same size, same first MiB
    assert after != before
    other = _identity(_model_dir(tmp_path / "other", b"trained once"))
    assert other.split("@")[1] == before.split("@")[1]  # same content, same hash
