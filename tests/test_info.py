"""core.store.info: label fields with counts and writers, and the suite's runs."""

import fiftyone as fo

from core.store import info, runs


def test_label_fields_are_counted_per_label(shapes):
    boxes = sum(len(d.detections) for d in shapes.values("ground_truth"))
    [field] = info.label_fields(shapes)
    assert field == {"name": "ground_truth", "type": "Detections", "num_labels": boxes, "written_by": []}


def test_counts_follow_the_view(digits):
    view = digits.limit(7)
    summary = info.summarize(view)
    assert summary["num_samples"] == 7 and summary["dataset"] == digits.name
    [field] = summary["label_fields"]
    assert field["type"] == "Classification" and field["num_labels"] == 7


def test_fields_written_by_suite_runs_are_attributed(digits):
    digits.set_values("predictions", [fo.Classification(label="1")] * len(digits))
    key = runs.start_run(digits, "prelabel", fields=["predictions"])
    runs.finish_run(digits, key)
    fields = {f["name"]: f for f in info.summarize(digits)["label_fields"]}
    assert fields["predictions"]["written_by"] == [key] and fields["ground_truth"]["written_by"] == []


def test_progress_is_reported_in_order(dataset):
    dataset.add_sample(fo.Sample(filepath="/nonexistent/a.png"))
    seen = []
    info.summarize(dataset, progress=lambda fraction, label: seen.append(fraction))
    assert seen == sorted(seen) and len(seen) >= 2


def test_a_dataset_without_labels_has_no_label_fields(dataset):
    dataset.add_sample(fo.Sample(filepath="/nonexistent/a.png"))
    assert info.summarize(dataset)["label_fields"] == []
