"""Tiny random-initialised transformers models, saved with ``save_pretrained`` into local directories.

Fixed seeds, no network: each builder writes a directory that the real loading code (``AutoModel*``,
``AutoProcessor``, FiftyOne's ``*-transformer-torch`` zoo entries with ``name_or_path``) accepts.
"""

import torch

from core.models.torch_compat import ensure_torchvision

ensure_torchvision()

import transformers as tr  # noqa: E402

IMAGE_SIZE = 32
ENCODER = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2)
VIT = dict(ENCODER, intermediate_size=64)


def image_classifier(out_dir, labels):
    """A ViT image classifier over ``labels``."""
    torch.manual_seed(0)
    config = tr.ViTConfig(image_size=IMAGE_SIZE, patch_size=8, **VIT, **_label_maps(labels))
    return _save(tr.ViTForImageClassification(config), _vit_processor(), out_dir)


def object_detector(out_dir, labels):
    """A YOLOS object detector over ``labels``."""
    torch.manual_seed(0)
    config = tr.YolosConfig(image_size=[64, 64], patch_size=16, num_detection_tokens=10, **VIT, **_label_maps(labels))
    processor = tr.YolosImageProcessor(size={"shortest_edge": 64, "longest_edge": 64})
    return _save(tr.YolosForObjectDetection(config), processor, out_dir)


def zero_shot_model(out_dir):
    """A CLIP model (image-text similarity: zero-shot classification and image embeddings)."""
    torch.manual_seed(0)
    tokenizer = _char_tokenizer()
    text = dict(max_position_embeddings=32, **_text_ids(tokenizer), **VIT)
    vision = dict(image_size=IMAGE_SIZE, patch_size=8, **VIT)
    config = tr.CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)
    processor = tr.CLIPProcessor(
        image_processor=tr.CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE}, crop_size=IMAGE_SIZE),
        tokenizer=tokenizer,
    )
    return _save(tr.CLIPModel(config), processor, out_dir)


def semantic_segmenter(out_dir, labels):
    """A SegFormer semantic segmentation model over ``labels``."""
    torch.manual_seed(0)
    config = tr.SegformerConfig(
        num_encoder_blocks=2,
        depths=[1, 1],
        sr_ratios=[2, 1],
        hidden_sizes=[16, 32],
        num_attention_heads=[1, 2],
        patch_sizes=[7, 3],
        strides=[4, 2],
        decoder_hidden_size=32,
        **_label_maps(labels),
    )
    processor = tr.SegformerImageProcessor(size={"height": 64, "width": 64})
    return _save(tr.SegformerForSemanticSegmentation(config), processor, out_dir)


def instance_segmenter(out_dir, labels):
    """A Mask2Former instance (universal) segmentation model over ``labels``, on a tiny Swin backbone."""
    torch.manual_seed(0)
    stages = ["stage1", "stage2", "stage3", "stage4"]
    backbone = tr.SwinConfig(embed_dim=16, depths=[1] * 4, num_heads=[1] * 4, image_size=64, out_features=stages)
    config = tr.Mask2FormerConfig(
        backbone_config=backbone,
        hidden_dim=32,
        mask_feature_size=32,
        feature_size=32,
        encoder_layers=1,
        decoder_layers=2,
        num_attention_heads=2,
        encoder_feedforward_dim=64,
        dim_feedforward=64,
        num_queries=5,
        **_label_maps(labels),
    )
    processor = tr.Mask2FormerImageProcessor(size={"height": 64, "width": 64}, num_labels=len(labels))
    return _save(tr.Mask2FormerForUniversalSegmentation(config), processor, out_dir)


_SAM_HEADS = dict(
    prompt_encoder_config=dict(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4),
    mask_decoder_config=dict(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32, iou_head_hidden_dim=16
    ),
)
"""The prompt encoder and mask decoder of the tiny SAM and SAM 2 (64-pixel inputs, 4x4 image embeddings)."""


def sam(out_dir):
    """A SAM model (masks from box prompts) on 64-pixel inputs."""
    torch.manual_seed(0)
    vision = dict(
        **ENCODER,
        mlp_dim=64,
        image_size=64,
        patch_size=16,
        output_channels=16,
        global_attn_indexes=[1],
        num_pos_feats=8,
        window_size=2,
    )
    config = tr.SamConfig(vision_config=vision, **_SAM_HEADS)
    image_processor = tr.SamImageProcessor(
        size={"longest_edge": 64},
        pad_size={"height": 64, "width": 64},
        mask_size={"longest_edge": 16},
        mask_pad_size={"height": 16, "width": 16},
    )
    return _save(tr.SamModel(config), tr.SamProcessor(image_processor=image_processor), out_dir)


