"""Bad labels of the types beyond boxes and tags (issue 14): instance masks of the wrong shape, empty or not binary,
a ``mask_path`` to a missing file, semantic masks likewise, polygons of fewer than 3 points, keypoints with NaNs,
and bad prompt boxes for masks from boxes; through pre-labelling (masks from boxes, polygons) and
``accept_prelabels``. Each ends as a clear error or as its graceful outcome (bad labels skipped and counted), with
no label lost.

Other operators' cases for these label types (compare, mistakenness, CVAT send/load) go in sections of their own
at the end of this module."""

import math
import os

import numpy as np

import fiftyone as fo

from .registry import BAD_INPUT, PROTECTED, Case, register
from .resources import derive, operator, shapes
from .view_cases import HIDDEN, PATCHES

MODEL = {"model_version": "hf:tiny@1", "prelabel_run": "prelabel_x"}
"""The provenance of the simulated predictions: what prelabel stamps."""
BOX = [0.1, 0.2, 0.3, 0.4]


def _sam(res):
    """The directory of a tiny SAM, built once per run of the suite (fixed seed, no network)."""
    path = os.path.join(res.root, "models", "sam")
    if not os.path.isfile(os.path.join(path, "config.json")):
        from testing import tiny_models as tm

        tm.sam(path)
    return path


def _instance(mask=None, **extra):
    return fo.Detection(label="circle", bounding_box=BOX, mask=mask, confidence=0.9, **MODEL, **extra)


def _good_mask():
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:4] = True
    return mask


def _predictions(field, make_bad, make_good):
    """A setup change: ``field`` of every sample holds a good prediction, and the first sample's a bad one too
    (lists) or instead (whole labels)."""

    def change(target, res):
        values = [make_good() for _ in range(len(target))]
        values[0] = make_bad(res)
        target.set_values(field, values)

    return change


def _instances(bad):
    return lambda res: fo.Detections(detections=[_instance(**bad(res)), _instance(mask=_good_mask())])


def _good_instances():
    return fo.Detections(detections=[_instance(mask=_good_mask())])


def _semantic(bad):
    return lambda res: fo.Segmentation(**bad(res), **MODEL)


def _good_semantic():
    return fo.Segmentation(mask=np.eye(4, dtype=np.uint8), **MODEL)


def _missing_file(res):
    return os.path.join(res.root, "no-such-mask.png")


def _accepted(skipped, promoted):
    """A verify: the call skipped and promoted these numbers of labels, and wrote no skipped one."""

    def verify(target, res, result):
        found = (result["skipped_invalid"], result["promoted"])
        return [] if found == (skipped, promoted) else [f"skipped, promoted = {found}, expected {(skipped, promoted)}"]

    return verify


def _accept_case(name, field, change, skipped, promoted, gt_field="accepted"):
    return Case(
        f"accept_{name}",
        "accept_prelabels",
        BAD_INPUT,
        derive(shapes, change),
        lambda target, res: operator("accept_prelabels")(target, field, gt_field=gt_field, threshold=0.5),
        None,
        verify=_accepted(skipped, promoted),
    )


COUNT = 16  # samples of the shapes base dataset
BAD_INSTANCE_MASKS = [
    ("wrong_shape", {"mask": np.ones((3, 3, 3), bool)}, 1),
    ("one_dimensional", {"mask": np.ones(5, bool)}, 1),
    ("empty_array", {"mask": np.zeros((0, 0), bool)}, 1),
    ("no_pixel_set", {"mask": np.zeros((4, 4), bool)}, 1),
    ("not_binary", {"mask": np.arange(20, dtype=np.uint8).reshape(4, 5) * 12}, 0),  # read as non-zero: kept
]
for name, bad, skipped in BAD_INSTANCE_MASKS:
    change = _predictions("pred_masks", _instances(lambda res, bad=bad: bad), _good_instances)
    register(_accept_case(f"instance_mask_{name}", "pred_masks", change, skipped, COUNT + 1 - skipped))
