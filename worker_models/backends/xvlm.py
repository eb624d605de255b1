"""`xvlm`: does the object have the property? Zero-shot image-text matching with CLIP.

For each call the image is scored against two captions, "a photo of a {property}
{object_name}" and "a photo of a {object_name}"; `score` is the softmax probability of
the first (in [0, 1]) and `result` is `score > 0.5`. A batch embeds all images and all
captions once; each call then reads its own image-caption pair.
"""

from __future__ import annotations

from typing import cast

import torch
from PIL import Image

from worker_models.backends.common import (
    distinct_images,
    load_model,
    load_processor,
    model_inputs,
    rounded,
    to_device,
)
from worker_models.backends.pixels import pixel_values
from worker_models.catalogue import Params, Result, XvlmParams, XvlmResult

POSITIVE = "a photo of a {property} {object_name}"
NEUTRAL = "a photo of a {object_name}"
DECISION = 0.5


def captions(call: XvlmParams) -> list[str]:
    fields = {"property": call.property, "object_name": call.object_name}
    return [POSITIVE.format(**fields), NEUTRAL.format(**fields)]


class XvlmBackend:
    function = "xvlm"

    def __init__(self, checkpoint: str, device: str = "cpu") -> None:
        from transformers import CLIPModel

        self.checkpoint = checkpoint
        self.device = device
        self.model = load_model(CLIPModel, checkpoint, device)
        self.processor = load_processor(checkpoint)
        self.max_text_tokens = self.model.config.text_config.max_position_embeddings
        self.pixels = pixel_values(self.processor)

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(XvlmParams, p) for p in params]
        inputs = self.processor(
            text=[t for c in calls for t in captions(c)],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_text_tokens,
        )
        distinct, which = distinct_images(images)
        pixels = self.pixels(model_inputs(self.function, distinct, self.processor))
        inputs["pixel_values"] = pixels[which]  # one crop's two captions: resized once
        with torch.inference_mode():
            logits = self.model(**to_device(inputs, self.device)).logits_per_image
        results = []
        for i in range(len(calls)):
            pair = logits[i, 2 * i : 2 * i + 2].float().softmax(-1)
            score = rounded(pair[0].item())
            results.append(XvlmResult(result=score > DECISION, score=score))
        return results
