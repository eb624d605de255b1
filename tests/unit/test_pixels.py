"""The batch pixel path gives the model the pixel values the processor would have given
it (within float32 rounding), for the processors it takes over, and leaves the others
to their own path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from transformers import (
    BlipImageProcessorPil,
    CLIPImageProcessorPil,
    Owlv2ImageProcessorPil,
    OwlViTImageProcessorPil,
)

from worker_models.backends.common import load_processor
from worker_models.backends.pixels import BatchPixels, batch_pixels, pixel_values

# float32 rounding of (x * scale - mean) / std, done in another order than the processor
TOLERANCE = 1e-5
# (width, height): wide and tall crops, a whole scene, tiny and 1-px-thin ones, larger
# than the model side (a downscale) and exactly the model side
SHAPES = [(100, 50), (50, 100), (320, 240), (7, 30), (300, 20), (4, 1), (500, 380), (224, 224)]

PROCESSORS = {
    "blip 224": BlipImageProcessorPil(size={"height": 224, "width": 224}),
    "blip default (384)": BlipImageProcessorPil(),
    "clip 224": CLIPImageProcessorPil(),
    "clip 64, odd crop": CLIPImageProcessorPil(
        size={"shortest_edge": 64}, crop_size={"height": 63, "width": 61}
    ),
    "clip crop larger than resize": CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 40, "width": 40}
    ),
    "owlvit 224": OwlViTImageProcessorPil(size={"height": 224, "width": 224}),
}


def images() -> list[Image.Image]:
    rng = np.random.default_rng(17)
    out = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for w, h in SHAPES]
    out.append(Image.fromarray(rng.integers(0, 256, (40, 90), dtype=np.uint8)))  # greyscale
    return out


@pytest.mark.parametrize("name", list(PROCESSORS))
def test_same_pixels_as_the_processor(name: str) -> None:
    processor = PROCESSORS[name]
    fast = batch_pixels(processor)
    assert isinstance(fast, BatchPixels)
    for image in images():
        want = processor(images=[image], return_tensors="pt")["pixel_values"]
        got = fast([image])
        assert got.shape == want.shape, (image.size, got.shape, want.shape)
        assert got.dtype == torch.float32
        diff = float((got - want).abs().max())
        assert diff <= TOLERANCE, f"{name}, image {image.size}: off by {diff}"


def test_a_batch_is_its_images_stacked() -> None:
    processor = PROCESSORS["clip 224"]
    batch = [image for image in images() if image.mode == "RGB"]
    fast = batch_pixels(processor)
    assert fast is not None
    stacked = torch.cat([fast([image]) for image in batch])
    assert torch.equal(fast(batch), stacked)


def test_the_small_checkpoints_take_the_fast_path(small_checkpoint_dir: Path) -> None:
    for function in ("glip", "blip", "xvlm"):
        processor = load_processor(str(small_checkpoint_dir / function))
        assert isinstance(pixel_values(processor), BatchPixels), function


def test_other_processors_keep_their_own_path() -> None:
    owlv2 = Owlv2ImageProcessorPil(size={"height": 64, "width": 64})  # pads to a square
    assert batch_pixels(owlv2) is None
    image = images()[0]
    want = owlv2(images=[image], return_tensors="pt")["pixel_values"]
    assert torch.equal(pixel_values(owlv2)([image]), want)
    padded = CLIPImageProcessorPil(do_pad=True)
    assert batch_pixels(padded) is None
