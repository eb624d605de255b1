"""The small configurations: one real `transformers` architecture per function, tiny sizes.

Each builder writes a model (random weights, initialised after `torch.manual_seed`) and
its processor into an empty folder with `save_pretrained`, so that loading a small
checkpoint is exactly loading a real one. Sizes: hidden 32, 2-4 layers, 64 px images
(patch 16 -> 16 patches), vocabularies of about 1000 tokens. `image_px` builds the same
architectures for larger images (224 px: 196 patches, the cost regime of real models'
image towers, for benchmarks).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
import transformers as tf

from worker_models import small_tokenizers as toks

IMAGE_PX = 64  # the default, for tests: calls cost milliseconds
PATCH_PX = 16
HIDDEN = 32
FFN = 64
HEADS = 2
LAYERS = 2
TEXT_POSITIONS = 32  # CLIP/OWL-ViT text length, tokens
BLIP_TEXT_POSITIONS = 64
OPT_POSITIONS = 128
BLIP2_QUERY_TOKENS = 8
YOLOS_DETECTION_TOKENS = 10
IMAGE_TOKEN = "<image>"
# Random-init standard deviation. The architectures' defaults (0.02) suit training but
# make a tiny untrained model answer the same whatever it is shown; wider weights make
# outputs depend on the inputs, which is what the tests (batched == alone) need to bite.
INIT_STD = 0.3
DEPTH_INIT_STD = 0.1
OWL_INIT_FACTOR = 0.1  # at 1.0 every patch scores ~1.0 for any query


def fixed_size(image_px: int) -> dict[str, int]:
    """Image processors resize every image to one fixed size: a batch then stacks without
    padding, so an image's result cannot depend on its neighbours."""
    return {"height": image_px, "width": image_px}


def _vit(image_px: int, **extra: object) -> dict[str, object]:
    """A tiny ViT-style vision tower config."""
    return {
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "image_size": image_px,
        "patch_size": PATCH_PX,
        **extra,
    }


# Learnt token parameters some architectures (YOLOS, DPT) leave at zero until trained:
# all YOLOS detection tokens would then predict the same box.
ZERO_INIT_TOKENS = ("cls_token", "detection_tokens", "position_embeddings")


