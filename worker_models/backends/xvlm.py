"""`xvlm`: does the object have the property? Zero-shot image-text matching with CLIP.

For each call the image is scored against two captions, "a photo of a {property}
{object_name}" and "a photo of a {object_name}"; `score` is the softmax probability of
the first (in [0, 1]) and `result` is `score > 0.5`. This is CLIPModel's own logit
(cosine of the projected embeddings times its learned scale), computed in parts: a batch
encodes each distinct crop once (a task asks two properties of each car: CLIP's forward
on the batch encoded every crop twice and every caption of every call), and a caption's
embedding is kept (programs ask the same few properties over and over). A caption is
encoded alone, so its embedding does not depend on what it was batched with.
"""

from __future__ import annotations

from functools import lru_cache
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
CAPTIONS_KEPT = 4096  # embeddings of the most recent captions (a few KiB each)


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
        self.caption = lru_cache(maxsize=CAPTIONS_KEPT)(self._encode_caption)

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(XvlmParams, p) for p in params]
        distinct, which = distinct_images(images)
        pixels = self.pixels(model_inputs(self.function, distinct, self.processor))
        with torch.inference_mode():
            features = self.model.get_image_features(pixel_values=pixels.to(self.device))
            crops = _unit(features.pooler_output)
            scale = self.model.logit_scale.exp()
            results = []
            for call, crop in zip(calls, which.tolist(), strict=True):
                pair = torch.stack([self.caption(c) for c in captions(call)])
                probs = (scale * (pair @ crops[crop])).float().softmax(-1)
                score = rounded(probs[0].item())
                results.append(XvlmResult(result=score > DECISION, score=score))
        return results

    def _encode_caption(self, caption: str) -> torch.Tensor:
        """One caption's unit embedding, encoded alone (no padding)."""
        tokens = self.processor(
            text=[caption], return_tensors="pt", truncation=True, max_length=self.max_text_tokens
        )
        with torch.inference_mode():
            features = self.model.get_text_features(**to_device(tokens, self.device))
        return _unit(features.pooler_output)[0]


def _unit(embeds: torch.Tensor) -> torch.Tensor:
    """Rows scaled to length 1, as CLIPModel.forward normalises its embeddings."""
    return embeds / embeds.norm(p=2, dim=-1, keepdim=True)