def sam2(out_dir):
    """A SAM 2 model (masks from box prompts) on 64-pixel inputs, on a tiny Hiera backbone."""
    torch.manual_seed(0)
    hiera = tr.Sam2HieraDetConfig(
        hidden_size=8,
        image_size=[64, 64],
        blocks_per_stage=[1, 1, 2, 1],
        embed_dim_per_stage=[8, 16, 32, 64],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        window_size_per_stage=[2, 2, 2, 2],
        global_attention_blocks=[3],
        window_positional_embedding_background_size=[2, 2],
    )
    vision = tr.Sam2VisionConfig(
        backbone_config=hiera,
        backbone_channel_list=[64, 32, 16, 8],
        backbone_feature_sizes=[[16, 16], [8, 8], [4, 4]],
        fpn_hidden_size=16,
    )
    config = tr.Sam2Config(vision_config=vision, **_SAM_HEADS)
    image_processor = tr.Sam2ImageProcessor(size={"height": 64, "width": 64}, mask_size={"height": 16, "width": 16})
    return _save(tr.Sam2Model(config), tr.Sam2Processor(image_processor=image_processor), out_dir)


POSE_KEYPOINTS = ("nose", "left_eye", "right_eye", "left_hand", "right_hand")
POSE_EDGES = [[0, 1], [0, 2], [0, 3], [0, 4]]


def pose_model(out_dir, skeleton=True):
    """A ViTPose model (keypoints from box prompts) over ``POSE_KEYPOINTS`` on 64x48 crops; ``skeleton``: whether
    its config carries the keypoints' ``edges`` as ViTPose checkpoints do."""
    torch.manual_seed(0)
    backbone = tr.VitPoseBackboneConfig(
        image_size=[64, 48],
        patch_size=[16, 16],
        **ENCODER,
        mlp_ratio=2,
        part_features=8,
        out_indices=[2],
    )
    config = tr.VitPoseConfig(backbone_config=backbone, **_label_maps(POSE_KEYPOINTS))
    if skeleton:
        config.edges = POSE_EDGES
    processor = tr.VitPoseImageProcessor(size={"height": 64, "width": 48})
    return _save(tr.VitPoseForPoseEstimation(config), processor, out_dir)


def zero_shot_detector(out_dir):
    """An OWL-ViT open-vocabulary detector (text prompts)."""
    torch.manual_seed(0)
    tokenizer = _char_tokenizer()
    text = dict(max_position_embeddings=16, **_text_ids(tokenizer))
    config = tr.OwlViTConfig(
        text_config={**text, **VIT}, vision_config=dict(image_size=IMAGE_SIZE, patch_size=8, **VIT), projection_dim=32
    )
    image_processor = tr.OwlViTImageProcessor(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = tr.OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer)
    model = tr.OwlViTForObjectDetection(config)
    with torch.no_grad():  # random box heads give degenerate boxes; zero ones give one box per image patch
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    return _save(model, processor, out_dir)


def image_embedder(out_dir):
    """A ViT backbone whose pooled output is an image embedding (``AutoModel``)."""
    torch.manual_seed(0)
    config = tr.ViTConfig(image_size=IMAGE_SIZE, patch_size=8, **VIT)
    return _save(tr.ViTModel(config), _vit_processor(), out_dir)


def _vit_processor():
    return tr.ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def _label_maps(labels):
    return {"id2label": dict(enumerate(labels)), "label2id": {label: i for i, label in enumerate(labels)}}


def _save(model, processor, out_dir):
    model.eval()
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    return str(out_dir)


def _text_ids(tokenizer):
    return dict(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _char_tokenizer():
    """A character-level CLIP BPE tokenizer: the byte alphabet and no merges."""
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    alphabet = list(bytes_to_unicode().values())
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["<|startoftext|>", "<|endoftext|>"]  # no special id 0
    return tr.CLIPTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=[])


