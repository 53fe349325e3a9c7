"""Noise-aware label-error probabilities of classifications, from a model's logits (pure numpy).

The given label ``y`` of a sample is taken as a noisy copy of its true class: ``P(y = k | true j) = T[j, k]``
(class-conditional noise: annotators confuse some pairs of classes more than others), and the model's belief in the
true class is ``softmax(logits / t)``, with one temperature ``t`` for the whole data (a model may be over- or
under-confident). ``t`` and ``T`` are fitted together on the data at hand by maximum likelihood of the given labels
(expectation-maximisation over the unknown true class, ``T`` smoothed by one pseudo-count per row); then

    P(true class j | x, y) = softmax(logits / t)_j T[j, y] / sum_i softmax(logits / t)_i T[i, y]

A label's score is the posterior of its most likely rival against the label itself,

    P(true j* | x, y) / (P(true j* | x, y) + P(true y | x, y)),  j* = argmax_{j != y} P(true class j | x, y)

(the noise-aware normalized margin: the probability that the true class is the rival rather than ``y``, if it is one
of the two; in [0, 1], equal to ``1 - P(true class y | x, y)`` when there are two classes). It is higher when the
model believes a class the annotators often confuse with ``y``, lower when ``y`` is a class annotators rarely get
wrong; unlike ``1 - P(true class y | x, y)`` it does not add up the small beliefs in many unrelated classes, so a
label with one strong rival ranks above one whose doubt is spread thin. Labels outside the model's classes score 1.
Several models' predictions (an ensemble) are combined as the mean of their tempered log-probabilities, each model's
temperature fitted first.
"""

from dataclasses import dataclass

import numpy as np

ROUNDS = 8
"""Expectation-maximisation rounds (each fits the temperature, then the noise matrix)."""
FIT_ROWS = 20000
"""The fit uses at most this many samples (drawn with a fixed seed); every sample is scored."""
LOG_T_RANGE = (np.log(0.02), np.log(50.0))
INITIAL_NOISE = 0.1


@dataclass
class NoiseFit:
    """A fitted temperature and noise matrix ``transition[j, k] = P(given label k | true class j)``."""

    temperature: float
    transition: np.ndarray

    def noise_rate(self, labels: np.ndarray) -> float:
        """The estimated share of wrong labels among ``labels`` (class indices)."""
        known = labels[labels >= 0]
        return float(1.0 - np.diag(self.transition)[known].mean()) if len(known) else 0.0


def fit(logits: np.ndarray, labels: np.ndarray, seed: int = 0) -> NoiseFit:
    """Fits ``NoiseFit`` to ``logits`` (N x K) and the given ``labels`` (N class indices, -1: not a class)."""
    logits, labels = _checked(logits, labels)
    keep = labels >= 0
    logits, labels = logits[keep], labels[keep]
    if len(labels) > FIT_ROWS:
        rows = np.random.default_rng(seed).choice(len(labels), FIT_ROWS, replace=False)
        logits, labels = logits[rows], labels[rows]
    k = logits.shape[1]
    transition = np.full((k, k), INITIAL_NOISE / max(k - 1, 1))
    np.fill_diagonal(transition, 1.0 - INITIAL_NOISE)
    temperature = 1.0
    if not len(labels):
        return NoiseFit(temperature, transition)
    for _ in range(ROUNDS):
        temperature = _best_temperature(logits, labels, transition)
        joint = _joint(logits, labels, NoiseFit(temperature, transition))
        counts = np.zeros((k, k))
        np.add.at(counts.T, labels, joint / joint.sum(axis=1, keepdims=True))
        counts += 1.0 / k
        transition = counts / counts.sum(axis=1, keepdims=True)
    return NoiseFit(temperature, transition)


def error_probability(logits: np.ndarray, labels: np.ndarray, noise: NoiseFit) -> np.ndarray:
    """``P(true j* | x, y) / (P(true j* | x, y) + P(true y | x, y))`` of each sample, ``j*`` the most likely true class
    other than the given label ``y`` (see the module docstring), in [0, 1] (1 where the label is -1)."""
    logits, labels = _checked(logits, labels)
    known = labels >= 0
    result = np.ones(len(labels))
    rows = np.arange(int(known.sum()))
    with np.errstate(divide="ignore"):
        log_joint = _log_softmax(logits[known] / noise.temperature) + np.log(noise.transition[:, labels[known]].T)
    given = log_joint[rows, labels[known]].copy()
    log_joint[rows, labels[known]] = -np.inf
    rival = log_joint.max(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        odds = np.where(np.isneginf(rival), 0.0, np.exp(np.clip(rival - given, -700, 700)))
    result[known] = np.clip(odds / (1.0 + odds), 0.0, 1.0)
    return result


def ensemble_logits(members: list[np.ndarray], labels: np.ndarray) -> np.ndarray:
    """The mean of the members' log-probabilities (each N x K; a row of NaN: no prediction), each member at its own
    fitted temperature; NaN where no member has a prediction."""
    if len(members) == 1:
        return np.asarray(members[0], dtype=float)
    total, present = np.zeros(np.shape(members[0])), np.zeros((len(labels), 1))
    for member in members:
        member = np.asarray(member, dtype=float)
        has = ~np.isnan(member).any(axis=1)
        total[has] += _log_softmax(member[has] / fit(member[has], labels[has]).temperature)
        present[has] += 1
    with np.errstate(invalid="ignore"):
        return np.where(present > 0, total / present, np.nan)


def spread_logits(predicted: np.ndarray, confidence: np.ndarray, k: int) -> np.ndarray:
    """Log-probabilities of predictions known only by their label index and confidence ``c``: ``c`` on the
    predicted class, ``(1 - c) / (K - 1)`` on each other."""
    confidence = np.clip(np.asarray(confidence, dtype=float), 1e-6, 1 - 1e-6)
    probs = np.repeat(((1.0 - confidence) / max(k - 1, 1))[:, None], k, axis=1)
    probs[np.arange(len(predicted)), predicted] = confidence
    return np.log(probs)


def _best_temperature(logits, labels, transition):
    """The temperature of the highest likelihood of ``labels``: a grid over LOG_T_RANGE, then golden sections."""
    grid = np.linspace(*LOG_T_RANGE, 25)
    values = [_nll(logits, labels, NoiseFit(np.exp(t), transition)) for t in grid]
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(20):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        fa, fb = (_nll(logits, labels, NoiseFit(np.exp(t), transition)) for t in (a, b))
        low, high = (low, b) if fa <= fb else (a, high)
    return float(np.exp((low + high) / 2))


def _nll(logits, labels, noise):
    return -float(np.log(_joint(logits, labels, noise).sum(axis=1) + 1e-300).sum())


def _joint(logits, labels, noise):
    """``P(true class j, given label | x)`` up to each row's scale: (N x K)."""
    probs = np.exp(_log_softmax(logits / noise.temperature))
    return probs * noise.transition[:, labels].T


def _log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def _checked(logits, labels):
    logits, labels = np.asarray(logits, dtype=float), np.asarray(labels, dtype=int)
    if logits.ndim != 2 or len(logits) != len(labels):
        raise ValueError(f"Expected N x K logits and N labels, got {logits.shape} and {labels.shape}.")
    return logits, labels
