"""store.fields: the class names a dataset knows come from every label type that names its labels (keypoints too)
and from semantic mask targets."""

import uuid

import numpy as np
import pytest

import fiftyone as fo

from core.store import fields


@pytest.fixture
def dataset():
    ds = fo.Dataset(f"fields-{uuid.uuid4().hex[:10]}")
    ds.add_sample(fo.Sample(filepath="/tmp/x.png"))
    yield ds
    ds.delete()


def test_keypoint_labels_and_mask_targets_are_known_names(dataset):
    sample = dataset.first()
    sample["people"] = fo.Keypoints(keypoints=[fo.Keypoint(label="person", points=[(0.1, 0.2)])])
    sample["scene"] = fo.Segmentation(mask=np.zeros((2, 2), np.uint8))
    sample["pred"] = fo.Segmentation(mask=np.zeros((2, 2), np.uint8))
    sample.save()
    dataset.mask_targets = {"scene": {1: "road"}, "pred": {1: "stale"}}
    dataset.default_mask_targets = {2: "sidewalk"}
    dataset.save()
    assert fields.dataset_label_names(dataset, exclude="pred") == {"person", "road", "sidewalk"}
    assert "person" not in fields.dataset_label_names(dataset, exclude="people")
