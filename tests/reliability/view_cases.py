"""Views the operators cannot work on yet (issue 15), refused up front with what to do instead: video datasets,
grouped datasets (unless a flattened slice selection), patches, frames and clips views, frame-level fields, and
views that hide a field the operator reads or writes (``select_fields`` / ``exclude_fields``)."""

import os

import numpy as np
from PIL import Image

import fiftyone as fo

from .cvat_cases import left_nothing, send_with
from .registry import BAD_INPUT, Case, register
from .resources import CLASSIFIER, EMBEDDER, digits, sdk, shapes

VIDEO = r"{} does not support video yet: target an image"
GROUP = r"{} would only see the active 'left' slice of this grouped dataset: select the slices .*select_group_slices"
PATCHES = r"{} does not support patches views \(to_patches\) yet: target the images"
FRAMES = r"{} does not support frames views \(to_frames\) yet: clone the frames"
HIDDEN = r"The target view hides '{}', which {} {}: include it in select_fields"
SLICES = ("left", "right")


def _images(res, name, count):
    """``count`` tiny PNGs of this case, by path."""
    folder = os.path.join(res.root, res.unique_name(name))
    os.makedirs(folder)
    paths = [os.path.join(folder, f"{i}.png") for i in range(count)]
    for i, path in enumerate(paths):
        Image.fromarray(np.full((8, 8, 3), 30 * i, np.uint8)).save(path)
    return paths


def _labels(i):
    """The label and vector fields every operator here reads, for sample ``i``."""
    label = fo.Classification(label=str(i % 2), confidence=0.9)
    return {
        **{name: label.copy() for name in ("ground_truth", "predictions", "baseline", "candidate")},
        "embeddings": np.arange(4.0) + i,
    }


def video(res):
    """A video dataset of one video with two frames (never decoded: the metadata is given)."""
    dataset = res.track(fo.Dataset(res.unique_name("video")))
    metadata = fo.VideoMetadata(total_frame_count=2, frame_rate=1.0, frame_width=8, frame_height=8, duration=2.0)
    sample = fo.Sample(filepath=os.path.join(res.root, "clip.mp4"), metadata=metadata, **_labels(0))
    for number, path in enumerate(_images(res, "frames", 2), start=1):
        sample.frames[number] = fo.Frame(filepath=path, **_labels(number))
    dataset.add_sample(sample)
    return dataset


def frames(res):
    return video(res).to_frames(sample_frames=False)


def clips(res):
    return video(res).to_clips([[(1, 2)]])


def grouped(res):
    """A grouped dataset of four groups of two image slices; the active slice is 'left'."""
    dataset = res.track(fo.Dataset(res.unique_name("grouped")))
    dataset.add_group_field("group", default=SLICES[0])
    paths = iter(_images(res, "group", 8))
    samples = []
    for i in range(4):
        group = fo.Group()
        samples += [fo.Sample(filepath=next(paths), group=group.element(s), **_labels(i)) for s in SLICES]
    dataset.add_samples(samples)
    return dataset


def all_slices(res):
    return grouped(res).select_group_slices()


def patches(res):
    return shapes(res).to_patches("ground_truth")


def selected(setup, *names):
    return lambda res: setup(res).select_fields(list(names))


def excluded(setup, name, add=False):
    """The setup's collection without ``name`` (first added as a float field when ``add``)."""

    def build(res):
        target = setup(res)
        if add:
            target.add_sample_field(name, fo.FloatField)
        return target.exclude_fields(name)

    return build


def _scored_all(target, res, result):
    found = target.count("uniqueness")
    return [] if found == 8 else [f"{found} of 8 samples of both slices were scored"]


