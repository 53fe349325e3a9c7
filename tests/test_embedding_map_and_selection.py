"""compute_embedding_map and select_for_annotation through the operator machinery."""

import numpy as np
import pytest

import fiftyone as fo
import fiftyone.operators as foo

from core.quality import active_learning
from core.store import runs
from harness import operators as ops


@pytest.fixture
def with_embeddings(digits, tiny_models):
    foo.get_operator(ops.uri("compute_embeddings"))(digits, tiny_models["embedding"])
    return digits


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_embedding_map_is_a_visualization_run_the_app_can_show(with_embeddings, method):
    key = f"map_{method}"
    result = foo.get_operator(ops.uri("compute_embedding_map"))(with_embeddings, method=method, brain_key=key)
    assert result["samples"] == len(with_embeddings) and result["method"] == method
    info = with_embeddings.get_brain_info(key)
    assert info.config.type == "visualization"
    points = with_embeddings.load_brain_results(key).points
    assert points.shape == (len(with_embeddings), 2) and np.isfinite(points).all()
    assert any(r["kind"] == "embedding_map" for r in runs.list_suite_runs(with_embeddings))


def test_embedding_map_skips_samples_without_embeddings(with_embeddings):
    with_embeddings.limit(20).set_values("embeddings", [None] * 20)
    result = foo.get_operator(ops.uri("compute_embedding_map"))(with_embeddings, method="pca", brain_key="partial")
    assert result["samples"] == len(with_embeddings) - 20 and result["skipped_without_embeddings"] == 20


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"embeddings_field": "nope"}, "No embeddings field 'nope'"),
        ({"embeddings_field": "ground_truth"}, "not embedding vectors"),
        ({"method": "lle"}, "Unknown method 'lle'"),
        ({"brain_key": "has space"}, "must be letters, digits and underscores"),
    ],
)
def test_embedding_map_bad_input(with_embeddings, params, expected):
    message = ops.validation_error(
        "compute_embedding_map", with_embeddings, {"embeddings_field": "embeddings", **params}
    )
    assert expected in message and with_embeddings.list_brain_runs() == []


def test_ragged_embeddings_are_refused(dataset):
    dataset.add_samples([fo.Sample(filepath=f"/x/{i}.png") for i in range(6)])
    dataset.set_values("embeddings", [np.ones(4)] * 5 + [np.ones(3)])
    message = ops.validation_error("compute_embedding_map", dataset, {"embeddings_field": "embeddings"})
    assert "different lengths" in message


def logits_for(probabilities):
    return np.log(np.asarray(probabilities))


def test_uncertainty_strategies():
    sure, unsure = [0.97, 0.01, 0.01, 0.01], [0.3, 0.3, 0.2, 0.2]
    for strategy in active_learning.STRATEGIES:
        assert active_learning._score(unsure, strategy) > active_learning._score(sure, strategy)
    assert active_learning._score([0.25] * 4, "entropy") == pytest.approx(1.0)
    assert active_learning._score([0.5, 0.5, 0, 0], "margin") == pytest.approx(1.0)


def test_selection_prefers_uncertain_and_diverse_samples(dataset):
    rng = np.random.default_rng(0)
    dataset.add_samples([fo.Sample(filepath=f"/x/{i}.png") for i in range(40)])
    # samples 0-9: very uncertain near duplicates; 10-19: a little less uncertain, spread out; 20-39: confident
    probs = [[0.26, 0.25, 0.25, 0.24]] * 10 + [[0.4, 0.3, 0.2, 0.1]] * 10 + [[0.97, 0.01, 0.01, 0.01]] * 20
    dataset.set_values(
        "predictions", [fo.Classification(label="a", confidence=p[0], logits=logits_for(p)) for p in probs]
    )
    base = rng.normal(size=16)
    vectors = [base + 1e-3 * rng.normal(size=16) for _ in range(10)] + [rng.normal(size=16) for _ in range(30)]
    dataset.set_values("embeddings", vectors)
    ids = dataset.values("id")

    plain = active_learning.select(dataset, "predictions", 5, tag="plain")
    assert set(plain["ids"]) <= set(ids[:10])  # pure uncertainty piles up near duplicates
    diverse = active_learning.select(
        dataset, "predictions", 5, embeddings_field="embeddings", diversity=0.5, tag="diverse"
    )
    assert len(set(diverse["ids"]) & set(ids[:10])) == 1 and set(diverse["ids"]) <= set(ids[:20])
    assert len(dataset.match_tags("diverse")) == 5


def test_selection_skips_already_tagged_and_works_on_detections(shapes, tiny_models, prelabel_op):
    prelabel_op(shapes, tiny_models["detection"], threshold=0.0)
    operator = foo.get_operator(ops.uri("select_for_annotation"))
    first = operator(shapes, "predictions", count=10, strategy="margin")
    second = operator(shapes, "predictions", count=10, strategy="margin")
    assert not set(first["ids"]) & set(second["ids"]) and len(shapes.match_tags("to_annotate")) == 20


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"pred_field": "nope"}, "No Classification or Detections field 'nope'"),
        ({"strategy": "random"}, "Unknown strategy 'random'"),
        ({"embeddings_field": "ground_truth"}, "not embedding vectors"),
    ],
)
def test_selection_bad_input(digits, params, expected):
    digits.set_values("predictions", [fo.Classification(label="1", confidence=0.5)] * len(digits))
    message = ops.validation_error("select_for_annotation", digits, {"pred_field": "predictions", **params})
    assert expected in message and len(digits.match_tags("to_annotate")) == 0


def test_predictions_without_confidences_are_refused(digits):
    message = ops.validation_error("select_for_annotation", digits, {"pred_field": "ground_truth"})
    assert "has no confidences or logits" in message


def test_delegated_selection(digits, tiny_models, prelabel_op):
    prelabel_op(digits, tiny_models["classification"], store_logits=True)
    queued = ops.run("select_for_annotation", digits, {"pred_field": "predictions", "count": 7}, delegated=True)
    ops.run_queued_in_child(digits.name)
    assert ops.delegated_operation(queued.result["id"]).run_state == "completed"
    assert len(digits.match_tags("to_annotate")) == 7
