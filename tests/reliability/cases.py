"""Bad input of every operator of the suite, called as the SDK calls it: wrong values and types, empty views,
missing fields, unknown models, task mismatches, malformed class maps, protected human labels.

Importing this module registers these cases and, through the import lines at the end, every other case module.
"""

import os
import re
import shutil

import numpy as np
from PIL import Image

import fiftyone as fo

from .registry import BAD_INPUT, EMPTY_VIEW, MISSING_FIELD, PROTECTED, REGISTRY, WRONG_TYPE, Case, register
from .resources import BATCH, CLASSIFIER, DETECTOR, EMBEDDER, derive, digits, empty_view, operator, sdk, shapes

NOT_A_MODEL = "/nonexistent/model"
VALIDATION_TOO_HIGH = r"(is outside \[0, 1\]|must be between 0 and 1|not a cosine distance: choose a value in \[0, 2\))"
"""The suite's own message for a value above its range, which leads the form (and so the SDK's error)."""
TYPE = r"Invalid value type"


def refuse(name, operator_name, call, error, setup=digits, kind=None, **options):
    """Registers a case whose call must be refused with a message matching ``error`` (kind: from the name)."""
    register(Case(name, operator_name, kind or _kind(name), setup, call, error, **options))


def _kind(name):
    kinds = (
        (r"empty_view", EMPTY_VIEW),
        (r"wrong_type", WRONG_TYPE),
        (r"missing_(pred_field|field|vectors)", MISSING_FIELD),
    )
    return next((kind for pattern, kind in kinds if re.search(pattern, name)), BAD_INPUT)


def all_cases():
    """Every registered case, in registration order."""
    return list(REGISTRY.values())


# --- setups shared by several operators


def _not_a_model_dir(res):
    path = os.path.join(res.root, "not-a-model")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "notes.txt"), "w") as f:
        f.write("not a model")
    return path


def _with_classification(target, res):
    target.set_values("cls", [fo.Classification(label="circle", confidence=0.5)] * len(target))


def _ragged(target, res):
    sample = target.first()
    sample["embeddings"] = np.ones(3)
    sample.save()


def _some_without_embeddings(target, res):
    target.limit(4).set_values("embeddings", [None] * 4)


def _string_field(name):
    def change(target, res):
        target.add_sample_field(name, fo.StringField)
        target.set_values(name, ["keep me"] * len(target))

    return change


def _human_gaps(target, res):
    target.limit(6).set_values("ground_truth", [None] * 6)


SHAPES_CLS = derive(shapes, _with_classification)
RAGGED = derive(digits, _ragged)


def _with_not_a_model(call_with_path):
    """A call whose model is a directory without a model in it."""
    return lambda target, res: call_with_path(_not_a_model_dir(res))(target, res)


# --- get_labelloop_info

refuse("info_empty_view", "get_labelloop_info", sdk("get_labelloop_info"), r"no samples: choose", empty_view(digits))

# --- prelabel