register(
    _accept_case(
        "instance_mask_path_missing",
        "pred_masks",
        _predictions("pred_masks", _instances(lambda res: {"mask_path": _missing_file(res)}), _good_instances),
        1,
        COUNT,
    )
)
BAD_SEMANTIC_MASKS = [
    ("wrong_shape", lambda res: {"mask": np.ones(4, np.uint8)}, 1),
    ("empty_array", lambda res: {"mask": np.zeros((0, 4), np.uint8)}, 1),
    ("not_binary", lambda res: {"mask": np.arange(16, dtype=np.uint8).reshape(4, 4)}, 0),  # class values: kept
    ("all_background", lambda res: {"mask": np.zeros((4, 4), np.uint8)}, 0),  # a valid mask: nothing there
    ("path_missing", lambda res: {"mask_path": _missing_file(res)}, 1),
]
for name, bad, skipped in BAD_SEMANTIC_MASKS:
    change = _predictions("pred_scene", _semantic(bad), _good_semantic)
    register(_accept_case(f"semantic_mask_{name}", "pred_scene", change, skipped, COUNT - skipped))


def _polylines(res):
    def polyline(points, closed=True):
        return fo.Polyline(label="circle", points=points, closed=closed, filled=closed, confidence=0.9, **MODEL)

    triangle = [[(0.1, 0.1), (0.5, 0.1), (0.3, 0.6)]]
    bad = [polyline([[(0.1, 0.1), (0.2, 0.2)]]), polyline([]), polyline([[(0.1, 0.1)]], closed=False)]
    return fo.Polylines(polylines=[*bad, polyline(triangle)])


def _good_polylines():
    return fo.Polylines(polylines=_polylines(None).polylines[-1:])


def _keypoints(res):
    def keypoint(points):
        return fo.Keypoint(label="circle", points=points, confidence=[0.9] * len(points), **MODEL)

    nan = (math.nan, math.nan)
    bad = [keypoint([nan, nan]), keypoint([(0.1, math.nan)]), keypoint([])]
    return fo.Keypoints(keypoints=[*bad, keypoint([(0.2, 0.3), nan, (0.4, 0.5)])])


def _good_keypoints():
    return fo.Keypoints(keypoints=_keypoints(None).keypoints[-1:])


register(
    _accept_case(
        "polygons_fewer_than_3_points",
        "pred_polys",
        _predictions("pred_polys", _polylines, _good_polylines),
        3,
        COUNT,
    ),
    _accept_case(
        "keypoints_with_nans", "pred_points", _predictions("pred_points", _keypoints, _good_keypoints), 3, COUNT
    ),
)


def _human_scene(target, res):
    """Human semantic masks on half the samples, read with other mask targets than the predictions'."""
    _predictions("pred_scene", lambda res: _good_semantic(), _good_semantic)(target, res)
    target.limit(8).set_values("ground_truth_scene", [fo.Segmentation(mask=np.ones((4, 4), np.uint8))] * 8)
    target.mask_targets = {"pred_scene": {0: "sky", 1: "ground"}, "ground_truth_scene": {0: "sky", 1: "sea"}}
    target.save()


register(
    Case(
        "accept_semantic_masks_read_with_other_targets",
        "accept_prelabels",
        PROTECTED,
        derive(shapes, _human_scene),
        lambda target, res: operator("accept_prelabels")(target, "pred_scene", gt_field="ground_truth_scene"),
        r"'ground_truth_scene' has another mask targets than 'pred_scene': accepted labels would be misread",
    )
)

# --- prelabel: masks from boxes (SAM prompted by a Detections field), polygons from masks


def _masks_from_boxes(**options):
    def call(target, res):
        return operator("prelabel")(target, _sam(res), prompt_field="ground_truth", output_field="sam", **options)

    return call


def _prompt_change(change):
    """A setup change of the first sample's prompt boxes (``ground_truth``, drawn by a person)."""

    def apply(target, res):
        sample = target.first()
        change(sample.ground_truth)
        sample.save()

    return apply


def _masked_every_box(target, res, result):
    """Every prompt box got one masked copy, and the prompt boxes are as they were (the runner checks those)."""
    boxes, masks = target.count("ground_truth.detections"), target.count("sam.detections.mask")
    return [] if masks == boxes == result["labels"] else [f"{masks} masks for {boxes} boxes ({result['labels']})"]


