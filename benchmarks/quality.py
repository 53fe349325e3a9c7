"""Mistakenness quality and speed: ours (``core.quality.mistakenness``) vs fiftyone-brain's ``compute_mistakenness``.

Classification: scikit-learn's 1,797 digits with 10% of the ground-truth labels flipped (fixed seed); a logistic
regression on the pixels, trained on the noisy labels, predicts every sample out of fold (5 folds), stored as
Classification with ``logits = log(proba)`` and again without logits (confidence only). Rankings are scored by
precision@k (k = flipped labels) and AUROC: ours with logits against brain's ``use_logits=True``, ours without
logits against brain's default scorer (confidence only). Held out: three models (logistic regression, SVM, random
forest) trained on the clean train half score the test half, whose labels are 10% flipped either uniformly or to
the class an independent k-NN finds most likely after the true one (confusable noise, as annotators make it);
precision@k of the four scorers for each model and noise.

Detections: synthetic images (300; full: 600) whose predictions are the clean boxes jittered at confidence
U(0.7, 1.0) plus two false positives at U(0.05, 0.3) per image; the ground truth then loses 10% of its boxes and
gains 10% spurious ones. Missing recall = share of the predictions of dropped boxes that are flagged
``possible_missing``, at the flag set's precision when that is >= 0.95, else at the best cut of the flags ranked by
confidence that reaches 0.95 (0 when none does); spurious recall likewise for the added boxes (flags of ground truth
have no confidence to rank by). Then both are timed on 1,000 synthetic samples (median of --repeat runs).

Last line: ``RESULT quality p_at_k=.. brain_p_at_k=.. auroc=.. brain_auroc=.. no_logits_p_at_k=..
brain_default_p_at_k=.. heldout_no_logits_margin=<min over held-out cases of ours without logits - brain default>
missing_recall=.. brain_missing_recall=..``.
"""

import statistics
import time

import _setup  # starts the private mongod before fiftyone is imported
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

import fiftyone as fo
import fiftyone.brain as fob

from core.quality.mistakenness import MistakennessRequest, compute
from testing import synthetic

SEED = 0
NOISE = 0.10
OURS = "ours_"
SCORERS = ("ours", "ours_conf", "brain_default", "brain")  # ours / brain with logits, ours / brain without
HELD_OUT_MODELS = {
    "logistic regression": lambda: LogisticRegression(max_iter=2000),
    "SVM": lambda: CalibratedClassifierCV(SVC(random_state=SEED), ensemble=False),
    "random forest": lambda: RandomForestClassifier(200, random_state=SEED),
}


def main():
    parser = _setup.parser(__doc__, "300 detection images instead of 600, one timing run")
    parser.add_argument("--repeat", type=int, help="timing runs of each (default: 1 with --quick, else 3)")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)

    cls = classification_quality()
    held_out = held_out_quality()
    det = detection_quality(300 if args.quick else 600)
    ours_s, brain_s = detection_timing(1000, repeat)

    print(f"{'':34}{'ours':>10}{'brain':>10}")
    print(f"{'digits precision@k (k=flipped)':34}{cls['ours_p']:10.3f}{cls['brain_p']:10.3f}   k={cls['k']}")
    print(f"{'digits AUROC':34}{cls['ours_auc']:10.3f}{cls['brain_auc']:10.3f}")
    print(f"{'same, without logits: precision@k':34}{cls['ours_conf_p']:10.3f}{cls['brain_default_p']:10.3f}")
    print(f"{'same, without logits: AUROC':34}{cls['ours_conf_auc']:10.3f}{cls['brain_default_auc']:10.3f}")
    print(f"\nheld-out precision@k{'':26}" + "".join(f"{name:>15}" for name in SCORERS))
    for (noise, model), result in held_out.items():
        print(f"{noise + ', ' + model:46}" + "".join(f"{result[f'{name}_p']:15.3f}" for name in SCORERS))
    margin = min(r["ours_conf_p"] - r["brain_default_p"] for r in held_out.values())
    print()
    for what in ("missing", "spurious"):
        o, b = det[f"ours_{what}"], det[f"brain_{what}"]
        flags = [f"{m['flags']:>5} ({m['precision']:.2f})" for m in (o, b)]
        print(f"{what + ' flags (precision)':34}{flags[0]:>10}{flags[1]:>10}")
        print(f"{what + ' recall at precision >= 0.95':34}{o['recall']:10.3f}{b['recall']:10.3f}   of {o['truth']}")
    print(f"{'detections on 1,000 samples (s)':34}{ours_s:10.2f}{brain_s:10.2f}   ratio {ours_s / brain_s:.3f}")
    print(f"brain's possible_missing: {det['brain_missing']['flags']} flags (its threshold is confidence > 0.95)")
    print(
        f"RESULT quality p_at_k={cls['ours_p']:.3f} brain_p_at_k={cls['brain_p']:.3f} auroc={cls['ours_auc']:.3f} "
        f"brain_auroc={cls['brain_auc']:.3f} no_logits_p_at_k={cls['ours_conf_p']:.3f} "
        f"brain_default_p_at_k={cls['brain_default_p']:.3f} heldout_no_logits_margin={margin:.3f} "
        f"missing_recall={det['ours_missing']['recall']:.3f} "
        f"brain_missing_recall={det['brain_missing']['recall']:.3f}"
    )