PRELABEL_BAD_INPUT = [
    ("unknown_zoo_model", ("no-such-zoo-model",), {"model_source": "zoo"}, r"No FiftyOne zoo model.*models list"),
    ("hub_id_offline", ("some-org/some-model",), {}, r"hub cannot be reached.*give its local directory"),
    ("missing_model_dir", (NOT_A_MODEL,), {}, r"No such model directory: '/nonexistent/model'"),
    ("task_mismatch", (CLASSIFIER,), {"task": "detection"}, r"classification model, not detection: choose task"),
    ("unknown_task", (CLASSIFIER,), {"task": "tracking"}, r"Unknown task 'tracking': choose one of"),
    ("reserved_output_field", (CLASSIFIER,), {"output_field": "filepath"}, r"cannot be an output field: give a"),
    ("nested_output_field", (CLASSIFIER,), {"output_field": "a.b"}, r"cannot be an output field: give a new top"),
    ("threshold_above_one", (CLASSIFIER,), {"threshold": 1.5}, VALIDATION_TOO_HIGH),
    ("zero_shot_without_prompts", (CLASSIFIER,), {"task": "zero_shot_classification"}, r"needs class prompts: give"),
    ("device_unavailable", (CLASSIFIER,), {"device": "cuda"}, r"Device 'cuda' is not available here: use one of"),
    ("malformed_class_map", (CLASSIFIER,), {"class_map": "0-circle"}, r"entry '0-circle' is not 'model_label:data"),
    ("unknown_labels_policy", (CLASSIFIER,), {"unknown_labels": "ignore"}, r"policy 'ignore': choose one of keep"),
    ("output_field_not_labels", (CLASSIFIER,), {"output_field": "split"}, r"'split' holds StringField.*choose another"),
    ("num_shards_zero", (CLASSIFIER,), {"num_shards": 0}, r"num_shards: Value must be greater than"),
]
for name, args, kwargs, error in PRELABEL_BAD_INPUT:
    refuse(f"prelabel_{name}", "prelabel", sdk("prelabel", *args, **kwargs), error)

for name, kwargs in [("threshold", {"threshold": "high"}), ("top_k", {"top_k": "three"})]:
    refuse(f"prelabel_{name}_wrong_type", "prelabel", sdk("prelabel", CLASSIFIER, **kwargs), f"{name}: {TYPE}")
register(
    Case(
        "prelabel_model_wrong_type", "prelabel", WRONG_TYPE, digits, sdk("prelabel", 42), r"model.*(hub id|directory)"
    ),
    Case(
        "prelabel_class_map_wrong_type",
        "prelabel",
        WRONG_TYPE,
        digits,
        sdk("prelabel", CLASSIFIER, class_map=["0:1"]),
        r"[Cc]lass mapping.*'model_label:dataset_label'",
    ),
    Case(
        "prelabel_zoo_kwargs_wrong_type",
        "prelabel",
        WRONG_TYPE,
        digits,
        sdk("prelabel", "classification-transformer-torch", model_source="zoo", zoo_kwargs="name_or_path"),
        r"zoo_kwargs.*(dict|mapping)",
    ),
)
refuse(
    "prelabel_not_a_model_dir",
    "prelabel",
    _with_not_a_model(lambda path: sdk("prelabel", path)),
    r"is not a transformers model \(no config.json\): give the directory",
)
refuse(
    "prelabel_zoo_entry_not_a_model",
    "prelabel",
    _with_not_a_model(
        lambda path: sdk(
            "prelabel", "classification-transformer-torch", model_source="zoo", zoo_kwargs={"name_or_path": path}
        )
    ),
    r"Could not load zoo model 'classification-transformer-torch'.*give a local transformers directory",
)
refuse("prelabel_empty_view", "prelabel", sdk("prelabel", CLASSIFIER), r"no samples: choose", empty_view(digits))
refuse(
    "prelabel_class_map_onto_unknown_names",
    "prelabel",
    sdk("prelabel", DETECTOR, class_map={"circle": "disc"}),
    r"maps onto names not in the dataset: disc\. Known names: circle, square, triangle",
    shapes,
)
refuse(
    "prelabel_unknown_labels_error",
    "prelabel",
    sdk("prelabel", CLASSIFIER, output_field="digits", unknown_labels="error"),
    r"neither in the dataset nor mapped: 0, 1.*Map them onto dataset names, or choose 'keep' or 'drop'",
    shapes,
)
refuse(
    "prelabel_into_human_labels",
    "prelabel",
    sdk("prelabel", CLASSIFIER, output_field="ground_truth"),
    r"'ground_truth' holds 48 labels not written by a model \(human labels\): choose another output field",
    kind=PROTECTED,
)
refuse(
    "prelabel_into_other_label_type",
    "prelabel",
    sdk("prelabel", CLASSIFIER, output_field="ground_truth", allow_human_labels=True),
    r"'ground_truth' holds Detections, but this model writes a Classification field: choose another output field",
    shapes,
    kind=PROTECTED,
)


