"""Broken local model folders are refused up front with a message naming the file (issue 15a), and an image the
model's processor rejects drops out of its batch like an unreadable one (issue 15b)."""

import os
import shutil

import pytest
from PIL import Image

from core.exceptions import ModelError
from core.models import source as models
from core.prelabel import run


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    from testing import tiny_models as tm

    return tm.image_classifier(tmp_path_factory.mktemp("models") / "classifier", [str(i) for i in range(10)])


def _broken(classifier, tmp_path, file_name, keep_bytes=None):
    """A copy of the classifier with ``file_name`` deleted (``keep_bytes`` None) or cut to its first bytes."""
    path = shutil.copytree(classifier, tmp_path / "broken")
    full = os.path.join(path, file_name)
    if keep_bytes is None:
        os.remove(full)
    else:
        os.truncate(full, keep_bytes)
    return str(path)


def test_an_intact_folder_loads(classifier):
    assert models.hf_config(str(classifier)).id2label[0] == "0"


@pytest.mark.parametrize(
    "file_name, keep_bytes, message",
    [
        ("preprocessor_config.json", None, r"no preprocessor_config\.json"),
        ("preprocessor_config.json", 10, r"'preprocessor_config\.json' .* not valid JSON \(truncated\?\)"),
        ("model.safetensors", None, r"no weights \(model\.safetensors\)"),
        ("model.safetensors", 4000, r"'model\.safetensors' .* is truncated or corrupt"),
        ("model.safetensors", 4, r"'model\.safetensors' .* is truncated or corrupt"),
        ("config.json", 20, r"'config\.json' .* not valid JSON \(truncated\?\)"),
    ],
)
def test_a_broken_folder_is_refused_naming_the_file(classifier, tmp_path, file_name, keep_bytes, message):
    with pytest.raises(ModelError, match=message) as error:
        models.hf_config(_broken(classifier, tmp_path, file_name, keep_bytes))
    assert "hub" not in str(error.value)


class _FussyPredictor:
    """Prepares a batch like a processor that rejects images wider than 1000 pixels; counts its calls."""

    def __init__(self):
        self.calls = 0

    def prepare(self, images):
        self.calls += 1
        if any(image.width > 1000 for image in images):
            raise ValueError("height 0")
        return [image.size for image in images]


def _images(tmp_path, sizes):
    paths = []
    for i, size in enumerate(sizes):
        paths.append(str(tmp_path / f"{i}.png"))
        Image.new("RGB", size).save(paths[-1])
    return paths


def test_an_image_the_processor_rejects_drops_out_of_its_batch(tmp_path):
    paths = _images(tmp_path, [(20, 20), (10000, 10), (30, 30)])
    predictor = _FussyPredictor()
    ok, failures, prepared = run._prepare(predictor, paths, range(3))
    assert (ok, prepared) == ([0, 2], [(20, 20), (30, 30)])
    assert len(failures) == 1 and failures[0].startswith(paths[1]) and "10000x10 image" in failures[0]


def test_a_good_batch_is_prepared_in_one_call(tmp_path):
    predictor = _FussyPredictor()
    ok, failures, _ = run._prepare(predictor, _images(tmp_path, [(20, 20), (30, 30)]), range(2))
    assert (ok, failures, predictor.calls) == ([0, 1], [], 1)