GRACEFUL_PROMPTS = [
    (
        "box_outside_image",
        lambda d: d.detections.append(fo.Detection(label="circle", bounding_box=[1.2, 1.2, 0.2, 0.2])),
    ),
    ("box_larger_than_image", lambda d: d.detections.append(fo.Detection(label="circle", bounding_box=[-1, -1, 3, 3]))),
    ("no_boxes", lambda d: d.detections.clear()),
]
for name, change in GRACEFUL_PROMPTS:
    register(
        Case(
            f"prelabel_masks_from_boxes_{name}",
            "prelabel",
            BAD_INPUT,
            derive(shapes, _prompt_change(change)),
            _masks_from_boxes(),
            None,
            verify=_masked_every_box,
            writes=("sam",),
        )
    )
MASK_OPTIONS = [
    ("prompt_field_missing", {"prompt_field": "nope"}, r"No field 'nope' to take the prompt boxes from \(Detections"),
    ("prompt_field_not_boxes", {"prompt_field": "filepath"}, r"'filepath' holds StringField: the prompt field must"),
    ("polygon_tolerance_negative", {"polygons": True, "tolerance": -1}, r"Polygon tolerance -1 is negative: give"),
    (
        "polygon_tolerance_nan",
        {"polygons": True, "tolerance": math.nan},
        r"tolerance: Invalid value type \(float nan\): give a finite",
    ),
]
for name, options, error in MASK_OPTIONS:
    call = (lambda o: lambda target, res: operator("prelabel")(target, _sam(res), output_field="sam", **o))(options)
    register(Case(f"prelabel_masks_from_boxes_{name}", "prelabel", BAD_INPUT, shapes, call, error))

# --- views of these label types


def _with_instances(target, res):
    _predictions("pred_masks", lambda res: _good_instances(), _good_instances)(target, res)


def _confident_only(target, res):
    """The shapes whose first predicted mask is confident, through a view that filters the others out."""
    _with_instances(target, res)
    target.limit(4).set_field("pred_masks.detections.confidence", 0.2).save()
    return target.filter_labels("pred_masks", fo.ViewField("confidence") > 0.5)


def _accepted_what_the_view_shows(target, res, result):
    found = (result["promoted"], target._root_dataset.count("accepted.detections"))
    return [] if found == (COUNT - 4, COUNT - 4) else [f"promoted, written = {found}, expected {COUNT - 4} each"]


register(
    Case(
        "prelabel_masks_from_boxes_view_hides_prompt_field",
        "prelabel",
        BAD_INPUT,
        lambda res: shapes(res).exclude_fields("ground_truth"),
        _masks_from_boxes(),
        HIDDEN.format("ground_truth", "prelabel", "reads"),
    ),
    Case(
        "accept_instance_masks_patches_view",
        "accept_prelabels",
        BAD_INPUT,
        lambda res: derive(shapes, _with_instances)(res).to_patches("pred_masks"),
        lambda target, res: operator("accept_prelabels")(target, "pred_masks", gt_field="accepted"),
        PATCHES.format("accept_prelabels"),
    ),
    Case(
        "accept_instance_masks_filtered_view",
        "accept_prelabels",
        BAD_INPUT,
        lambda res: _confident_only(shapes(res), res),
        lambda target, res: operator("accept_prelabels")(target, "pred_masks", gt_field="accepted", threshold=0.0),
        None,
        verify=_accepted_what_the_view_shows,
    ),
)

UNUSABLE_PROMPTS = [
    ("box_nan", [math.nan, 0.1, 0.2, 0.2]),
    ("box_no_area", [0.2, 0.2, 0.0, 0.0]),
    ("box_negative_size", [0.5, 0.5, -0.2, -0.2]),
    ("box_infinite", [0.1, 0.1, math.inf, 0.2]),
    ("box_missing", None),
    ("box_two_numbers", [0.1, 0.1]),
]
for name, box in UNUSABLE_PROMPTS:
    change = (lambda b: lambda d: d.detections.append(fo.Detection(label="circle", bounding_box=b)))(box)
    register(
        Case(
            f"prelabel_masks_from_boxes_{name}",
            "prelabel",
            BAD_INPUT,
            derive(shapes, _prompt_change(change)),
            _masks_from_boxes(),
            r"1 prompt boxes in 'ground_truth' are not \[x, y, width, height\] of finite numbers with a positive",
        )
    )