def _filled_only_gaps(target, res, result):
    written, human = result["written"], target.count("ground_truth.prelabel_run")
    return [] if written == human == 6 else [f"wrote {written} labels into 6 empty samples ({human} stamped)"]


register(
    Case(
        "prelabel_human_labels_allowed_fills_gaps_only",
        "prelabel",
        PROTECTED,
        derive(digits, _human_gaps),
        sdk("prelabel", CLASSIFIER, output_field="ground_truth", allow_human_labels=True),
        None,
        verify=_filled_only_gaps,
    )
)

# --- accept_prelabels

ACCEPT_BAD_INPUT = [
    ("missing_pred_field", ("nope",), {}, r"No label field 'nope' on the dataset: choose the field the model wrote"),
    ("same_field", ("predictions",), {"gt_field": "predictions"}, r"Choose a ground-truth field other than the pred"),
    ("gt_not_labels", ("predictions",), {"gt_field": "embeddings"}, r"'embeddings' holds no labels, but 'predictions"),
    ("tag_without_samples", ("predictions",), {"tag": "nope"}, r"no samples tagged 'nope': nothing to accept"),
    ("threshold_above_one", ("predictions",), {"threshold": 3.0}, VALIDATION_TOO_HIGH),
    ("nested_gt_field", ("predictions",), {"gt_field": "a.b"}, r"'a\.b'.*(top-level|field name)"),
]
for name, args, kwargs, error in ACCEPT_BAD_INPUT:
    refuse(f"accept_{name}", "accept_prelabels", sdk("accept_prelabels", *args, **kwargs), error)
refuse(
    "accept_gt_of_other_label_type",
    "accept_prelabels",
    sdk("accept_prelabels", "baseline", gt_field="cls"),
    r"'cls' holds Classification, but 'baseline' holds Detections",
    SHAPES_CLS,
)
refuse(
    "accept_segmentation_into_classification",
    "accept_prelabels",
    sdk("accept_prelabels", "masks"),
    r"'ground_truth' holds Classification, but 'masks' holds Segmentation",
    derive(digits, lambda t, r: t.set_values("masks", [fo.Segmentation(mask=np.zeros((4, 4), np.uint8))] * len(t))),
)
refuse(
    "accept_empty_view",
    "accept_prelabels",
    sdk("accept_prelabels", "predictions"),
    r"no samples: nothing to accept",
    empty_view(digits),
)
for name, args, kwargs in [("threshold", ("predictions",), {"threshold": "high"}), ("pred_field", (5,), {})]:
    register(
        Case(
            f"accept_{name}_wrong_type",
            "accept_prelabels",
            WRONG_TYPE,
            digits,
            sdk("accept_prelabels", *args, **kwargs),
            f"{name}.*({TYPE}|must be)",
        )
    )


def _kept_every_human_label(target, res, result):
    expected = (6, len(target) - 6)
    found = (result["promoted"], result["kept_human"])
    return [] if found == expected else [f"promoted, kept human = {found}, expected {expected}"]


def _accepted_twice(target, res):
    return [operator("accept_prelabels")(target, "baseline", threshold=0.5) for _ in range(2)]


def _idempotent(target, res, results):
    first, second = results
    return [] if first["promoted"] > 0 and second["promoted"] == 0 else [f"promoted {first} then {second}"]


register(
    Case(
        "accept_keeps_human_labels",
        "accept_prelabels",
        PROTECTED,
        derive(digits, _human_gaps),
        sdk("accept_prelabels", "predictions", threshold=0.0),
        None,
        verify=_kept_every_human_label,
    ),
    Case(
        "accept_twice_is_idempotent", "accept_prelabels", PROTECTED, shapes, _accepted_twice, None, verify=_idempotent
    ),
)

# --- compute_embeddings

