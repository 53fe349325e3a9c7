"""compute_embeddings: the same model sources as pre-labelling, one vector per sample, resumable."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.store import runs
from harness import operators as ops


@pytest.fixture
def embed_op():
    return foo.get_operator(ops.uri("compute_embeddings"))


@pytest.mark.parametrize(("model", "dim"), [("embedding", 32), ("zero_shot", 16), ("classification", 32)])
def test_embeddings_from_local_models(shapes, tiny_models, embed_op, model, dim):
    result = embed_op(shapes, tiny_models[model])
    vectors = shapes.values("embeddings")
    assert result["written"] == len(shapes) and result["task"] == "embedding"
    assert all(isinstance(v, np.ndarray) and v.shape == (dim,) for v in vectors)
    assert len({v.tobytes() for v in vectors}) == len(shapes)  # different images, different vectors
    [run] = runs.list_suite_runs(shapes)
    assert run["kind"] == "embeddings" and run["fields"] == ["embeddings"]


def test_resume_and_overwrite(shapes, tiny_models, embed_op):
    embed_op(shapes.limit(10), tiny_models["embedding"])
    assert embed_op(shapes, tiny_models["embedding"])["written"] == len(shapes) - 10
    assert embed_op(shapes, tiny_models["embedding"], overwrite=True)["written"] == len(shapes)


def test_a_label_field_is_not_an_embeddings_field(shapes, tiny_models):
    params = {"model": tiny_models["embedding"], "output_field": "ground_truth"}
    assert "holds Detections, but this model writes an embeddings (vector) field" in ops.validation_error(
        "compute_embeddings", shapes, params
    )
    assert isinstance(shapes.first().ground_truth, fo.Detections)


def test_delegated_embeddings(shapes, tiny_models):
    queued = ops.run("compute_embeddings", shapes, {"model": tiny_models["embedding"]}, delegated=True)
    ops.run_queued_in_child(shapes.name)
    shapes.reload()
    assert ops.delegated_operation(queued.result["id"]).run_state == "completed"
    assert shapes.count("embeddings") == len(shapes)
