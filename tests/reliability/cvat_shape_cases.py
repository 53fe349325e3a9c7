"""Keypoints and semantic masks through the CVAT send / load (issue 14). Each bad input is refused before any task
exists; partial NaN keypoints and FiftyOne edits made while a mask is out are kept."""

import math
import os

import numpy as np

import fiftyone as fo

from .cvat_cases import cvat, left_nothing, send, send_with
from .registry import BAD_INPUT, CONCURRENCY, Case, register
from .resources import operator, shapes

SIDE = 128  # the shapes images' width and height
TARGETS = {1: "circle", 2: "square", 3: "triangle"}


def _posed(points, skeleton=None):
    """Two shapes samples with a Keypoints field ``pose``: a good keypoint each, ``points`` on the first's."""

    def setup(res):
        target = shapes(res).limit(2)
        dataset = target._dataset
        dataset.add_sample_field("pose", fo.EmbeddedDocumentField, embedded_doc_type=fo.Keypoints)
        if skeleton:
            dataset.skeletons = {"pose": fo.KeypointSkeleton(labels=skeleton, edges=[[0, 1]])}
            dataset.save()
        good = [(0.1, 0.1), (0.2, 0.2), (0.3, 0.1)]
        target.set_values(
            "pose", [fo.Keypoints(keypoints=[fo.Keypoint(label="circle", points=p)]) for p in (points, good)]
        )
        return target

    return setup


def _scene(spoil):
    """Two shapes samples with a semantic mask field ``scene`` (mask targets set); ``spoil(label, res)`` on the
    first's."""

    def setup(res):
        target = shapes(res).limit(2)
        dataset = target._dataset
        dataset.add_sample_field("scene", fo.EmbeddedDocumentField, embedded_doc_type=fo.Segmentation)
        dataset.mask_targets = {"scene": TARGETS}
        dataset.save()
        labels = []
        for index in range(2):
            mask = np.zeros((SIDE, SIDE), np.uint8)
            mask[10:40, 20:60] = 1 + index
            label = fo.Segmentation(mask=mask)
            if index == 0:
                spoil(label, res)
            labels.append(label)
        target.set_values("scene", labels)
        return target

    return setup


def _missing_file(label, res):
    label.mask, label.mask_path = None, os.path.join(res.root, "no-such-mask.png")


def _sent_and_loaded_with_a_fiftyone_edit(target, res):
    """Sends ``scene``, paints a block in FiftyOne meanwhile, loads: the block must survive the merge."""
    with cvat(res):
        sent = send(target, gt_field="scene")
        sample = target.first()
        mask = sample.scene.get_mask().copy()
        mask[100:104, 100:104] = 3
        sample.scene.mask = mask
        sample.save()
        return operator("load_from_cvat")(target._root_dataset, review=sent["run_key"])


def _kept_the_fiftyone_edit(target, res, result):
    mask = target.values("scene")[0].get_mask()  # values(): this process's view predates the load's new fields
    return [] if result["kept_local"] == 1 and (mask[100:104, 100:104] == 3).all() else [f"edit lost: {result}"]


def _sent_every_sample(target, res, result):
    return [] if result["samples"] == len(target) and res.cvat.tasks else [f"not sent: {result}"]


NAN = (math.nan, math.nan)
register(
    Case(
        "cvat_send_keypoints_all_nan",
        "send_to_cvat",
        BAD_INPUT,
        _posed([NAN, NAN, NAN]),
        send_with(gt_field="pose"),
        r"no visible point \(every point is NaN\): remove it or give it a point",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_keypoints_empty",
        "send_to_cvat",
        BAD_INPUT,
        _posed([]),
        send_with(gt_field="pose"),
        r"has no points",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_keypoints_some_nan",  # FiftyOne alone crashes on these after creating the task
        "send_to_cvat",
        BAD_INPUT,
        _posed([(0.1, 0.1), NAN, (0.3, 0.3)]),
        send_with(gt_field="pose"),
        None,
        verify=_sent_every_sample,
    ),
    Case(
        "cvat_send_keypoints_off_the_skeleton",
        "send_to_cvat",
        BAD_INPUT,
        _posed([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], skeleton=["head", "tail"]),
        send_with(gt_field="pose"),
        r"has 3 points, the field's skeleton 2 nodes: give it one point per node",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_semantic_mask_wrong_size",
        "send_to_cvat",
        BAD_INPUT,
        _scene(lambda label, res: setattr(label, "mask", np.zeros((SIDE, SIDE + 1), np.uint8))),
        send_with(gt_field="scene"),
        r"its mask is 129x128 pixels, the image 128x128",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_semantic_mask_not_integers",
        "send_to_cvat",
        BAD_INPUT,
        _scene(lambda label, res: setattr(label, "mask", np.zeros((SIDE, SIDE, 3), np.float32))),
        send_with(gt_field="scene"),
        r"not \(height, width\) integers",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_semantic_mask_path_missing",
        "send_to_cvat",
        BAD_INPUT,
        _scene(_missing_file),
        send_with(gt_field="scene"),
        r"its mask_path .*no-such-mask\.png does not exist",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_semantic_mask_none",
        "send_to_cvat",
        BAD_INPUT,
        _scene(lambda label, res: setattr(label, "mask", None)),
        send_with(gt_field="scene"),
        r"the Segmentation has neither mask nor mask_path",
        verify=left_nothing,
    ),
    Case(
        "cvat_send_semantic_class_without_value",
        "send_to_cvat",
        BAD_INPUT,
        _scene(lambda label, res: None),
        send_with(gt_field="scene", classes=["hexagon"]),
        r"Classes hexagon have no pixel value in the mask targets of 'scene': add them",
        verify=left_nothing,
    ),
    Case(
        "cvat_load_semantic_mask_edited_in_fiftyone_meanwhile",
        "load_from_cvat",
        CONCURRENCY,
        _scene(lambda label, res: None),
        _sent_and_loaded_with_a_fiftyone_edit,
        None,
        verify=_kept_the_fiftyone_edit,
        writes=("scene",),
    ),
)