refuse(
    "embeddings_not_a_model_dir",
    "compute_embeddings",
    _with_not_a_model(lambda path: sdk("compute_embeddings", path, output_field="vectors")),
    r"not a transformers model \(no config.json\): give the directory",
)
refuse(
    "embeddings_into_label_field",
    "compute_embeddings",
    sdk("compute_embeddings", EMBEDDER, output_field="ground_truth"),
    r"'ground_truth' holds Classification, but this model writes an embeddings \(vector\) field: choose another",
    kind=PROTECTED,
)
refuse(
    "embeddings_empty_view",
    "compute_embeddings",
    sdk("compute_embeddings", EMBEDDER, output_field="vectors"),
    r"no samples: choose",
    empty_view(digits),
)
refuse(
    "embeddings_batch_size_wrong_type",
    "compute_embeddings",
    sdk("compute_embeddings", EMBEDDER, output_field="vectors", batch_size="big"),
    f"batch_size: {TYPE}",
)

# --- compare_models

COMPARE_BAD_INPUT = [
    ("same_fields", ("baseline", "baseline"), {}, r"three different fields"),
    ("missing_field", ("baseline", "nope"), {}, r"No Detections or Classification field 'nope' on the dataset"),
    ("bad_key", ("baseline", "candidate"), {"key": "has space"}, r"key 'has space' must be letters, digits and und"),
    ("iou_zero", ("baseline", "candidate"), {"iou": 0.0}, r"IoU threshold 0.0 must be between 0 and 1"),
    ("key_20000_chars", ("baseline", "candidate"), {"key": "k" * 20_000}, r"has 20000 characters: give at most 64"),
]
for name, args, kwargs, error in COMPARE_BAD_INPUT:
    refuse(f"compare_{name}", "compare_models", sdk("compare_models", *args, **kwargs), error, shapes)
refuse(
    "compare_mismatched_label_types",
    "compare_models",
    sdk("compare_models", "baseline", "cls"),
    r"must hold the same label type: .*'cls' holds Classification",
    SHAPES_CLS,
)
refuse(
    "compare_empty_view",
    "compare_models",
    sdk("compare_models", "baseline", "candidate"),
    r"no samples: choose",
    empty_view(shapes),
)
refuse(
    "compare_iou_wrong_type",
    "compare_models",
    sdk("compare_models", "baseline", "candidate", iou="high"),
    f"iou: {TYPE}",
    shapes,
)
refuse(
    "compare_key_is_a_user_field",
    "compare_models",
    sdk("compare_models", "predictions", "candidate", key="split"),
    r"key 'split'.*(exists|another key)",
    derive(digits, lambda t, r: t.clone_sample_field("predictions", "candidate")),
    kind=PROTECTED,
)
refuse(
    "compare_key_is_a_label_attribute",
    "compare_models",
    sdk("compare_models", "baseline", "candidate", key="label"),
    r"key 'label'.*(attribute|another key)",
    shapes,
    kind=PROTECTED,
)

# --- compute_embedding_map

MAP_BAD_INPUT = [
    ("missing_field", {"embeddings_field": "nope"}, r"No embeddings field 'nope': compute embeddings first"),
    ("not_vectors", {"embeddings_field": "ground_truth"}, r"'ground_truth' holds EmbeddedDocumentField, not embed"),
    ("unknown_method", {"method": "lle"}, r"Unknown method 'lle': choose one of umap, tsne, pca"),
    ("bad_brain_key", {"brain_key": "has space"}, r"Brain key 'has space' must be letters, digits and underscores"),
    ("brain_key_20000_chars", {"brain_key": "b" * 20_000}, r"Brain key 'b+\.\.\.' has 20000 characters"),
]
for name, kwargs, error in MAP_BAD_INPUT:
    refuse(f"map_{name}", "compute_embedding_map", sdk("compute_embedding_map", **kwargs), error)
