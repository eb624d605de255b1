"""`glip`: boxes of `object_name` with a text-conditioned detector (OWL-ViT / OWLv2).

Loaded through `AutoModelForZeroShotObjectDetection`, so a real OWL-ViT or OWLv2
checkpoint works as well as the small one. Each call is one image with one text query;
the batch runs one forward pass. Every image patch predicts a box; its score is the
sigmoid of the query's logit. Boxes are integer pixels of the call's image, clamped to
it, best first, capped by the detection limits.
"""

from __future__ import annotations

from typing import cast

import torch
from PIL import Image

from dicec.errors import ModelLoadError
from worker_models.backends.common import (
    DetectionLimits,
    PixelBox,
    load_model,
    load_processor,
    pixel_box,
    rgb_images,
    rounded,
    scaled_inputs,
    to_device,
)
from worker_models.backends.pixels import pixel_values
from worker_models.catalogue import BoundingBox, GlipParams, GlipResult, Params, Result

SUPPORTED = ("owlvit", "owlv2")
# OWLv2 pads each image to a square (bottom and right) before resizing: its boxes are
# fractions of that square, not of the image.
PADS_TO_SQUARE = ("owlv2",)


class GlipBackend:
    function = "glip"

    def __init__(self, checkpoint: str, limits: DetectionLimits, device: str = "cpu") -> None:
        from transformers import AutoModelForZeroShotObjectDetection

        self.checkpoint = checkpoint
        self.device = device
        self.limits = limits
        self.model = load_model(AutoModelForZeroShotObjectDetection, checkpoint, device)
        self.model_type = self.model.config.model_type
        if self.model_type not in SUPPORTED:
            raise ModelLoadError(
                f"glip: checkpoint {checkpoint!r} is a {self.model_type!r} model; "
                f"this backend serves {', '.join(SUPPORTED)}"
            )
        self.processor = load_processor(checkpoint)
        self.max_text_tokens = self.model.config.text_config.max_position_embeddings
        self.pixels = pixel_values(self.processor)

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(GlipParams, p) for p in params]
        rgb = rgb_images(self.function, images)
        inputs = self.processor(
            text=[[c.object_name] for c in calls],
            return_tensors="pt",
            padding="max_length",
            truncation=True,
            max_length=self.max_text_tokens,
        )
        inputs["pixel_values"] = self.pixels(scaled_inputs(rgb))
        with torch.inference_mode():
            out = self.model(**to_device(inputs, self.device))
        scores = out.logits[..., 0].float().sigmoid()  # one query per image
        return [
            GlipResult(result=self._boxes(scores[i], out.pred_boxes[i], image, call.object_name))
            for i, (call, image) in enumerate(zip(calls, rgb, strict=True))
        ]

    def _boxes(
        self, scores: torch.Tensor, boxes: torch.Tensor, image: Image.Image, label: str
    ) -> list[BoundingBox]:
        w, h = image.size
        side = max(w, h)
        scale = (side, side) if self.model_type in PADS_TO_SQUARE else (w, h)
        rounded_scores = [rounded(s) for s in scores.tolist()]
        found = []
        for i in self.limits.candidates(rounded_scores):
            x, y, bw, bh = pixel_box(boxes[i].tolist(), scale, (w, h))
            found.append(PixelBox(x, y, bw, bh, rounded_scores[i], label))
        return [
            BoundingBox(x=b.x, y=b.y, width=b.width, height=b.height, score=b.score, label=label)
            for b in self.limits.select(found)
        ]
