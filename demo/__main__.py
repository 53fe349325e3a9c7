"""``make demo``: builds the demo data and models offline, runs the suite's operators through the SDK."""

import argparse
import os
import time

from demo import ROOT, setup_environment

setup_environment()

import fiftyone as fo  # noqa: E402
import fiftyone.operators as foo  # noqa: E402

from demo import masks, review
from testing import data  # noqa: E402

DIGITS, SHAPES = "labelloop-digits", "labelloop-shapes"
PLUGIN = "@labelloop/mlops"


def main():
    args = _parse_args()
    started = time.time()
    print(f"LabelLoop demo: data and models under {args.root}")
    digits = data.build_digits(DIGITS, os.path.join(args.root, "images", "digits"), limit=args.digits)
    shapes = data.build_shapes(SHAPES, os.path.join(args.root, "images", "shapes"), count=args.shapes)
    print(f"  datasets: {DIGITS} ({len(digits)} digit PNGs), {SHAPES} ({len(shapes)} shapes images with boxes)")
    models = train_models(digits, os.path.join(args.root, "models"))
    prelabel_digits(digits, models)
    data.add_simulated_predictions(shapes)  # two simulated detectors of different quality on the real boxes
    find_problems(digits, shapes)
    mask_view = masks.masks_from_boxes(shapes, os.path.join(args.root, "models"))
    review.review_in_cvat(shapes, mask_view)
    compare_models(digits, shapes)
    masks.compare(mask_view)
    for dataset in (digits, shapes):
        show_info(dataset)
    print(f"\nDone in {time.time() - started:.0f} s. Open the App on it: make app")


def train_models(digits, models_dir):
    """Trains the weaker baseline and the better candidate digit classifiers; records them on the dataset."""
    from demo.train import train_classifier

    train, test = digits.match(fo.ViewField("split") == "train"), digits.match(fo.ViewField("split") == "test")
    plans = {"baseline": (200, 5), "candidate": (len(train), 12)}
    models = {}
    for role, (num_train, epochs) in plans.items():
        path = os.path.join(models_dir, f"digits-{role}")
        accuracy = train_classifier(train, test, path, num_train=num_train, epochs=epochs)
        models[role] = {"path": path, "num_train": num_train, "epochs": epochs, "test_accuracy": round(accuracy, 4)}
        print(
            f"  {role} model: {path} (ResNet, {num_train} train images, {epochs} epochs) "
            f"test accuracy {accuracy:.1%} on {len(test)} images"
        )
    digits.info["labelloop_demo_models"] = models
    digits.save()
    return models


def prelabel_digits(digits, models):
    """Pre-labels the digits with both models, accepts the candidate's confident labels, computes embeddings."""
    test = digits.match(fo.ViewField("split") == "test")
    for role in ("baseline", "candidate"):
        result = operator("prelabel")(digits, models[role]["path"], output_field=role, store_logits=True)
        correct = test.match(fo.ViewField(f"{role}.label") == fo.ViewField("ground_truth.label"))
        print(
            f"  prelabel {role}: {result['written']} samples labelled ({result['run_key']}), "
            f"{len(correct) / len(test):.1%} right on the test split"
        )
    accepted = operator("accept_prelabels")(digits, "candidate", gt_field="accepted", threshold=0.9)
    print(f"  accept_prelabels: {accepted['promoted']} candidate labels with confidence >= 0.9 into 'accepted'")
    embedded = operator("compute_embeddings")(digits, models["candidate"]["path"], output_field="embeddings")
    print(f"  compute_embeddings: {embedded['written']} vectors from the candidate model into 'embeddings'")


def find_problems(digits, shapes):
    """Mistakenness on both datasets, uniqueness, near duplicates and a UMAP of the digits, and an
    active-learning batch picked from the baseline's uncertainty."""
    F = fo.ViewField
    scored = operator("compute_mistakenness")(digits, "candidate")
    top = digits.sort_by("mistakenness", reverse=True).limit(20)
    disagree = len(top.match(F("candidate.label") != F("ground_truth.label")))
    print(
        f"  compute_mistakenness on digits: {scored['samples']} scored; of the 20 most suspicious, the candidate "
        f"disagrees with the ground truth on {disagree}"
    )
    boxes = operator("compute_mistakenness")(shapes, "candidate")
    print(
        f"  compute_mistakenness on shapes: {boxes['possible_missing']} possible missing and "
        f"{boxes['possible_spurious']} possible spurious boxes flagged"
    )
    unique = operator("compute_uniqueness")(digits)
    duplicates = operator("find_near_duplicates")(digits, threshold=0.002, member_tag="near_duplicate")
    print(
        f"  compute_uniqueness: mean {unique['mean']:.2f}; find_near_duplicates: {duplicates['groups']} groups, "
        f"{duplicates['duplicates']} duplicates"
    )
    mapped = operator("compute_embedding_map")(digits, method="umap", brain_key="digits_umap")
    print(
        f"  compute_embedding_map: UMAP of {mapped['samples']} digits as brain run 'digits_umap' "
        "(App: Embeddings panel)"
    )
    batch = operator("select_for_annotation")(digits, "baseline", count=50, embeddings_field="embeddings")
    print(f"  select_for_annotation: {batch['tagged']} uncertain, diverse digits tagged 'to_annotate'")


def compare_models(digits, shapes):
    """Compares candidate with baseline on the digits (two trained classifiers) and on the shapes (simulated
    detectors of different quality), then runs the CI gate's checks on the result."""
    from core.regression import report

    for dataset in (digits, shapes):
        result = operator("compare_models")(dataset, "baseline", "candidate")
        broken, fixed = report.broken_fixed(result["overall"])
        failures = report.gate_failures(result, max_ratio=0.5)
        verdict = "passes" if not failures else f"fails ({len(failures)} limits)"
        print(
            f"  compare_models on {dataset.name}: fixed {fixed}, broken {broken}, "
            f"{result['regressed_samples']} samples regressed; gate broken/fixed <= 0.5 {verdict}"
        )


def operator(name):
    return foo.get_operator(f"{PLUGIN}/{name}")


def show_info(dataset):
    """Runs get_labelloop_info on ``dataset`` through its SDK ``__call__`` and prints what it returned."""
    summary = operator("get_labelloop_info")(dataset)
    print(f"\nget_labelloop_info on {summary['dataset']}: {summary['num_samples']} samples ({summary['media_type']})")
    for field in summary["label_fields"]:
        print(f"  {field['name']:<16} {field['type']:<16} {field['num_labels']:>6} labels")
    print(f"  LabelLoop runs on the dataset: {len(summary['runs'])}")
    for run in summary["runs"]:
        print(f"    {run['key']:<40} {run['status']:<10} {run['user']}@{run['host']} {run['model'] or ''}")


def _parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", default=ROOT, help="where images and models are written")
    parser.add_argument("--digits", type=int, default=None, help="use only the first N digits (default: all)")
    parser.add_argument("--shapes", type=int, default=300, help="number of shapes images (default: 300)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
