"""A batch's pixel values without the image processor's per-image Python path.

The `transformers` PIL image processors run resize, centre crop, rescale and normalise
one image at a time, through numpy in float64; for the small checkpoints that is most
of a call's CPU (CLIP: 88 % at batch 16). `BatchPixels` does the same steps: each
image's resize in PIL with the processor's size and filter (the very call the processor
makes, so the same bytes), the centre crop as a slice of those bytes, then rescale and
normalise once for the whole batch as one tensor operation. The result equals the
processor's within float32 rounding (tests/unit/test_pixels.py).

Only the processors whose pipeline is exactly that are taken over (`FAST_PROCESSORS`);
any other one, or one configured with steps this module does not do (padding, an odd
size rule), keeps its own path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from PIL import Image

# PIL-backed processors whose preprocessing is resize -> [centre crop] -> rescale ->
# normalise, and nothing else (OWLv2, for one, pads to a square first: not listed).
FAST_PROCESSORS = frozenset(
    {"BlipImageProcessorPil", "CLIPImageProcessorPil", "OwlViTImageProcessorPil"}
)


class PixelValues(Protocol):
    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor: ...


@dataclass(frozen=True)
class BatchPixels:
    """resize (PIL) -> centre crop (slice) -> rescale and normalise (one tensor op)."""

    height: int | None  # fixed output size, or None with `shortest_edge`
    width: int | None
    shortest_edge: int | None
    crop: tuple[int, int] | None  # (height, width) of the centre crop
    resample: int
    scale: torch.Tensor  # per channel: rescale_factor / std
    shift: torch.Tensor  # per channel: mean / std

    def __call__(self, images: Sequence[Image.Image]) -> torch.Tensor:
        # channels first while still uint8 (a quarter of the bytes to move), then one
        # multiply and one subtract in place over the whole batch
        hwc = np.stack([self._resized(image) for image in images])
        chw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
        return torch.from_numpy(chw).to(torch.float32).mul_(self.scale).sub_(self.shift)

    def _resized(self, image: Image.Image) -> np.ndarray:
        if image.mode != "RGB":
            image = image.convert("RGB")
        width, height = self._size(image)
        if self.crop is not None and width > self.crop[1]:
            # Pillow resizes the width first, then the height, rounding to bytes in
            # between: the same two passes as two calls, with the columns the crop drops
            # cut in between, give the same bytes for less work (a wide crop for CLIP)
            left = (width - self.crop[1]) // 2
            image = image.resize((width, image.height), resample=self.resample)
            image = image.crop((left, 0, left + self.crop[1], image.height))
            width = self.crop[1]
        pixels = np.asarray(image.resize((width, height), resample=self.resample))
        return pixels if self.crop is None else centre_crop(pixels, self.crop)

    def _size(self, image: Image.Image) -> tuple[int, int]:
        """(width, height) for PIL, by the processor's rule (its get_resize_output_image_size)."""
        if self.shortest_edge is None:
            assert self.width is not None and self.height is not None
            return self.width, self.height
        width, height = image.size
        short, long = (width, height) if width <= height else (height, width)
        new_long = int(self.shortest_edge * long / short)
        if width <= height:
            return self.shortest_edge, new_long
        return new_long, self.shortest_edge


def centre_crop(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The processor's centre crop of an H x W x C array (zero-padded where it is smaller)."""
    height, width = pixels.shape[:2]
    crop_h, crop_w = size
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    if top >= 0 and left >= 0:
        return pixels[top : top + crop_h, left : left + crop_w]
    out = np.zeros((max(crop_h, height), max(crop_w, width), pixels.shape[2]), pixels.dtype)
    pad_top, pad_left = -(-(out.shape[0] - height) // 2), -(-(out.shape[1] - width) // 2)
    out[pad_top : pad_top + height, pad_left : pad_left + width] = pixels
    return centre_crop(out, size)


def batch_pixels(image_processor: Any) -> BatchPixels | None:
    """The fast path for this processor, or None where it would not give the same pixels."""
    p = image_processor
    if type(p).__name__ not in FAST_PROCESSORS:
        return None
    if getattr(p, "do_pad", False) or not (p.do_resize and p.do_rescale and p.do_normalize):
        return None
    size = dict(p.size)
    if set(size) == {"height", "width"}:
        height, width, shortest = size["height"], size["width"], None
    elif set(size) == {"shortest_edge"}:
        height, width, shortest = None, None, size["shortest_edge"]
    else:
        return None
    crop = None
    if getattr(p, "do_center_crop", False):
        crop = (p.crop_size["height"], p.crop_size["width"])
    mean = torch.tensor(p.image_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(p.image_std, dtype=torch.float32).view(1, 3, 1, 1)
    return BatchPixels(
        height, width, shortest, crop, int(p.resample), p.rescale_factor / std, mean / std
    )


def pixel_values(processor: Any) -> PixelValues:
    """How a backend turns its images into `pixel_values`: the fast path where it gives
    the same pixels, else the processor's own image processor."""
    image_processor = getattr(processor, "image_processor", processor)
    fast = batch_pixels(image_processor)
    if fast is not None:
        return fast

    def slow(images: Sequence[Image.Image]) -> torch.Tensor:
        return image_processor(images=list(images), return_tensors="pt")["pixel_values"]

    return slow