# --- compare_models and compute_mistakenness on these label types: bad objects refused before anything is
# written, graceful ones (non-binary or empty masks, NaN keypoints) compared; the first sample's baseline holds them


def _three_fields(name, make_bad, make_good):
    """A setup change: ``gt_<name>`` and ``cand_<name>`` hold good labels on every sample, ``base_<name>`` too except
    on the first sample, which holds ``make_bad(res)``."""

    def change(target, res):
        for role in ("gt", "cand"):
            target.set_values(f"{role}_{name}", [make_good() for _ in range(len(target))])
        _predictions(f"base_{name}", make_bad, make_good)(target, res)

    return change


def _compared(name):
    return lambda target, res: operator("compare_models")(target, f"base_{name}", f"cand_{name}", gt_field=f"gt_{name}")


def _scored(name):
    return lambda target, res: operator("compute_mistakenness")(target, f"base_{name}", gt_field=f"gt_{name}")


def _every_sample(target, res, result):
    return [] if result["samples"] == COUNT else [f"{result['samples']} samples done, expected {COUNT}"]


CANNOT = r"objects in 'base_masks' have masks that cannot be compared"
REFUSED_MASKS = {
    "wrong_shape": CANNOT + r" .*shape \(3, 3, 3\): give 2-D masks",
    "one_dimensional": CANNOT + r" .*shape \(5,\): give 2-D masks",
    "empty_array": CANNOT + r" .*its mask has no pixels",
    "path_missing": r"1 mask files of 'base_masks' are missing",
}
COMPARED = [
    *(
        (f"instance_mask_{n}", "masks", _instances(lambda res, b=b: b), _good_instances)
        for n, b, _ in BAD_INSTANCE_MASKS
    ),
    ("instance_mask_path_missing", "masks", _instances(lambda res: {"mask_path": _missing_file(res)}), _good_instances),
    ("polygons_fewer_than_3_points", "polys", _polylines, _good_polylines),
    ("keypoints_with_nans", "points", _keypoints, _good_keypoints),
]
ERRORS = {
    **{f"instance_mask_{n}": e for n, e in REFUSED_MASKS.items()},
    "polygons_fewer_than_3_points": r"3 polylines in 'base_polys' have a shape with too few points \(a polygon needs 3",
}
for name, field, make_bad, make_good in COMPARED:
    setup, error = derive(shapes, _three_fields(field, make_bad, make_good)), ERRORS.get(name)
    written = () if error else (f"gt_{field}", f"base_{field}", f"cand_{field}")
    for op, call in (("compare_models", _compared(field)), ("compute_mistakenness", _scored(field))):
        verify = None if error else _every_sample
        register(Case(f"{op}_{name}", op, BAD_INPUT, setup, call, error, verify=verify, writes=written))


# --- compare_models and compute_mistakenness on semantic masks (Segmentation fields)

SCENE_TARGETS = {0: "background", 1: "circle", 2: "square"}