refuse(
    "map_brain_key_exists",
    "compute_embedding_map",
    sdk("compute_embedding_map", method="pca", brain_key="taken"),
    r"Brain key 'taken' exists already: choose another key or delete that run",
    derive(digits, lambda t, r: operator("compute_embedding_map")(t, method="pca", brain_key="taken")),
)
refuse(
    "map_ragged_embeddings",
    "compute_embedding_map",
    sdk("compute_embedding_map", method="pca"),
    r"different lengths \(\[3, 32\]\): recompute them with one model",
    RAGGED,
)
refuse(
    "map_too_few_samples",
    "compute_embedding_map",
    lambda target, res: operator("compute_embedding_map")(target.limit(3), method="pca"),
    r"Only 3 samples of the view have 'embeddings': at least 5 are needed",
)
refuse(
    "map_empty_view",
    "compute_embedding_map",
    sdk("compute_embedding_map", method="pca"),
    r"Only 0 samples of the view have 'embeddings': at least 5",
    empty_view(digits),
)

# --- select_for_annotation

SELECT_BAD_INPUT = [
    ("missing_pred_field", ("nope",), {}, r"No Classification or Detections field 'nope': choose the model's pred"),
    ("no_confidences", ("ground_truth",), {}, r"has no confidences or logits: pre-label with a model that scores"),
    ("unknown_strategy", ("predictions",), {"strategy": "random"}, r"Unknown strategy 'random': choose one of"),
    ("count_zero", ("predictions",), {"count": 0}, r"count: Value must be greater than"),
    ("diversity_above_one", ("predictions",), {"diversity": 2.0}, VALIDATION_TOO_HIGH),
    ("embeddings_not_vectors", ("predictions",), {"embeddings_field": "split"}, r"'split' holds StringField, not emb"),
]
for name, args, kwargs, error in SELECT_BAD_INPUT:
    refuse(f"select_{name}", "select_for_annotation", sdk("select_for_annotation", *args, **kwargs), error)
refuse(
    "select_ragged_embeddings",
    "select_for_annotation",
    sdk("select_for_annotation", "predictions", embeddings_field="embeddings"),
    r"different lengths \(\[3, 32\]\): recompute them with one model",
    RAGGED,
)
refuse(
    "select_empty_view",
    "select_for_annotation",
    sdk("select_for_annotation", "predictions"),
    r"no samples: choose",
    empty_view(digits),
)
refuse(
    "select_count_wrong_type",
    "select_for_annotation",
    sdk("select_for_annotation", "predictions", count="ten"),
    f"count.*({TYPE}|must be)",
)


def _tagged_all_five(target, res, result):
    tagged = len(target.match_tags("to_annotate"))
    return [] if result["tagged"] == tagged == 5 else [f"tagged {result['tagged']} ({tagged} in the dataset), not 5"]


register(
    Case(
        "select_more_than_the_view_holds",
        "select_for_annotation",
        BAD_INPUT,
        lambda res: digits(res).limit(5),
        sdk("select_for_annotation", "predictions", count=1000),
        None,
        verify=_tagged_all_five,
    )
)

# --- compute_mistakenness

MISTAKENNESS_BAD_INPUT = [
    ("not_a_label_field", ("split",), {}, r"'split' is not a label field of the dataset: choose a Classification"),
    ("same_field", ("predictions",), {"gt_field": "predictions"}, r"Choose two different fields"),
    ("wrong_class_count", ("predictions",), {"classes": "0,1,2"}, r"3 classes were given but the logits have 10"),
    ("bad_prefix", ("predictions",), {"prefix": "bad-"}, r"Prefix 'bad-' must be letters, digits and underscores"),
    ("prefix_20000_chars", ("predictions",), {"prefix": "p" * 20_000}, r"has 20000 characters: give at most 64"),
    ("iou_one", ("predictions",), {"iou": 1.0}, r"IoU threshold 1.0 must be between 0 and 1"),
    (
        "classes_wrong_order",
        ("predictions",),
        {"classes": list("9876543210")},
        r"not in the model's output order: give",
    ),
]
for name, args, kwargs, error in MISTAKENNESS_BAD_INPUT:
    refuse(f"mistakenness_{name}", "compute_mistakenness", sdk("compute_mistakenness", *args, **kwargs), error)
