"""demo.data and demo.train: real digits PNGs, synthetic shapes with boxes, trained local classifiers."""

import numpy as np
import transformers as tr
from PIL import Image
from sklearn.datasets import load_digits

import fiftyone as fo

from demo.train import train_classifier
from testing import data


def test_digits_are_real_pngs_with_their_sklearn_labels(digits):
    source = load_digits()
    sample = digits.first()
    image = np.asarray(Image.open(sample.filepath).convert("L"))
    assert image.shape == (data.DIGIT_SIZE, data.DIGIT_SIZE)
    assert digits.values("ground_truth.label") == [str(t) for t in source.target[: len(digits)]]
    assert set(digits.distinct("split")) == {"train", "test"}
    thumbnail = np.asarray(Image.fromarray(image).resize((8, 8), Image.BOX), dtype=float)
    assert np.corrcoef(thumbnail.ravel(), source.images[sample.digit_index].ravel())[0, 1] > 0.9


def test_shapes_have_boxes_inside_the_image_with_known_labels(shapes):
    boxes = [box for boxes in shapes.values("ground_truth.detections.bounding_box") for box in boxes]
    assert len(shapes) == 40 and len(boxes) >= 40
    assert all(0 <= x and 0 <= y and x + w <= 1 and y + h <= 1 for x, y, w, h in boxes)
    assert set(shapes.distinct("ground_truth.detections.label")) <= set(data.SHAPES)
    assert shapes.first().metadata.width == 128


def test_shapes_boxes_cover_the_drawn_pixels(shapes):
    sample = shapes.first()
    image = np.asarray(Image.open(sample.filepath), dtype=float)
    x, y, w, h = (round(v * 128) for v in sample.ground_truth.detections[-1].bounding_box)
    inside = image[y + h // 4 : y + 3 * h // 4, x + w // 4 : x + 3 * w // 4].reshape(-1, 3)
    assert inside.std(axis=0).max() < 8  # the centre of the last-drawn shape is one flat colour


def test_builders_are_deterministic(tmp_path):
    first = data.build_shapes("shapes-a", str(tmp_path / "a"), count=5, seed=3)
    second = data.build_shapes("shapes-b", str(tmp_path / "b"), count=5, seed=3)
    try:
        assert first.values("ground_truth.detections.bounding_box") == second.values(
            "ground_truth.detections.bounding_box"
        )
    finally:
        first.delete()
        second.delete()


def test_trained_classifier_beats_chance_and_loads_with_auto_classes(digits, tmp_path):
    train, test = digits.match(fo.ViewField("split") == "train"), digits.match(fo.ViewField("split") == "test")
    accuracy = train_classifier(train, test, str(tmp_path / "model"), num_train=len(train), epochs=8)
    assert accuracy > 0.5, accuracy  # chance is 0.1
    model = tr.AutoModelForImageClassification.from_pretrained(tmp_path / "model")
    assert sorted(model.config.id2label.values()) == [str(i) for i in range(10)]
    assert tr.AutoImageProcessor.from_pretrained(tmp_path / "model").size == {"height": 32, "width": 32}