def _scene(height, width):
    """A semantic mask of the image's size: background, a 'circle' quarter and a 'square' quarter."""
    mask = np.zeros((height, width), np.uint8)
    mask[: height // 2, : width // 2] = 1
    mask[height // 2 :, width // 2 :] = 2
    return mask


def _scenes(target, res):
    """``scene_gt``, ``scene_a`` and ``scene_b`` Segmentations of each image's size (in the documents) with shared
    mask targets; ``scene_a`` with a probabilities file per sample (0.8 on its own mask's class)."""
    directory = os.path.join(res.root, "scene-probabilities")
    os.makedirs(directory, exist_ok=True)
    gt, a, b = [], [], []
    for i, (height, width) in enumerate(zip(*target.values(["metadata.height", "metadata.width"]), strict=True)):
        mask = _scene(height, width)
        probs = np.full((3, height, width), 0.1, np.float32)
        np.put_along_axis(probs, mask[None].astype(np.int64), 0.8, axis=0)
        path = os.path.join(directory, f"{i}.npy")
        np.save(path, probs)
        gt.append(fo.Segmentation(mask=mask))
        a.append(fo.Segmentation(mask=mask, probabilities_path=path, **MODEL))
        b.append(fo.Segmentation(mask=(2 - mask).astype(np.uint8), **MODEL))
    for field, values in (("scene_gt", gt), ("scene_a", a), ("scene_b", b)):
        target.set_values(field, values)
    target.mask_targets = dict.fromkeys(("scene_gt", "scene_a", "scene_b"), SCENE_TARGETS)
    target.save()


def _first(field, **values):
    """A change of setup ``_scenes``: the first sample's ``field`` becomes a Segmentation of ``values``."""

    def change(target, res):
        _scenes(target, res)
        sample = target.first()
        size = (sample.metadata.height, sample.metadata.width)
        sample[field] = fo.Segmentation(**{k: v(res, size) if callable(v) else v for k, v in values.items()})
        sample.save()

    return change


def _other_targets(target, res):
    _scenes(target, res)
    target.mask_targets["scene_b"] = {0: "sky", 1: "sea"}
    target.save()


def _image_size(target, res):
    _scenes(target, res)
    sample = target.first()
    sample.metadata = fo.ImageMetadata(width=2 * sample.metadata.width, height=sample.metadata.height)
    sample.save()


def _probabilities_shape(target, res):
    _scenes(target, res)
    np.save(target.first().scene_a.probabilities_path, np.zeros((3, 2, 4), np.float32))


SEMANTIC_BAD = [  # name, setup change, compare's message, mistakenness' message
    (
        "wrong_shape",
        _first("scene_b", mask=lambda res, size: np.ones((size[0], size[1] + 1), np.uint8)),
        "differ",
        None,
    ),
    ("not_2d", _first("scene_gt", mask=lambda res, size: np.ones((*size, 3), np.uint8)), "2-d integer", "2-d integer"),
    ("empty", _first("scene_gt", mask=np.zeros((0, 4), np.uint8)), r"the mask is empty", r"the mask is empty"),
    (
        "path_missing",
        _first("scene_gt", mask_path=lambda res, size: _missing_file(res)),
        r"mask_path '.*' does not exist",
        "does not exist",
    ),
    ("bigger_than_the_image", _image_size, r"but the image is \d+ x \d+", r"but the image is \d+ x \d+"),
    ("other_mask_targets", _other_targets, r"mask targets differ", None),
    ("probabilities_shape", _probabilities_shape, None, r"has shape \(3, 2, 4\): give \(K, \d+, \d+\) with K > 2"),
    ("no_probabilities", _first("scene_a", mask=lambda res, size: _scene(*size)), None, r"has no probabilities_path"),
]
for name, change, compare_error, mistakenness_error in SEMANTIC_BAD:
    if compare_error:
        register(
            Case(
                f"compare_semantic_{name}",
                "compare_models",
                BAD_INPUT,
                derive(shapes, change),
                lambda target, res: operator("compare_models")(target, "scene_a", "scene_b", gt_field="scene_gt"),
                compare_error,
            )
        )
    if mistakenness_error:
        register(
            Case(
                f"mistakenness_semantic_{name}",
                "compute_mistakenness",
                BAD_INPUT,
                derive(shapes, change),
                lambda target, res: operator("compute_mistakenness")(target, "scene_a", gt_field="scene_gt"),
                mistakenness_error,
            )
        )
register(
    Case(
        "compare_semantic_masks",
        "compare_models",
        BAD_INPUT,
        derive(shapes, _scenes),
        lambda target, res: operator("compare_models")(target, "scene_a", "scene_b", gt_field="scene_gt"),
        None,
    ),
    Case(
        "mistakenness_semantic_masks",
        "compute_mistakenness",
        BAD_INPUT,
        derive(shapes, _scenes),
        lambda target, res: operator("compute_mistakenness")(target, "scene_a", gt_field="scene_gt"),
        None,
    ),
)
