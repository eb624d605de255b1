"""`blip2`: free-text answers with BLIP-2 (vision encoder + Q-Former + OPT), greedy.

OPT is decoder-only, so prompts are padded on the left: generation continues at the
right end of every row, and OPT derives positions from the attention mask, so a padded
prompt generates exactly what it generates alone.
"""

from __future__ import annotations

from typing import cast

import torch
from PIL import Image

from worker_models.backends.common import load_model, load_processor, model_inputs, to_device
from worker_models.catalogue import Blip2Params, Blip2Result, Params, Result

MAX_OUTPUT_TOKENS = 12


class Blip2Backend:
    function = "blip2"

    def __init__(
        self, checkpoint: str, device: str = "cpu", max_new_tokens: int = MAX_OUTPUT_TOKENS
    ) -> None:
        from transformers import Blip2ForConditionalGeneration

        self.checkpoint = checkpoint
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.model = load_model(Blip2ForConditionalGeneration, checkpoint, device)
        self.processor = load_processor(checkpoint)
        self.processor.tokenizer.padding_side = "left"
        # The prompt (query tokens included) and the answer must fit OPT's positions.
        positions = self.model.config.text_config.max_position_embeddings
        self.max_prompt_tokens = positions - max_new_tokens

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(Blip2Params, p) for p in params]
        inputs = self.processor(
            images=model_inputs(self.function, images, self.processor),
            text=[c.query for c in calls],
            return_tensors="pt",
            padding=True,
            truncation=True,
            max_length=self.max_prompt_tokens,
        )
        inputs = to_device(inputs, self.device)
        with torch.inference_mode():
            tokens = self.model.generate(
                **inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1
            )
        prompt_len = inputs["input_ids"].shape[1]
        if tokens.shape[1] > prompt_len and torch.equal(
            tokens[:, :prompt_len], inputs["input_ids"]
        ):
            tokens = tokens[:, prompt_len:]  # decoder-only generate echoes the prompt
        texts = self.processor.tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [Blip2Result(output=t.strip()) for t in texts]