OPERATORS = {  # operator: (call, setups of the field cases: (case suffix, setup, field, verb))
    "prelabel": (
        sdk("prelabel", CLASSIFIER),
        [
            ("select_fields_hides_output", selected(digits, "ground_truth"), "predictions", "writes"),
            ("exclude_fields_hides_output", excluded(digits, "predictions"), "predictions", "writes"),
        ],
    ),
    "compute_mistakenness": (
        sdk("compute_mistakenness", "predictions"),
        [
            ("select_fields_hides_predictions", selected(digits, "ground_truth"), "predictions", "reads"),
            ("exclude_fields_hides_result", excluded(digits, "mistakenness", add=True), "mistakenness", "writes"),
        ],
    ),
    "compute_uniqueness": (
        sdk("compute_uniqueness", "embeddings"),
        [
            ("select_fields_hides_embeddings", selected(digits, "ground_truth"), "embeddings", "reads"),
            ("exclude_fields_hides_output", excluded(digits, "uniqueness", add=True), "uniqueness", "writes"),
        ],
    ),
    "compare_models": (
        sdk("compare_models", "baseline", "candidate"),
        [
            ("select_fields_hides_candidate", selected(shapes, "ground_truth", "baseline"), "candidate", "reads"),
            ("exclude_fields_hides_score", excluded(shapes, "compare_score", add=True), "compare_score", "writes"),
        ],
    ),
    "send_to_cvat": (
        send_with(pred_field="baseline"),
        [
            ("select_fields_hides_ground_truth", selected(shapes, "baseline"), "ground_truth", "reads"),
            ("exclude_fields_hides_predictions", excluded(shapes, "baseline"), "baseline", "reads"),
        ],
    ),
}
MORE = {  # the other operators that read or write sample fields: video and grouped datasets
    "compute_embeddings": sdk("compute_embeddings", EMBEDDER, output_field="vectors"),
    "accept_prelabels": sdk("accept_prelabels", "predictions"),
    "find_near_duplicates": sdk("find_near_duplicates"),
    "compute_embedding_map": sdk("compute_embedding_map", method="pca"),
    "select_for_annotation": sdk("select_for_annotation", "predictions"),
}


SHORT = {"compute_mistakenness": "mistakenness", "compute_uniqueness": "uniqueness", "send_to_cvat": "cvat_send"}


def _name(operator):
    """The case prefix of ``operator``, as in the other case modules."""
    return SHORT.get(operator, operator.replace("_models", ""))


def _refuse(operator, suffix, setup, call, error):
    verify = left_nothing if operator == "send_to_cvat" else None
    register(Case(f"{_name(operator)}_{suffix}", operator, BAD_INPUT, setup, call, error, verify=verify))


for operator, (call, field_cases) in OPERATORS.items():
    _refuse(operator, "video_dataset", video, call, VIDEO.format(operator))
    _refuse(operator, "grouped_dataset", grouped, call, GROUP.format(operator))
    _refuse(operator, "patches_view", patches, call, PATCHES.format(operator))
    _refuse(operator, "frames_view", frames, call, FRAMES.format(operator))
    for suffix, setup, field, verb in field_cases:
        # uniqueness reads its embeddings in the embeddings check, shared with near duplicates: "this run"
        named = "this run" if verb == "reads" and operator == "compute_uniqueness" else operator
        _refuse(operator, suffix, setup, call, HIDDEN.format(field, named, verb))
for operator, call in MORE.items():
    _refuse(operator, "video_dataset", video, call, VIDEO.format(operator))
    _refuse(operator, "grouped_dataset", grouped, call, GROUP.format(operator))

_refuse("prelabel", "clips_view", clips, sdk("prelabel", CLASSIFIER), r"prelabel does not support clips views")
_refuse(
    "compute_mistakenness",
    "frame_level_field",
    digits,
    sdk("compute_mistakenness", "frames.predictions"),
    r"'frames.predictions' is a frame-level field: compute_mistakenness does not support video frames yet",
)
register(
    Case(
        "uniqueness_group_slices_selected",
        "compute_uniqueness",
        BAD_INPUT,
        all_slices,
        sdk("compute_uniqueness", "embeddings"),
        None,
        verify=_scored_all,
        writes=("uniqueness",),
    )
)
