"""Mistakenness quality and speed: ours (``core.quality.mistakenness``) vs fiftyone-brain's ``compute_mistakenness``
and cleanlab's ``cleanlab.rank.get_label_quality_scores``.

Classification: scikit-learn's 1,797 digits, whose labels a noise model corrupts; each model, trained on the noisy
labels, predicts every sample out of fold (5 folds), stored as Classification with ``logits = log(proba)`` (times
a factor for the miscalibrated models) and again without logits (confidence only). Noise models (rows ``T[j, k]``
= P(label k | class j)): ``uniform`` (any other class), ``pairs`` (classes paired at random: half of the flips go
to the partner, half anywhere), ``asymmetric`` (class j to class j + 1 only), ``random matrix`` (each class its own
rate in [0, 2 x rate], spread over the others by Dirichlet(0.3)), ``confusable`` (instance-dependent: a flip goes
to the class a 10-nearest-neighbour model finds most likely after the true one), each at the rate given. Models:
logistic regression (LR), LR trained on 300 examples per fold (weak), a small MLP, an SVM (Platt-scaled), a random
forest, and LR with logits x 3 (over-confident) and x 0.33 (under-confident). Scorers: ours with logits, cleanlab
``self_confidence`` and ``normalized_margin`` (on the same probabilities), brain ``use_logits=True``; without
logits, ours and brain's default scorer (brain's per-sample scoring functions, applied to the same values as its
``compute_mistakenness`` would, without its per-sample saves). Per noise and model, precision@k (k = flipped
labels) and AUROC, averaged over the seeds (3; --quick: 1); margins are ours minus the best of the others. BLAS
runs on one thread (threads contend on a shared machine).

Detections: synthetic images (300; full: 600) whose predictions are the clean boxes jittered at confidence
U(0.7, 1.0) plus two false positives at U(0.05, 0.3) per image; the ground truth then loses 10% of its boxes and
gains 10% spurious ones. Missing recall = share of the predictions of dropped boxes that are flagged
``possible_missing``, at the flag set's precision when that is >= 0.95, else at the best cut of the flags ranked by
confidence that reaches 0.95 (0 when none does); spurious recall likewise for the added boxes (flags of ground truth
have no confidence to rank by). Then both are timed on 1,000 synthetic samples (median of --repeat runs).

Semantic masks: ``quality_segmentation.segmentation_quality`` (see that module), its figures prefixed
``segmentation_``.

Last line: ``RESULT quality p_at_k=.. auroc=.. (means of ours with logits) cleanlab_p_at_k=.. cleanlab_auroc=..
(means of the better cleanlab method per case) brain_p_at_k=.. min_margin_cleanlab_p=.. min_margin_cleanlab_auroc=..
min_margin_brain_p=.. min_margin_brain_auroc=.. (the smallest, over noise x model, of ours - the best of those)
no_logits_p_at_k=.. brain_default_p_at_k=.. min_margin_no_logits_p=.. missing_recall=.. brain_missing_recall=..
spurious_recall=.. brain_spurious_recall=..``.
"""

import statistics
import time
import warnings

import _setup  # starts the private mongod before fiftyone is imported
import numpy as np
from cleanlab.rank import get_label_quality_scores
from quality_segmentation import RATE, SEEDS, segmentation_quality
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

import fiftyone as fo
import fiftyone.brain as fob
import fiftyone.brain.internal.core.mistakenness as brain_scores

from core.quality.mistakenness import MistakennessRequest, compute
from testing import synthetic