refuse(
    "mistakenness_mismatched_label_types",
    "compute_mistakenness",
    sdk("compute_mistakenness", "baseline", gt_field="cls"),
    r"must hold the same label type: 'baseline' holds Detections, 'cls' holds Classification",
    SHAPES_CLS,
)
refuse(
    "mistakenness_empty_view",
    "compute_mistakenness",
    sdk("compute_mistakenness", "predictions"),
    r"no samples: choose",
    empty_view(digits),
)
refuse(
    "mistakenness_unscored_predictions",
    "compute_mistakenness",
    sdk("compute_mistakenness", "unscored"),
    r"48 of 48 predictions in 'unscored' have no confidence nor logits: score them first",
    derive(digits, lambda t, r: t.clone_sample_field("ground_truth", "unscored")),
)
refuse(
    "mistakenness_result_field_of_other_type",
    "compute_mistakenness",
    sdk("compute_mistakenness", "predictions"),
    r"'mistakenness' exists with another type: choose another prefix",
    derive(digits, _string_field("mistakenness")),
    kind=PROTECTED,
)
refuse(
    "mistakenness_classes_wrong_type",
    "compute_mistakenness",
    sdk("compute_mistakenness", "predictions", classes=10),
    r"classes.*(list|comma-separated)",
)

# --- compute_uniqueness and find_near_duplicates

EMBEDDINGS_BAD_INPUT = [
    ("missing_field", digits, {"embeddings_field": "nope"}, r"No embeddings field 'nope' on the dataset: choose a"),
    ("not_vectors", digits, {"embeddings_field": "split"}, r"'split' holds StringField, not embedding vectors: choo"),
    ("ragged", RAGGED, {}, r"different lengths \(3, 32\): recompute them all with one model"),
    ("empty_view", empty_view(digits), {}, r"no samples: choose"),
    (
        "missing_vectors",
        derive(digits, _some_without_embeddings),
        {},
        r"4 of 48 samples have no 'embeddings' embeddings: compute them",
    ),
]
for operator_name, short in [("compute_uniqueness", "uniqueness"), ("find_near_duplicates", "duplicates")]:
    for name, setup, kwargs, error in EMBEDDINGS_BAD_INPUT:
        refuse(f"{short}_{name}", operator_name, sdk(operator_name, **kwargs), error, setup)

UNIQUENESS_BAD_INPUT = [
    ("k_over_max", {"k": 100}, r"k = 100: the number of neighbours must be between 1 and 64"),
    ("k_wrong_type", {"k": "3"}, f"k: {TYPE}"),
    ("output_into_labels", {"output_field": "ground_truth"}, r"'ground_truth'.*(choose another|output field)"),
]
for name, kwargs, error in UNIQUENESS_BAD_INPUT:
    kind = PROTECTED if name == "output_into_labels" else None
    refuse(f"uniqueness_{name}", "compute_uniqueness", sdk("compute_uniqueness", **kwargs), error, kind=kind)
refuse(
    "uniqueness_view_smaller_than_k",
    "compute_uniqueness",
    lambda target, res: operator("compute_uniqueness")(target.limit(3), k=3),
    r"The target view has 3 samples; it needs at least 4 \(k \+ 1\): add samples",
)
refuse(
    "uniqueness_model_not_a_model_dir",
    "compute_uniqueness",
    _with_not_a_model(lambda path: sdk("compute_uniqueness", "vectors", model=path)),
    r"not a transformers model \(no config.json\): give the directory",
)
refuse(
    "duplicates_threshold_out_of_range",
    "find_near_duplicates",
    sdk("find_near_duplicates", threshold=3.0),
    VALIDATION_TOO_HIGH,
)
refuse(
    "duplicates_result_field_of_other_type",
    "find_near_duplicates",
    sdk("find_near_duplicates"),
    r"'near_dup_group'.*(another type|choose)",
    derive(digits, _string_field("near_dup_group")),
    kind=PROTECTED,
)

