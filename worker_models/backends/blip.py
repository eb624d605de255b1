"""`blip`: visual question answering with BLIP (BlipForQuestionAnswering), greedy decoding.

The batch runs as one vision pass, one question-encoder pass and one `generate`.
Padding must not change an answer, and two things in `transformers` let it:
- `BlipForQuestionAnswering.generate` gives the answer decoder an all-ones mask over the
  question, so this backend runs the same three stages itself and passes the question's
  real attention mask, as the original BLIP code does;
- in transformers 5.x, BLIP's text layers hand the cross-attention mask to their
  attention module under the name `attention_mask`, which then discards it in favour of
  an `encoder_attention_mask` it never receives; `mask_cross_attention` restores it with
  forward pre-hooks on the model instance (a no-op where the mask already arrives).
"""

from __future__ import annotations

from typing import Any, cast

import torch
from PIL import Image

from worker_models.backends.common import (
    distinct_images,
    load_model,
    load_processor,
    model_inputs,
    to_device,
)
from worker_models.backends.pixels import pixel_values
from worker_models.catalogue import BlipParams, BlipResult, Params, Result

MAX_ANSWER_TOKENS = 8  # VQA answers are a few words


def _pass_mask_on(module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Forward pre-hook: give a cross-attention module the mask it was handed."""
    if (
        kwargs.get("encoder_hidden_states") is not None
        and kwargs.get("encoder_attention_mask") is None
    ):
        kwargs["encoder_attention_mask"] = kwargs.get("attention_mask")
    return args, kwargs


def mask_cross_attention(model: torch.nn.Module) -> int:
    """Hook every BLIP text cross-attention of `model`; returns how many were hooked."""
    hooked = 0
    for module in model.modules():
        cross = getattr(module, "crossattention", None)
        inner = getattr(cross, "self", None)
        if isinstance(inner, torch.nn.Module):
            inner.register_forward_pre_hook(_pass_mask_on, with_kwargs=True)
            hooked += 1
    return hooked


class BlipBackend:
    function = "blip"

    def __init__(
        self, checkpoint: str, device: str = "cpu", max_new_tokens: int = MAX_ANSWER_TOKENS
    ) -> None:
        from transformers import BlipForQuestionAnswering

        self.checkpoint = checkpoint
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.model = load_model(BlipForQuestionAnswering, checkpoint, device)
        mask_cross_attention(self.model)
        self.processor = load_processor(checkpoint)
        self.processor.tokenizer.padding_side = "right"  # an encoder: masks make it exact
        self.pixels = pixel_values(self.processor)
        self.max_question_tokens = self.model.config.text_config.max_position_embeddings

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(BlipParams, p) for p in params]
        inputs = self.processor(
            text=[c.question for c in calls],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_question_tokens,
        )
        distinct, which = distinct_images(images)
        inputs["pixel_values"] = self.pixels(model_inputs(self.function, distinct, self.processor))
        with torch.inference_mode():
            tokens = self._generate(to_device(inputs, self.device), which.to(self.device))
        answers = self.processor.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [BlipResult(answer=a.strip()) for a in answers]

    def _generate(self, inputs: dict[str, torch.Tensor], which: torch.Tensor) -> torch.Tensor:
        """`which[i]`: the index of call i's image among `pixel_values` (each image is
        encoded once, however many questions ask about it)."""
        model = self.model
        image_embeds = model.vision_model(pixel_values=inputs["pixel_values"])[0][which]
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=self.device)
        question = model.text_encoder(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            encoder_hidden_states=image_embeds,
            encoder_attention_mask=image_mask,
            return_dict=False,
        )[0]
        text = model.config.text_config
        start = torch.full((question.shape[0], 1), model.decoder_start_token_id, device=self.device)
        return model.text_decoder.generate(
            input_ids=start,
            eos_token_id=text.sep_token_id,
            pad_token_id=text.pad_token_id,
            encoder_hidden_states=question,
            encoder_attention_mask=inputs["attention_mask"],
            max_new_tokens=self.max_new_tokens,
            do_sample=False,
            num_beams=1,
        )