SEED = 0
NOISE = 0.10
K = 10
OURS = "ours_"
NOISES = {  # name: (kind, rate)
    "uniform 10%": ("uniform", 0.10),
    "uniform 30%": ("uniform", 0.30),
    "pairs 15%": ("pairs", 0.15),
    "pairs 30%": ("pairs", 0.30),
    "asymmetric 20%": ("asymmetric", 0.20),
    "asymmetric 40%": ("asymmetric", 0.40),
    "random matrix 15%": ("matrix", 0.15),
    "confusable 15%": ("confusable", 0.15),
}
MODELS = {  # name: (model, logit factor)
    "LR": ("lr", 1.0),
    "LR, 300 examples": ("lr300", 1.0),
    "MLP": ("mlp", 1.0),
    "SVM": ("svm", 1.0),
    "random forest": ("rf", 1.0),
    "LR over-confident (x3)": ("lr", 3.0),
    "LR under-confident (x0.33)": ("lr", 0.33),
}
WITH_LOGITS = ("ours", "cl_self", "cl_margin", "brain")
WITHOUT = ("ours_conf", "brain_default")
HEADERS = {"ours": "ours", "cl_self": "cl self-conf", "cl_margin": "cl norm-margin", "brain": "brain logits"}
HEADERS.update({"ours_conf": "ours no-logits", "brain_default": "brain default"})


def main():
    parser = _setup.parser(__doc__, "1 seed instead of 3, 300 detection images instead of 600, one timing run")
    parser.add_argument("--repeat", type=int, help="timing runs of each (default: 1 with --quick, else 3)")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    seeds = 1 if args.quick else 3

    with threadpool_limits(1):
        cls = classification_quality(seeds)
    det = detection_quality(300 if args.quick else 600)
    ours_s, brain_s = detection_timing(1000, repeat)

    print(f"precision@k / AUROC, mean of {seeds} seed(s); cl = cleanlab 2.9 get_label_quality_scores")
    print(f"{'noise':19}{'model':28}" + "".join(f"{HEADERS[n]:>16}" for n in WITH_LOGITS + WITHOUT))
    for (noise, model), r in cls.items():
        cells = "".join(f"{r[n][0]:>9.3f}/{r[n][1]:.3f}" for n in WITH_LOGITS + WITHOUT)
        print(f"{noise:19}{model:28}{cells}")
    summary = _summary(cls)
    print()
    for what in ("missing", "spurious"):
        o, b = det[f"ours_{what}"], det[f"brain_{what}"]
        flags = [f"{m['flags']:>5} ({m['precision']:.2f})" for m in (o, b)]
        print(f"{what + ' flags (precision)':34}{flags[0]:>10}{flags[1]:>10}")
        print(f"{what + ' recall at precision >= 0.95':34}{o['recall']:10.3f}{b['recall']:10.3f}   of {o['truth']}")
    print(f"{'detections on 1,000 samples (s)':34}{ours_s:10.2f}{brain_s:10.2f}   ratio {ours_s / brain_s:.3f}")
    print(f"brain's possible_missing: {det['brain_missing']['flags']} flags (its threshold is confidence > 0.95)")
    with threadpool_limits(1):
        seg = segmentation_quality(
            [(seed, RATE) for seed in SEEDS[: 1 if args.quick else None]], 150 if args.quick else 400
        )
    print(
        "RESULT quality "
        + " ".join(f"{key}={value:.3f}" for key, value in summary.items())
        + "".join(
            f" {who}{what}_recall={det[f'{scorer}_{what}']['recall']:.3f}"
            for what in ("missing", "spurious")
            for who, scorer in (("", "ours"), ("brain_", "brain"))
        )
        + "".join(f" segmentation_{key}={value:.3f}" for key, value in seg.items())
    )


