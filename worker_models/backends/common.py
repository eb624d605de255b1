"""Helpers every model backend shares: loading, images, rounding and box geometry.

Rounding is part of the contract, not cosmetics: a call's result must be the same
whether it ran alone or inside a batch, and matrix kernels for different batch shapes
differ in the last float bits. Scores are rounded to `SCORE_DECIMALS` and boxes are
integer pixels, so that noise cannot show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from dicec.errors import BadImageError

SCORE_DECIMALS = 4
SIGNIFICANT_DIGITS = 4  # for unbounded quantities (metres): relative, not absolute, noise
MIN_BOX_PX = 1
# What a processor may be handed: the longest side is bounded (larger images are scaled
# down first), and for processors that keep the aspect ratio (CLIP resizes the shortest
# edge), so is the ratio of the sides: a 1-px-wide crop would otherwise be upscaled to
# 224 x 53,760 px. Thinner images are padded, centred, over the background colour.
MAX_MODEL_INPUT_SIDE_PX = 1024
MAX_MODEL_INPUT_ASPECT = 4.0
PAD_RGB = (255, 255, 255)


def load_model(model_cls: Any, checkpoint: str, device: str) -> Any:
    """A `transformers` model in eval mode on `device`, loaded once."""
    model = model_cls.from_pretrained(checkpoint)
    return model.to(device).eval()


def load_processor(checkpoint: str) -> Any:
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(checkpoint)


def rgb_images(function: str, images: Sequence[Image.Image | None]) -> list[Image.Image]:
    """The call images as RGB; a model function without an image is a bad call."""
    out = []
    for i, image in enumerate(images):
        if image is None:
            raise BadImageError(f"{function}: call {i} of the batch has no image")
        out.append(image if image.mode == "RGB" else image.convert("RGB"))
    return out


def distinct_images(
    images: Sequence[Image.Image | None],
) -> tuple[list[Image.Image | None], torch.Tensor]:
    """Each image object once, in first-seen order, and for every call the index of its
    image among them: calls on one crop (the worker hands them the same object) share its
    preprocessing and, where a model allows, its image encoding."""
    first: dict[int, int] = {}
    distinct: list[Image.Image | None] = []
    index = []
    for image in images:
        key = id(image)
        if key not in first:
            first[key] = len(distinct)
            distinct.append(image)
        index.append(first[key])
    return distinct, torch.tensor(index, dtype=torch.long)


def model_inputs(
    function: str, images: Sequence[Image.Image | None], processor: Any
) -> list[Image.Image]:
    """The call images as RGB, bounded for `processor` (see MAX_MODEL_INPUT_SIDE_PX)."""
    pad = keeps_aspect_ratio(processor)
    return [bounded_input(image, pad_aspect=pad) for image in rgb_images(function, images)]


def scaled_inputs(images: Sequence[Image.Image]) -> list[Image.Image]:
    """Images bounded in size but never padded: detectors, whose boxes are fractions of
    the image, scale them with the size of the image the call sent."""
    return [bounded_input(image, pad_aspect=False) for image in images]


def keeps_aspect_ratio(processor: Any) -> bool:
    """Whether the processor's resize keeps the aspect ratio (so its output is unbounded)."""
    image_processor = getattr(processor, "image_processor", processor)
    size = getattr(image_processor, "size", None) or {}
    return "shortest_edge" in size or bool(getattr(image_processor, "keep_aspect_ratio", False))