class _Logits(torch.nn.Module):
    """A transformers image classifier or segmenter as a plain module: pixel values in, logits out."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values):
        return self.model(pixel_values=pixel_values).logits


class _Boxes(torch.nn.Module):
    """A DETR-style transformers detector with its post-processing: ``boxes`` (x1, y1, x2, y2 relative to the
    image), ``scores`` and class ``labels`` per query, or torchvision-style dicts (boxes in input pixels)."""

    def __init__(self, model, torchvision_style=False):
        super().__init__()
        self.model, self.torchvision_style = model, torchvision_style

    def forward(self, pixel_values):
        outputs = self.model(pixel_values=pixel_values)
        scores, labels = outputs.logits.softmax(-1)[..., :-1].max(-1)
        cx, cy, w, h = outputs.pred_boxes.unbind(-1)
        boxes = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1).clamp(0, 1)
        if not self.torchvision_style:
            return boxes, scores, labels
        scale = torch.tensor([pixel_values.shape[3], pixel_values.shape[2]] * 2, dtype=boxes.dtype)
        return [dict(boxes=b * scale, scores=s, labels=c) for b, s, c in zip(boxes, scores, labels, strict=True)]


def classifier_module(model_dir):
    """The classifier saved in ``model_dir`` (``image_classifier``) as a torch module giving logits: the entry
    point of a FiftyOne ``TorchImageModel`` config (``entrypoint_fcn``)."""
    return _Logits(tr.ViTForImageClassification.from_pretrained(model_dir).eval())


def detector_module(model_dir):
    """The detector saved in ``model_dir`` (``object_detector``) as a torch module giving torchvision-style
    detections, for a FiftyOne ``TorchImageModel`` with a ``DetectorOutputProcessor``."""
    return _Boxes(tr.YolosForObjectDetection.from_pretrained(model_dir).eval(), torchvision_style=True)


def fiftyone_model_config(model_dir, task):
    """A FiftyOne model config (``fom.load_model`` builds it) of the tiny classifier or detector in ``model_dir``."""
    detection = task == "detection"
    size = 64 if detection else IMAGE_SIZE
    mean, std = _IMAGENET if detection else _HALF
    config = {
        "entrypoint_fcn": f"testing.tiny_models.{'detector' if detection else 'classifier'}_module",
        "entrypoint_args": {"model_dir": str(model_dir)},
        "output_processor_cls": f"fiftyone.utils.torch.{'Detector' if detection else 'Classifier'}OutputProcessor",
        "classes": _classes(model_dir),
        "image_size": [size, size],
        "image_mean": mean,
        "image_std": std,
        "device": "cpu",
    }
    return {"type": "fiftyone.utils.torch.TorchImageModel", "config": config}


_HALF = ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
_IMAGENET = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def onnx_export(model_dir, out_path, task):
    """Exports the tiny classifier, detector or semantic segmenter saved in ``model_dir`` to the ONNX file
    ``out_path`` (batch dimension dynamic), with its spec beside it (``<name>.json``); returns the path."""
    import json

    load, outputs, size, (mean, std) = _EXPORTS[task]
    axes = {name: {0: "batch"} for name in ["pixel_values", *outputs]}
    with torch.no_grad():
        torch.onnx.export(
            load(model_dir),
            (torch.zeros(1, 3, size, size),),
            str(out_path),
            input_names=["pixel_values"],
            output_names=outputs,
            dynamic_axes=axes,
            dynamo=False,
        )
    spec = {"task": task, "input_size": [size, size], "mean": mean, "std": std, "class_names": _classes(model_dir)}
    with open(str(out_path).removesuffix(".onnx") + ".json", "w") as f:
        json.dump(spec, f)
    return str(out_path)


_EXPORTS = {
    "classification": (classifier_module, ["logits"], IMAGE_SIZE, _HALF),
    "detection": (
        lambda model_dir: _Boxes(tr.YolosForObjectDetection.from_pretrained(model_dir).eval()),
        ["boxes", "scores", "labels"],
        64,
        _IMAGENET,
    ),
    "semantic_segmentation": (
        lambda model_dir: _Logits(tr.SegformerForSemanticSegmentation.from_pretrained(model_dir).eval()),
        ["logits"],
        64,
        _IMAGENET,
    ),
}
"""How each task's tiny model is exported: its module, outputs, input size and normalisation."""


def _classes(model_dir):
    import json

    with open(f"{model_dir}/config.json") as f:
        id2label = json.load(f)["id2label"]
    return [id2label[str(i)] for i in range(len(id2label))]