def _summary(cls):
    """Means over the cases and the smallest margins of ours over cleanlab and brain."""
    rows = list(cls.values())

    def mean(name, metric):
        return float(np.mean([r[name][metric] for r in rows]))

    def best_cl(r, metric):
        return max(r["cl_self"][metric], r["cl_margin"][metric])

    return {
        "p_at_k": mean("ours", 0),
        "auroc": mean("ours", 1),
        "cleanlab_p_at_k": float(np.mean([best_cl(r, 0) for r in rows])),
        "cleanlab_auroc": float(np.mean([best_cl(r, 1) for r in rows])),
        "brain_p_at_k": mean("brain", 0),
        "min_margin_cleanlab_p": min(r["ours"][0] - best_cl(r, 0) for r in rows),
        "min_margin_cleanlab_auroc": min(r["ours"][1] - best_cl(r, 1) for r in rows),
        "min_margin_brain_p": min(r["ours"][0] - max(r["brain"][0], r["brain_default"][0]) for r in rows),
        "min_margin_brain_auroc": min(r["ours"][1] - max(r["brain"][1], r["brain_default"][1]) for r in rows),
        "no_logits_p_at_k": mean("ours_conf", 0),
        "brain_default_p_at_k": mean("brain_default", 0),
        "min_margin_no_logits_p": min(r["ours_conf"][0] - r["brain_default"][0] for r in rows),
    }


def classification_quality(seeds):
    """``{(noise, model): {scorer: (precision@k, AUROC)}}``, averaged over ``seeds`` seeds."""
    x, truth = load_digits(return_X_y=True)
    x = x / 16.0
    results = {}
    for seed in range(seeds):
        for n, (noise, (kind, rate)) in enumerate(NOISES.items()):
            rng = np.random.default_rng([seed, n])
            noisy = _noisy(kind, rate, x, truth, rng)
            fitted = {model: _proba(model, x, noisy, seed) for model in {m for m, _ in MODELS.values()}}
            probas = {name: fitted[model] for name, (model, _) in MODELS.items()}
            scored = _scored(f"bench-quality-{seed}-{n}", noisy, probas, noisy != truth)
            for model, result in scored.items():
                results.setdefault((noise, model), []).append(result)
    return {case: {s: tuple(np.mean([r[s] for r in rows], axis=0)) for s in rows[0]} for case, rows in results.items()}


def _noisy(kind, rate, x, truth, rng):
    """``truth`` with labels flipped by noise model ``kind`` at ``rate`` (see the module docstring)."""
    if kind == "confusable":
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        others = cross_val_predict(KNeighborsClassifier(10), x, truth, cv=folds, method="predict_proba")
        others += 1e-3 * rng.random(others.shape)
        others[np.arange(len(truth)), truth] = -1
        return np.where(rng.random(len(truth)) < rate, others.argmax(axis=1), truth)
    transition = np.zeros((K, K))
    if kind in ("uniform", "pairs"):
        share = rate if kind == "uniform" else rate / 2
        transition += share / (K - 1)
        if kind == "pairs":
            order = rng.permutation(K)
            partner = np.empty(K, dtype=int)
            partner[order[0::2]], partner[order[1::2]] = order[1::2], order[0::2]
            transition[np.arange(K), partner] += rate / 2
    elif kind == "asymmetric":
        transition[np.arange(K), (np.arange(K) + 1) % K] = rate
    else:
        for j in range(K):
            others = [k for k in range(K) if k != j]
            transition[j, others] = rng.uniform(0, 2 * rate) * rng.dirichlet(np.full(K - 1, 0.3))
    np.fill_diagonal(transition, 0.0)
    np.fill_diagonal(transition, 1.0 - transition.sum(axis=1))
    return np.array([rng.choice(K, p=transition[t]) for t in truth])


def _proba(model, x, noisy, seed):
    """Out-of-fold probabilities of ``model`` trained on the noisy labels."""
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    if model == "lr300":
        proba, rng = np.zeros((len(noisy), K)), np.random.default_rng(seed)
        for train, test in folds.split(x, noisy):
            few = rng.choice(train, 300, replace=False)
            fitted = LogisticRegression(max_iter=2000).fit(x[few], noisy[few])
            proba[np.ix_(test, fitted.classes_)] = fitted.predict_proba(x[test])
        return proba
    estimator = {
        "lr": lambda: LogisticRegression(max_iter=2000),
        "mlp": lambda: MLPClassifier((32,), max_iter=300, random_state=seed),
        "svm": lambda: SVC(probability=True, random_state=seed),
        "rf": lambda: RandomForestClassifier(100, random_state=seed),
    }[model]()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cross_val_predict(estimator, x, noisy, cv=folds, method="predict_proba")