def classification_quality():
    """Precision@k and AUROC of the four scorers on digits with 10% flipped labels, predicted out of fold."""
    digits = load_digits()
    rng = np.random.default_rng(SEED)
    noisy = digits.target.copy()
    flipped = rng.random(len(noisy)) < NOISE
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    model = LogisticRegression(max_iter=2000)
    folds = StratifiedKFold(5, shuffle=True, random_state=SEED)
    proba = cross_val_predict(model, digits.data / 16.0, noisy, cv=folds, method="predict_proba")
    return _scored("bench-quality-digits", noisy, proba, flipped)


def held_out_quality():
    """Precision@k of the four scorers, per (noise, model), on the test half of the digits with 10% flipped labels,
    scored by models trained on the clean train half."""
    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=0.5, stratify=digits.target, random_state=SEED
    )
    rng = np.random.default_rng(SEED)
    flipped = rng.random(len(y_test)) < NOISE
    uniform = (y_test + rng.integers(1, 10, len(y_test))) % 10
    others = KNeighborsClassifier(10).fit(x_train, y_train).predict_proba(x_test) + 1e-3 * rng.random((len(y_test), 10))
    others[np.arange(len(y_test)), y_test] = -1
    noises = {"uniform": uniform, "confusable": others.argmax(axis=1)}
    results = {}
    for model_name, make in HELD_OUT_MODELS.items():
        proba = make().fit(x_train, y_train).predict_proba(x_test)
        for noise, wrong in noises.items():
            noisy = np.where(flipped, wrong, y_test)
            results[(noise, model_name)] = _scored(f"bench-quality-held-out-{len(results)}", noisy, proba, flipped)
    return results


def _scored(name, noisy, proba, flipped):
    """Precision@k (k = flipped labels) and AUROC of ``SCORERS`` on labels ``noisy`` with predicted ``proba``."""
    logits = np.log(np.clip(proba, 1e-12, None))
    dataset = _new_dataset(name)
    dataset.add_samples(
        [
            fo.Sample(
                filepath=f"/digits/{i:04d}.png",
                ground_truth=fo.Classification(label=str(label)),
                predictions=fo.Classification(label=str(row.argmax()), confidence=float(p.max()), logits=row.tolist()),
                confidences=fo.Classification(label=str(row.argmax()), confidence=float(p.max())),
            )
            for i, (label, row, p) in enumerate(zip(noisy, logits, proba, strict=True))
        ],
        progress=False,
    )
    compute(dataset, MistakennessRequest("predictions", prefix=OURS), progress=False)
    compute(dataset, MistakennessRequest("confidences", prefix=f"{OURS}conf_"), progress=False)
    for use_logits, field in ((True, "brain"), (False, "brain_default")):
        fob.compute_mistakenness(
            dataset, "predictions", "ground_truth", mistakenness_field=field, use_logits=use_logits, progress=False
        )
    k = int(flipped.sum())
    result = {"k": k}
    for scorer in SCORERS:
        scores = np.array(dataset.values(f"{scorer}_mistakenness" if scorer.startswith("ours") else scorer), float)
        result[f"{scorer}_p"] = float(flipped[np.argsort(-scores, kind="stable")[:k]].mean())
        result[f"{scorer}_auc"] = float(roc_auc_score(flipped, scores))
    return result


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