# --- issue 15: broken model folders, images the processor rejects, prompts to a classifier, unstorable names/numbers


def _broken_model(file_name, keep_bytes=None):
    """A call of prelabel with a copy of the tiny classifier whose ``file_name`` is deleted (``keep_bytes`` None)
    or cut to its first ``keep_bytes`` bytes."""

    def call(target, res):
        path = shutil.copytree(res.path(CLASSIFIER), os.path.join(res.root, res.unique_name("broken-model")))
        full = os.path.join(path, file_name)
        if keep_bytes is None:
            os.remove(full)
        else:
            os.truncate(full, keep_bytes)
        return operator("prelabel")(target, path)

    return call


BROKEN_MODEL_FOLDERS = [
    ("missing_preprocessor_config", "preprocessor_config.json", None, r"has no preprocessor_config\.json: save"),
    ("corrupt_preprocessor_config", "preprocessor_config.json", 10, r"'preprocessor_config\.json' .* \(truncated\?\)"),
    ("missing_weights", "model.safetensors", None, r"has no weights \(model\.safetensors\): copy the whole"),
    ("truncated_weights", "model.safetensors", 4000, r"'model\.safetensors' .* is truncated or corrupt: copy it"),
    ("truncated_config", "config.json", 20, r"'config\.json' in model directory .* not valid JSON \(truncated\?\)"),
]
for name, file_name, keep_bytes, error in BROKEN_MODEL_FOLDERS:
    refuse(f"prelabel_model_folder_{name}", "prelabel", _broken_model(file_name, keep_bytes), error)


def _one_sliver_image(res):
    """Twelve private digits, one of them replaced by a 10000x10 image (a detector's resize gives height 0)."""
    dataset = res.private_digits(count=12)
    Image.new("RGB", (10000, 10)).save(dataset.values("filepath")[5], format="PNG")
    return dataset


def _sliver_skipped(target, res, result):
    sliver = target.values("filepath")[5]
    expected = (1, len(target) - 1, True)
    found = (result["failed_images"], result["written"], any(sliver in f for f in result["failures"]))
    return [] if found == expected else [f"failed, written, listed = {found}, expected {expected}"]


register(
    Case(
        "prelabel_extreme_aspect_ratio_image",
        "prelabel",
        BAD_INPUT,
        _one_sliver_image,
        sdk("prelabel", DETECTOR, output_field="boxes", batch_size=BATCH),
        None,
        verify=_sliver_skipped,
    )
)
refuse(
    "prelabel_prompts_to_classifier",
    "prelabel",
    sdk("prelabel", CLASSIFIER, prompts=["cat", "dog"]),
    r"not zero-shot: prompts are for zero-shot tasks",
)
UNSTORABLE = [
    ("output_field_dollar", {"output_field": "a$b"}, r"'a\$b' cannot be an output field: .*without '\.', '\$'"),
    ("output_field_nul", {"output_field": "a\0b"}, r"'a\\0b' cannot be an output field"),
    ("output_field_20000_chars", {"output_field": "x" * 20000}, r"has 20000 characters: give at most 255"),
    ("batch_size_2_63", {"batch_size": 2**63}, rf"batch_size: {TYPE}.*below 2\*\*63"),
    ("top_k_2_63", {"top_k": 2**63}, rf"top_k: {TYPE}.*below 2\*\*63"),
]
for name, kwargs, error in UNSTORABLE:
    refuse(f"prelabel_{name}", "prelabel", sdk("prelabel", CLASSIFIER, **kwargs), error)
refuse(
    "uniqueness_nested_output_field",
    "compute_uniqueness",
    sdk("compute_uniqueness", output_field="a.b"),
    r"'a\.b' cannot be an output field: give a new top-level field name",
)

# Other case modules register here, one import line each.
from . import admin_cases, cvat_cases, cvat_shape_cases, fault_cases, mask_cases, view_cases  # noqa: E402,F401