def _scored(name, noisy, probas, flipped):
    """``{model: {scorer: (precision@k, AUROC)}}`` on labels ``noisy`` (k = flipped labels)."""
    dataset = _new_dataset(name)
    fields = {model: f"m{i}" for i, model in enumerate(MODELS)}
    samples = [
        fo.Sample(filepath=f"/digits/{i:04d}.png", ground_truth=fo.Classification(label=str(label)))
        for i, label in enumerate(noisy)
    ]
    scores = {}
    for model, (_, factor) in MODELS.items():
        logits = np.log(np.clip(probas[model], 1e-12, None)) * factor
        proba = np.exp(logits - logits.max(axis=1, keepdims=True))
        proba /= proba.sum(axis=1, keepdims=True)
        for sample, row, p in zip(samples, logits, proba, strict=True):
            label, confidence = str(int(row.argmax())), float(p.max())
            sample[fields[model]] = fo.Classification(label=label, confidence=confidence, logits=row.tolist())
            sample[f"{fields[model]}_conf"] = fo.Classification(label=label, confidence=confidence)
        scores[model] = {
            "cl_self": 1 - get_label_quality_scores(noisy, proba, method="self_confidence"),
            "cl_margin": 1 - get_label_quality_scores(noisy, proba, method="normalized_margin"),
        }
    dataset.add_samples(samples, progress=False)
    for model, field in fields.items():
        compute(dataset, MistakennessRequest(field, prefix=f"{field}_"), progress=False)
        compute(dataset, MistakennessRequest(f"{field}_conf", prefix=f"{field}_conf_"), progress=False)
        scores[model]["ours"] = np.array(dataset.values(f"{field}_mistakenness"), float)
        scores[model]["ours_conf"] = np.array(dataset.values(f"{field}_conf_mistakenness"), float)
        scores[model].update(_brain_scores(noisy, dataset.values(f"{field}.label"), dataset.values(f"{field}.logits")))
    k = int(flipped.sum())
    return {
        model: {
            s: (float(flipped[np.argsort(-v, kind="stable")[:k]].mean()), float(roc_auc_score(flipped, v)))
            for s, v in by_scorer.items()
        }
        for model, by_scorer in scores.items()
    }


def _brain_scores(noisy, predicted, logits):
    """fiftyone-brain's classification scores (``use_logits=True`` and its default), by the functions its
    ``compute_mistakenness`` applies to each sample (its per-sample saves would dominate the run time)."""
    agree = [float(str(y) == p) for y, p in zip(noisy, predicted, strict=True)]
    confidence = [float(np.exp(z).max() / np.exp(z).sum()) for z in logits]
    return {
        "brain": np.array([brain_scores._compute_mistakenness_class(z, m) for z, m in zip(logits, agree, strict=True)]),
        "brain_default": np.array(
            [brain_scores._compute_mistakenness_class_conf(c, m) for c, m in zip(confidence, agree, strict=True)]
        ),
    }


def detection_quality(count):
    """Recall of the dropped (missing) and added (spurious) boxes among both methods' flags."""
    dataset, dropped, added = _corrupted_detections("bench-quality-detections", count)
    compute(dataset, MistakennessRequest("predictions", prefix=OURS), progress=False)
    fob.compute_mistakenness(dataset, "predictions", label_field="ground_truth", progress=False)
    preds = dataset.values("predictions.detections", unwind=True)
    gts = dataset.values("ground_truth.detections", unwind=True)
    result = {}
    for name, prefix in (("ours", OURS), ("brain", "")):
        flagged = [(d.id, d.confidence) for d in preds if _flag(d, f"{prefix}possible_missing")]
        result[f"{name}_missing"] = _recall(flagged, dropped)
        result[f"{name}_spurious"] = _recall(
            [(d.id, None) for d in gts if _flag(d, f"{prefix}possible_spurious")], added
        )
    return result


