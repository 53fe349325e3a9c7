"""Each model's evaluation numbers, overall and per class, from a comparison's counts (``compare.Totals`` or
``report.summarize``): the numbers FiftyOne's ``evaluate_detections`` / ``evaluate_classifications`` results give
with ``metrics()`` and ``report()`` (micro averages), without evaluating again.

A comparison categorises every ground-truth object (or sample) by what each model did with it, and every false
positive; each model's true positives, false positives and false negatives per class follow from those categories.
Samples without ground truth are not judged (as in the comparison). Detections: crowd objects are matched as
``evaluate_detections`` does; per-class numbers assume class-wise matching (the default).
"""

MODELS = ("baseline", "candidate")

_DETECTION_TP = {
    "baseline": ("broken", "class_flip", "localisation_change", "confidence_change", "unchanged_tp"),
    "candidate": ("fixed", "localisation_change", "confidence_change", "unchanged_tp"),
}
_DETECTION_FN = {"baseline": ("fixed", "unchanged_fn"), "candidate": ("broken", "class_flip", "unchanged_fn")}
_DETECTION_FP = {"baseline": ("removed_fp", "baseline_unchanged_fp"), "candidate": ("new_fp", "unchanged_fp")}
JUDGED = ("fixed", "broken", "wrong_to_wrong", "confidence_change", "unchanged")
"""The categories of a classification sample with ground truth (its class's support)."""


def model_metrics(summary: dict) -> dict:
    """``{"overall": {model: numbers}, "per_class": {class: {model: numbers}}}``; numbers are ``tp``, ``fp``,
    ``fn``, ``support``, ``precision``, ``recall``, ``f1`` and ``accuracy``."""
    count = _classification_counts if summary.get("kind") == "classification" else _detection_counts
    per_class = {label: {m: count(counts, m) for m in MODELS} for label, counts in summary.get("per_class", {}).items()}
    overall = {m: _summed([c[m] for c in per_class.values()]) for m in MODELS}
    detections = summary.get("kind") != "classification"
    return {
        "overall": {m: _rates(c, detections) for m, c in overall.items()},
        "per_class": {
            label: {m: _rates(c, detections) for m, c in models.items()} for label, models in per_class.items()
        },
    }


def _detection_counts(counts: dict, model: str) -> dict:
    tp, fn, fp = (sum(counts.get(c, 0) for c in cats[model]) for cats in (_DETECTION_TP, _DETECTION_FN, _DETECTION_FP))
    return {"tp": tp, "fp": fp, "fn": fn}


def _classification_counts(counts: dict, model: str) -> dict:
    tp = counts.get(f"{model}_correct", 0)  # counted by compare.Totals.add_predictions
    support = sum(counts.get(c, 0) for c in JUDGED)
    return {"tp": tp, "fp": counts.get(f"{model}_predicted", 0) - tp, "fn": support - tp}


def _summed(counts: list[dict]) -> dict:
    return {k: sum(c[k] for c in counts) for k in ("tp", "fp", "fn")}


def _rates(counts: dict, detections: bool) -> dict:
    tp, fp, fn = counts["tp"], counts["fp"], counts["fn"]
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    accuracy = _ratio(tp, tp + fp + fn) if detections else _ratio(tp, tp + fn)
    return {**counts, "support": tp + fn, "precision": precision, "recall": recall, "f1": f1, "accuracy": accuracy}


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0
