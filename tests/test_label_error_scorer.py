"""Issue 18: the noise-aware label-error scorer ranks class-conditional noise under a miscalibrated model better
than ``1 - p(label)`` and the normalized margin; runs record the scorer; bad ensembles write nothing."""

import numpy as np
import pytest

import fiftyone as fo

from core.quality import label_errors as L
from core.quality import mistakenness as M
from core.store import runs

K = 4


def _noisy_world(seed=0, n=3000, factor=2.5):
    """True classes drawn from calibrated beliefs ``pi``; annotators flip class 0 to 1 at 40% and class 2 to 3 at
    5%, nothing else; the model is over-confident: its logits are ``factor x log(pi)``.
    Returns (logits, given labels, wrong flags)."""
    rng = np.random.default_rng(seed)
    pi = rng.dirichlet(np.full(K, 0.4), n)
    truth = np.array([rng.choice(K, p=p) for p in pi])
    noise = np.eye(K)
    noise[0] = [0.6, 0.4, 0, 0]
    noise[2] = [0, 0, 0.95, 0.05]
    given = np.array([rng.choice(K, p=noise[t]) for t in truth])
    return factor * np.log(np.clip(pi, 1e-12, None)), given, given != truth


def _precision_at_k(scores, wrong):
    return wrong[np.argsort(-scores, kind="stable")[: wrong.sum()]].mean()


def test_class_conditional_noise_defeats_one_minus_p_but_not_the_noise_aware_score():
    logits, given, wrong = _noisy_world()
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    rows = np.arange(len(given))
    naive = 1 - probs[rows, given]
    others = probs.copy()
    others[rows, given] = -1
    margin = others.max(axis=1) - probs[rows, given]  # cleanlab's normalized margin, as an error score
    noise = L.fit(logits, given)
    ours = L.error_probability(logits, given, noise)
    assert noise.temperature == pytest.approx(2.5, rel=0.2)  # the over-confidence is found
    assert noise.transition[0, 1] == pytest.approx(0.4, abs=0.08) and noise.transition[3, 0] < 0.05
    assert _precision_at_k(ours, wrong) >= max(_precision_at_k(naive, wrong), _precision_at_k(margin, wrong)) + 0.03
    assert ours.min() >= 0 and ours.max() <= 1


def test_error_probability_is_the_posterior_of_another_class():
    noise = L.NoiseFit(1.0, np.array([[0.6, 0.4], [0.0, 1.0]]))
    logits = np.log([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
    errors = L.error_probability(logits, np.array([1, 0, -1]), noise)
    # label 1: P(true 1 | y = 1) = 0.5 x 1 / (0.5 x 0.4 + 0.5 x 1); label 0 can only be true 0; -1 is no class
    assert errors == pytest.approx([1 - 0.5 / 0.7, 0.0, 1.0])


def test_spread_logits_put_the_confidence_on_the_predicted_class():
    probs = np.exp(L.spread_logits(np.array([2, 0]), np.array([0.7, 0.25]), 3))
    assert probs == pytest.approx(np.array([[0.15, 0.15, 0.7], [0.25, 0.375, 0.375]]))


def test_a_mislabelled_world_is_ranked_through_the_run_and_the_scorer_recorded(dataset):
    logits, given, wrong = _noisy_world(seed=1, n=800)
    classes = [f"c{i}" for i in range(K)]
    dataset.add_samples(
        fo.Sample(
            filepath=f"/{i}.png",
            ground_truth=fo.Classification(label=classes[y]),
            predictions=fo.Classification(label=classes[int(z.argmax())], logits=z.tolist()),
        )
        for i, (z, y) in enumerate(zip(logits, given, strict=True))
    )
    result = M.compute(dataset, M.MistakennessRequest("predictions", classes=classes))
    scores = np.array(dataset.values("mistakenness"), dtype=float)
    noise = L.fit(logits, given)
    assert scores == pytest.approx(L.error_probability(logits, given, noise))
    assert result["temperature"] == pytest.approx(noise.temperature, rel=1e-3) and result["logits"] == len(given)
    record = runs.list_suite_runs(dataset)[0]
    assert record["params"]["scorer"] == M.NOISE_AWARE and record["counts"]["estimated_noise"] > 0.05
    M.compute(dataset, M.MistakennessRequest("predictions", classes=classes, scorer=M.SOFTMAX, prefix="soft_"))
    assert runs.list_suite_runs(dataset)[0]["params"]["scorer"] == M.SOFTMAX
    softmax = np.array(dataset.values("soft_mistakenness"), dtype=float)
    assert _precision_at_k(scores, wrong) > _precision_at_k(softmax, wrong)


def _two_models(dataset):
    rng = np.random.default_rng(2)
    rows = []
    for i in range(60):
        truth = str(i % 3)
        fields = {}
        for name in ("baseline", "candidate"):
            z = rng.normal(0, 1, 3)
            z[i % 3] += 3
            fields[name] = fo.Classification(label=str(int(z.argmax())), logits=z.tolist())
        rows.append(fo.Sample(filepath=f"/{i}.png", ground_truth=fo.Classification(label=truth), **fields))
    dataset.add_samples(rows)


def test_an_ensemble_of_one_model_twice_scores_as_the_model(dataset):
    _two_models(dataset)
    dataset.clone_sample_field("baseline", "copy")
    M.compute(dataset, M.MistakennessRequest("baseline", classes=["0", "1", "2"]))
    M.compute(dataset, M.MistakennessRequest("baseline", classes=["0", "1", "2"], ensemble=["copy"], prefix="e_"))
    both = M.compute(dataset, M.MistakennessRequest("baseline", ensemble=["candidate"], prefix="b_"))
    assert dataset.values("e_mistakenness") == pytest.approx(dataset.values("mistakenness"), abs=1e-6)
    assert both["logits"] == 60 and runs.list_suite_runs(dataset)[0]["params"]["ensemble"] == ["candidate"]
    assert dataset.values("b_mistakenness") != pytest.approx(dataset.values("mistakenness"), abs=1e-3)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"ensemble": ["boxes"]}, "Ensemble field 'boxes' holds Detections"),
        ({"ensemble": ["short"]}, "logits have different lengths ('baseline' 3, 'short' 2)"),
        ({"ensemble": ["candidate"], "scorer": M.SOFTMAX}, "An ensemble is scored by the 'noise_aware' scorer"),
        ({"ensemble": ["baseline"]}, "must differ from each other"),
        ({"scorer": "magic"}, "Scorer 'magic' is not one of noise_aware, softmax"),
    ],
)
def test_a_bad_ensemble_or_scorer_writes_nothing(dataset, options, expected):
    _two_models(dataset)
    dataset.set_values("boxes", [fo.Detections()] * len(dataset))
    dataset.set_values("short", [fo.Classification(label="0", logits=[1.0, 0.0])] * len(dataset))
    before = set(dataset.get_field_schema())
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        M.compute(dataset, M.MistakennessRequest("baseline", **options))
    assert set(dataset.get_field_schema()) == before and runs.list_suite_runs(dataset) == []