def detection_timing(count, repeat):
    """Median seconds of ours and of brain's detection mistakenness on ``count`` corrupted synthetic samples."""
    dataset, _, _ = _corrupted_detections("bench-quality-timing", count)
    ours, brain = [], []
    for r in range(repeat):
        ours.append(_timed(compute, dataset, MistakennessRequest("predictions", prefix=f"t{r}_"), progress=False))
        names = {f"{kind}_field": f"brain{r}_{kind}" for kind in ("mistakenness", "missing", "spurious")}
        brain.append(_timed(fob.compute_mistakenness, dataset, "predictions", "ground_truth", progress=False, **names))
    return statistics.median(ours), statistics.median(brain)


def _corrupted_detections(name, count):
    """The dataset, the ids of the predictions whose ground truth was dropped, and the ids of added ground truth."""
    rng = np.random.default_rng(SEED)
    samples, dropped, added = [], set(), set()
    for i in range(count):
        clean = synthetic._ground_truth(rng, int(rng.integers(2, 9)), crowd_rate=0.0)
        preds = []
        for label, box, _, _ in clean:
            moved = np.clip(np.asarray(box) + rng.normal(0, 0.02 * box[2], 4), 0, 0.95)
            confidence = float(rng.uniform(0.7, 1.0))
            preds.append(fo.Detection(label=label, bounding_box=moved.tolist(), confidence=confidence))
        truth = [fo.Detection(label=label, bounding_box=[float(v) for v in box]) for label, box, _, _ in clean]
        keep = rng.random(len(truth)) >= NOISE
        dropped.update(p.id for p, k in zip(preds, keep, strict=True) if not k)
        truth = [t for t, k in zip(truth, keep, strict=True) if k]
        for label, box, _, _ in synthetic._ground_truth(rng, rng.binomial(len(clean), NOISE), crowd_rate=0.0):
            truth.append(fo.Detection(label=label, bounding_box=[float(v) for v in box]))
            added.add(truth[-1].id)
        for label, box, _, _ in synthetic._ground_truth(rng, 2, crowd_rate=0.0):
            box = [float(v) for v in box]
            preds.append(fo.Detection(label=label, bounding_box=box, confidence=float(rng.uniform(0.05, 0.3))))
        samples.append(
            fo.Sample(
                filepath=f"/synthetic/{i:06d}.png",
                ground_truth=fo.Detections(detections=truth),
                predictions=fo.Detections(detections=preds),
            )
        )
    dataset = _new_dataset(name)
    dataset.add_samples(samples, progress=False)
    return dataset, dropped, added


def _recall(flagged, truth):
    """Flags, their precision, and the recall of ``truth`` at precision >= 0.95: of all flags, or of the best cut of
    the flags ranked by confidence (flags whose confidence is None are not ranked: all of them or none)."""
    hits = [i in truth for i, _ in sorted(flagged, key=lambda f: -(f[1] or 0.0))]
    precision = sum(hits) / len(hits) if hits else 0.0
    ranked = all(c is not None for _, c in flagged)
    recall = 0.0
    for n in range(1, len(hits) + 1) if ranked else [len(hits)] * bool(hits):
        found = sum(hits[:n])
        if found / n >= 0.95:
            recall = max(recall, found / len(truth))
    return {"flags": len(hits), "precision": precision, "recall": recall, "truth": len(truth)}


def _flag(label, name):
    return label.has_field(name) and bool(label[name])


def _new_dataset(name):
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    return fo.Dataset(name)


def _timed(fn, *args, **kwargs):
    started = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
