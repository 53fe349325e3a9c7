"""Tiny random-initialised transformers models, saved with ``save_pretrained`` into local directories.

Fixed seeds, no network: each builder writes a directory that the real loading code (``AutoModel*``,
``AutoProcessor``, FiftyOne's ``*-transformer-torch`` zoo entries with ``name_or_path``) accepts.
"""

import torch

from core.models.torch_compat import ensure_torchvision

ensure_torchvision()

import transformers as tr  # noqa: E402

IMAGE_SIZE = 32
VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)


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
