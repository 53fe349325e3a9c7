"""Trains small but real transformers image classifiers on the digits PNGs, on the CPU, in seconds."""

import numpy as np
import torch
from PIL import Image

from core.models.torch_compat import ensure_torchvision

ensure_torchvision()

from transformers import ResNetConfig, ResNetForImageClassification, ViTImageProcessor  # noqa: E402

INPUT_SIZE = 32
BATCH_SIZE = 32


def train_classifier(train_view, test_view, out_dir, num_train, epochs, seed=0):
    """Trains a small ResNet on ``num_train`` samples of ``train_view``, saves it to ``out_dir``.

    Returns the accuracy on ``test_view``. The saved directory (model + image processor) loads with
    ``AutoModelForImageClassification`` / ``AutoImageProcessor`` and FiftyOne's transformers zoo entries.
    """
    torch.manual_seed(seed)
    labels = sorted(set(train_view.distinct("ground_truth.label")) | set(test_view.distinct("ground_truth.label")))
    processor = ViTImageProcessor(size={"height": INPUT_SIZE, "width": INPUT_SIZE})
    model = ResNetForImageClassification(_config(labels))
    x_train, y_train = _tensors(train_view.limit(num_train), processor, labels)
    _fit(model, x_train, y_train, epochs, seed)
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    x_test, y_test = _tensors(test_view, processor, labels)
    return _accuracy(model, x_test, y_test)


def _config(labels):
    return ResNetConfig(
        num_channels=3,
        embedding_size=16,
        hidden_sizes=[16, 32, 64],
        depths=[1, 1, 1],
        layer_type="basic",
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )


def _tensors(view, processor, labels):
    paths, names = view.values(["filepath", "ground_truth.label"])
    images = [Image.open(path).convert("RGB") for path in paths]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    index = {label: i for i, label in enumerate(labels)}
    return pixels, torch.tensor([index[name] for name in names])


def _fit(model, x, y, epochs, seed):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        for batch in np.array_split(rng.permutation(len(y)), max(1, len(y) // BATCH_SIZE)):
            loss = model(pixel_values=x[batch], labels=y[batch]).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()


def _accuracy(model, x, y):
    with torch.no_grad():
        predicted = torch.cat([model(pixel_values=chunk).logits.argmax(1) for chunk in x.split(256)])
    return float((predicted == y).float().mean())