def _random_model(
    model_cls: type, config: tf.PretrainedConfig, std: float = INIT_STD, factor: float = 1.0
) -> tf.PreTrainedModel:
    """`model_cls` with random weights drawn with `std` (in every sub-config).

    CLIP-family models scale their own init by `initializer_factor` instead.
    """
    subs = [getattr(config, k, None) for k in getattr(config, "sub_configs", {})]
    for cfg in (config, *(c for c in subs if c is not None)):
        for attr in ("initializer_range", "init_std"):
            if hasattr(cfg, attr):
                setattr(cfg, attr, std)
        if hasattr(cfg, "initializer_factor"):
            cfg.initializer_factor = factor
    model = model_cls(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.rsplit(".", 1)[-1] in ZERO_INIT_TOKENS and not param.any():
                param.normal_(std=std)
    return model


def _bert_tokenizer() -> tf.PreTrainedTokenizerBase:
    with tempfile.TemporaryDirectory() as tmp:
        toks.write_wordpiece_vocab(Path(tmp))
        return tf.BertTokenizerFast.from_pretrained(tmp, bos_token=toks.BLIP_DECODER_BOS)


def _clip_tokenizer(pad_token: str = toks.CLIP_EOS) -> tf.PreTrainedTokenizerBase:
    with tempfile.TemporaryDirectory() as tmp:
        toks.write_clip_bpe(Path(tmp))
        return tf.CLIPTokenizerFast.from_pretrained(tmp, pad_token=pad_token)


def _opt_tokenizer() -> tf.PreTrainedTokenizerBase:
    bos, pad, eos, unk = toks.OPT_SPECIALS
    with tempfile.TemporaryDirectory() as tmp:
        toks.write_opt_bpe(Path(tmp))
        # OPT starts every text with its BOS (`</s>`); an empty prompt is then not empty.
        tok = tf.GPT2TokenizerFast.from_pretrained(
            tmp, bos_token=eos, eos_token=eos, pad_token=pad, unk_token=unk, add_bos_token=True
        )
    tok.add_tokens(
        [tf.AddedToken(IMAGE_TOKEN, normalized=False, special=True)], special_tokens=True
    )
    tok.padding_side = "left"  # decoder-only generation continues at the right end
    return tok


def _clip_text(tok: tf.PreTrainedTokenizerBase) -> dict[str, object]:
    return {
        "vocab_size": len(tok),
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": TEXT_POSITIONS,
        "bos_token_id": tok.bos_token_id,
        "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id,
    }


def build_blip(out: Path, image_px: int) -> None:
    tok = _bert_tokenizer()
    text = {
        "vocab_size": len(tok),
        "hidden_size": HIDDEN,
        "encoder_hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": BLIP_TEXT_POSITIONS,
        "bos_token_id": tok.convert_tokens_to_ids(toks.BLIP_DECODER_BOS),
        "pad_token_id": tok.pad_token_id,
        "sep_token_id": tok.sep_token_id,
        "eos_token_id": tok.sep_token_id,
    }
    config = tf.BlipConfig(text_config=text, vision_config=_vit(image_px), projection_dim=HIDDEN)
    _random_model(tf.BlipForQuestionAnswering, config).save_pretrained(out)
    images = tf.BlipImageProcessor(size=fixed_size(image_px))
    tf.BlipProcessor(image_processor=images, tokenizer=tok).save_pretrained(out)


def build_blip2(out: Path, image_px: int) -> None:
    tok = _opt_tokenizer()
    opt = tf.OPTConfig(
        vocab_size=len(tok),
        hidden_size=HIDDEN,
        word_embed_proj_dim=HIDDEN,
        ffn_dim=FFN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        max_position_embeddings=OPT_POSITIONS,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    qformer = {
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "encoder_hidden_size": HIDDEN,
        "vocab_size": len(tok),
    }
    config = tf.Blip2Config(
        vision_config=_vit(image_px),
        qformer_config=qformer,
        text_config=opt.to_dict(),
        num_query_tokens=BLIP2_QUERY_TOKENS,
        image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
    )
    _random_model(tf.Blip2ForConditionalGeneration, config).save_pretrained(out)
    images = tf.BlipImageProcessor(size=fixed_size(image_px))
    processor = tf.Blip2Processor(
        image_processor=images, tokenizer=tok, num_query_tokens=BLIP2_QUERY_TOKENS
    )
    processor.save_pretrained(out)


def build_xvlm(out: Path, image_px: int) -> None:
    tok = _clip_tokenizer()
    config = tf.CLIPConfig(
        text_config=_clip_text(tok), vision_config=_vit(image_px), projection_dim=HIDDEN
    )
    _random_model(tf.CLIPModel, config).save_pretrained(out)
    images = tf.CLIPImageProcessor(size={"shortest_edge": image_px}, crop_size=fixed_size(image_px))
    tf.CLIPProcessor(image_processor=images, tokenizer=tok).save_pretrained(out)


def build_glip(out: Path, image_px: int) -> None:
    # OWL-ViT pads text queries with "!" (id below EOS), as the real checkpoints do.
    tok = _clip_tokenizer(pad_token="!")
    config = tf.OwlViTConfig(
        text_config=_clip_text(tok), vision_config=_vit(image_px), projection_dim=HIDDEN
    )
    _random_model(tf.OwlViTForObjectDetection, config, factor=OWL_INIT_FACTOR).save_pretrained(out)
    images = tf.OwlViTImageProcessor(size=fixed_size(image_px), crop_size=fixed_size(image_px))
    tf.OwlViTProcessor(image_processor=images, tokenizer=tok).save_pretrained(out)


def build_yolov8(out: Path, image_px: int) -> None:
    labels = dict(enumerate(toks.COCO_CLASSES))
    config = tf.YolosConfig(
        **_vit(image_px, image_size=[image_px, image_px]),
        num_detection_tokens=YOLOS_DETECTION_TOKENS,
        use_mid_position_embeddings=False,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    _random_model(tf.YolosForObjectDetection, config).save_pretrained(out)
    tf.YolosImageProcessor(size=fixed_size(image_px), do_pad=False).save_pretrained(out)


def build_depth(out: Path, image_px: int) -> None:
    # DPT taps one hidden state per reassemble stage: 4 layers, one tap each.
    config = tf.DPTConfig(
        **_vit(image_px, num_hidden_layers=4),
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[16, 16, 32, 32],
        fusion_hidden_size=16,
        use_auxiliary_head=False,
    )
    _random_model(tf.DPTForDepthEstimation, config, DEPTH_INIT_STD).save_pretrained(out)
    tf.DPTImageProcessor(size=fixed_size(image_px), keep_aspect_ratio=False).save_pretrained(out)


BUILDERS: dict[str, tuple[str, Callable[[Path, int], None]]] = {
    "glip": ("OwlViTForObjectDetection", build_glip),
    "blip": ("BlipForQuestionAnswering", build_blip),
    "xvlm": ("CLIPModel", build_xvlm),
    "yolov8": ("YolosForObjectDetection", build_yolov8),
    "blip2": ("Blip2ForConditionalGeneration", build_blip2),
    "depth": ("DPTForDepthEstimation", build_depth),
}


def build_model_dir(function: str, out: Path, seed: int, image_px: int = IMAGE_PX) -> str:
    """Write `function`'s small model + processor into `out`; returns the architecture."""
    architecture, builder = BUILDERS[function]
    torch.manual_seed(seed)
    builder(out, image_px)
    return architecture