def bounded_input(image: Image.Image, *, pad_aspect: bool) -> Image.Image:
    """`image` scaled down to MAX_MODEL_INPUT_SIDE_PX and, if `pad_aspect`, padded to at
    most MAX_MODEL_INPUT_ASPECT between its sides; unchanged if already inside both."""
    width, height = image.size
    longest = max(width, height)
    if longest > MAX_MODEL_INPUT_SIDE_PX:
        scale = MAX_MODEL_INPUT_SIDE_PX / longest
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
        width, height = size
    if not pad_aspect:
        return image
    padded = (
        max(width, math.ceil(height / MAX_MODEL_INPUT_ASPECT)),
        max(height, math.ceil(width / MAX_MODEL_INPUT_ASPECT)),
    )
    if padded == (width, height):
        return image
    canvas = Image.new("RGB", padded, PAD_RGB)
    canvas.paste(image, ((padded[0] - width) // 2, (padded[1] - height) // 2))
    return canvas


def rounded(value: float) -> float:
    """A float rounded to the result precision; NaN and inf become 0 so JSON stays valid."""
    v = float(value)
    return round(v, SCORE_DECIMALS) if math.isfinite(v) else 0.0


def significant(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """A float rounded to `digits` significant digits; NaN and inf become 0."""
    v = float(value)
    if not math.isfinite(v) or v == 0:
        return 0.0
    return round(v, digits - 1 - math.floor(math.log10(abs(v))))


def to_device(batch: Any, device: str) -> dict[str, Any]:
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


@dataclass(frozen=True)
class PixelBox:
    """A box in integer pixels, inside its image, at least `MIN_BOX_PX` on each side."""

    x: int
    y: int
    width: int
    height: int
    score: float
    label: str


def pixel_box(
    cxcywh: Sequence[float], scale: tuple[float, float], size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """A normalised (cx, cy, w, h) box scaled by `scale` (w, h px) and clamped to `size`."""
    cx, cy, bw, bh = (float(v) for v in cxcywh)
    sx, sy = scale
    width, height = size
    x0 = _clamp(round((cx - bw / 2) * sx), 0, width - MIN_BOX_PX)
    y0 = _clamp(round((cy - bh / 2) * sy), 0, height - MIN_BOX_PX)
    x1 = _clamp(round((cx + bw / 2) * sx), x0 + MIN_BOX_PX, width)
    y1 = _clamp(round((cy + bh / 2) * sy), y0 + MIN_BOX_PX, height)
    return x0, y0, x1 - x0, y1 - y0


def _clamp(v: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, v))


@dataclass(frozen=True)
class DetectionLimits:
    """How many boxes a detection call may return, and the lowest score kept."""

    top_k: int
    score_threshold: float

    def candidates(self, scores: Sequence[float]) -> list[int]:
        """Indices of the boxes that `select` could keep, from their rounded scores alone:
        at or above the threshold and no worse than the top_k-th best (ties kept, so the
        tie-break by position stays select's). A detector's every patch predicts a box
        (196 at 224 px) and a call keeps a few: building the rest cost OWL-ViT's worker
        more than its forward pass's text tower."""
        if self.top_k <= 0:
            return []
        kept = [i for i, s in enumerate(scores) if s >= self.score_threshold]
        if len(kept) > self.top_k:
            cut = sorted((scores[i] for i in kept), reverse=True)[self.top_k - 1]
            kept = [i for i in kept if scores[i] >= cut]
        return kept

    def select(self, boxes: list[PixelBox]) -> list[PixelBox]:
        """Boxes at or above the threshold, best first, at most `top_k`.

        Ties are broken by position so the order never depends on float noise.
        """
        kept = [b for b in boxes if b.score >= self.score_threshold]
        kept.sort(key=lambda b: (-b.score, b.y, b.x, b.width, b.height, b.label))
        return kept[: max(self.top_k, 0)]


def pixel_groups(processor: Any, images: list[Image.Image]) -> list[tuple[list[int], torch.Tensor]]:
    """Each image preprocessed on its own, then stacked with the images of the same shape.

    Detectors and depth models without a pixel mask see padding as content, so images are
    never padded to a neighbour's size: one forward pass per distinct input shape (one in
    all for the small checkpoints, whose processors resize to a fixed size).
    """
    groups: dict[tuple[int, ...], list[tuple[int, torch.Tensor]]] = {}
    for i, image in enumerate(images):
        pixels = processor(images=image, return_tensors="pt")["pixel_values"]
        groups.setdefault(tuple(pixels.shape), []).append((i, pixels))
    return [
        ([i for i, _ in members], torch.cat([p for _, p in members])) for members in groups.values()
    ]
