"""The free functions ViperGPT's programs call besides the ImagePatch methods.

`bool_to_yesno`, `distance` and `coerce_to_numeric` compute; `best_image_match` asks the
catalogue's image-text matcher (xvlm) for a score per patch; `llm_query` and
`process_guesses` need a text language model, which the catalogue does not have: they
raise a clear LLMError instead of answering something made up.
"""

from __future__ import annotations

import asyncio
import math
import re
import typing
from typing import Any

from dicec.errors import LLMError
from orchestrator.program.imagepatch import ImagePatchBase

NO_LANGUAGE_MODEL = (
    "{name} needs a text language model, and the function catalogue has none "
    "(its language-capable functions answer questions about an image: use "
    "ImagePatch.simple_query)"
)


def bool_to_yesno(bool_answer: bool) -> str:
    return "yes" if bool_answer else "no"


def distance(patch_a: Any, patch_b: Any) -> float:
    """Distance between the edges of two patches (minus their IoU if they overlap), or
    between two numbers."""
    if isinstance(patch_a, ImagePatchBase) and isinstance(patch_b, ImagePatchBase):
        dx = max(0.0, patch_a.left - patch_b.right, patch_b.left - patch_a.right)
        dy = max(0.0, patch_a.lower - patch_b.upper, patch_b.lower - patch_a.upper)
        gap = math.hypot(dx, dy)
        return gap if gap > 0 else -_iou(patch_a, patch_b)
    return abs(patch_a - patch_b)


def _iou(a: ImagePatchBase, b: ImagePatchBase) -> float:
    width = max(0.0, min(a.right, b.right) - max(a.left, b.left))
    height = max(0.0, min(a.upper, b.upper) - max(a.lower, b.lower))
    inter = width * height
    union = (a.right - a.left) * (a.upper - a.lower) + (b.right - b.left) * (b.upper - b.lower)
    return inter / (union - inter) if union - inter > 0 else 0.0


def coerce_to_numeric(string: str, no_string: bool = False) -> float | int | str:
    """The first number in the text ("10-15" -> 10); the text itself if it has none."""
    match = re.search(r"-?\d+(\.\d+)?", str(string))
    if match is None:
        return 0 if no_string else string
    text = match.group(0)
    return float(text) if "." in text else int(text)


def best_image_match(
    list_patches: list[ImagePatchBase], content: list[str], return_index: bool = False
) -> ImagePatchBase | int | None:
    """The patch most likely to show the content (mean image-text score over `content`)."""
    if not list_patches:
        return None
    return list_patches[0]._run_sync(best_image_match_async(list_patches, content, return_index))


async def best_image_match_async(
    list_patches: list[ImagePatchBase], content: list[str], return_index: bool = False
) -> ImagePatchBase | int | None:
    """best_image_match for async programs: every score asked at once."""
    if not list_patches:
        return None
    asks = [patch.text_score_async(text) for patch in list_patches for text in content]
    flat = await asyncio.gather(*asks)
    per = max(len(content), 1)
    scores = [sum(flat[i * per : (i + 1) * per]) / per for i in range(len(list_patches))]
    best = scores.index(max(scores))
    return best if return_index else list_patches[best]


def llm_query(query: str, context: Any = None, long_answer: bool = True) -> str:
    raise LLMError(NO_LANGUAGE_MODEL.format(name="llm_query"))


def process_guesses(prompt: str, guess1: Any = None, guess2: Any = None) -> str:
    raise LLMError(NO_LANGUAGE_MODEL.format(name="process_guesses"))


# ViperGPT's programs annotate with these (`-> List[ImagePatch]`) without importing them.
TYPING_NAMES = {
    name: getattr(typing, name) for name in ("List", "Dict", "Tuple", "Union", "Optional")
}

PROGRAM_GLOBALS = {
    **TYPING_NAMES,
    **{
        f.__name__: f
        for f in (
            bool_to_yesno,
            distance,
            coerce_to_numeric,
            best_image_match,
            best_image_match_async,
            llm_query,
            process_guesses,
        )
    },
}
