"""ImagePatch: the ViperGPT / DiCE-M program API, over hermod calls.

Coordinates are PIL's (origin top-left), as the reference programs use them:
`patch.crop(x, y, x + w, y + h)` with a detector's box. Each model method has an async
twin (`find_async`, ...) that async programs await; the sync form blocks only the thread
of its own task (sync programs run in a worker thread, see sandbox.run_program).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from PIL import Image

from dicec.errors import LLMError, ProgramError

CallFn = Callable[..., Awaitable[Any]]
RunSync = Callable[[Awaitable[Any]], Any]
LlmFn = Callable[[str], Awaitable[str]]

DEFAULT_QUESTION = "What is this?"  # ViperGPT's simple_query() without a question
# The functions each model method calls (llm_query asks the LLM, no pool).
METHOD_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "find": ("glip",),
    "exists": ("glip",),
    "verify_property": ("xvlm",),
    "simple_query": ("blip",),
    "compute_depth": ("depth",),
    "best_text_match": ("xvlm",),
    "llm_query": (),
}


class ImagePatchBase:
    """A region of an image; subclasses are bound to one runtime by build_image_patch_class."""

    _call: CallFn
    _run_sync: RunSync
    _llm: LlmFn | None = None

    def __init__(
        self,
        image: Image.Image,
        left: float | None = None,
        lower: float | None = None,
        right: float | None = None,
        upper: float | None = None,
    ) -> None:
        if left is None:
            self.image = image
            left, lower, right, upper = 0, 0, image.width, image.height
        else:
            self.image = image.crop((left, lower, right, upper))
        self.left, self.lower, self.right, self.upper = left, lower, right, upper
        self.width = self.image.width
        self.height = self.image.height
        self.horizontal_center = (left + right) / 2
        self.vertical_center = (lower + upper) / 2

    def __repr__(self) -> str:
        return f"ImagePatch({self.left}, {self.lower}, {self.right}, {self.upper})"

    def crop(self, left: float, lower: float, right: float, upper: float) -> ImagePatchBase:
        """A sub-patch; box in this patch's pixel coordinates."""
        return type(self)(self.image, left, lower, right, upper)

    # -- async model methods ------------------------------------------------------------
    async def find_async(self, object_name: str) -> list[ImagePatchBase]:
        boxes = await self._call("glip", image=self.image, object_name=object_name)
        return [self.crop(b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]) for b in boxes]

    async def exists_async(self, object_name: str) -> bool:
        return len(await self.find_async(object_name)) > 0

    async def verify_property_async(self, object_name: str, property: str) -> bool:
        out = await self._call("xvlm", image=self.image, object_name=object_name, property=property)
        return bool(out["result"])

    async def simple_query_async(self, question: str | None = None) -> str:
        question = DEFAULT_QUESTION if question is None else question
        out = await self._call("blip", image=self.image, question=question)
        return out["answer"]

    async def compute_depth_async(self) -> float:
        out = await self._call("depth", image=self.image)
        return float(out["depth"])

    async def best_text_match_async(self, option_list: list[str], prefix: str | None = None) -> str:
        if not option_list:
            raise ValueError("best_text_match needs at least one option")
        scores = []
        for option in option_list:
            text = f"{prefix} {option}" if prefix else option
            out = await self._call("xvlm", image=self.image, object_name=text, property=text)
            scores.append(out["score"])
        return option_list[scores.index(max(scores))]

    async def text_score_async(self, text: str) -> float:
        """How well the patch matches a text (xvlm's score); best_image_match uses it."""
        out = await self._call("xvlm", image=self.image, object_name=text, property=text)
        return float(out["score"])

    async def llm_query_async(self, question: str, long_answer: bool = True) -> str:
        if self._llm is None:
            raise LLMError(
                "llm_query needs an LLM: none is configured for this run "
                "(set DICEC_LLM_BASE_URL and pass --llm to enable it)"
            )
        return await self._llm(question)

    # -- sync forms (ViperGPT style) -----------------------------------------------------
    def find(self, object_name: str) -> list[ImagePatchBase]:
        return self._run_sync(self.find_async(object_name))

    def exists(self, object_name: str) -> bool:
        return self._run_sync(self.exists_async(object_name))

    def verify_property(self, object_name: str, property: str) -> bool:
        return self._run_sync(self.verify_property_async(object_name, property))

    def simple_query(self, question: str | None = None) -> str:
        return self._run_sync(self.simple_query_async(question))

    def compute_depth(self) -> float:
        return self._run_sync(self.compute_depth_async())

    def best_text_match(self, option_list: list[str], prefix: str | None = None) -> str:
        return self._run_sync(self.best_text_match_async(option_list, prefix))

    def llm_query(self, question: str, long_answer: bool = True) -> str:
        return self._run_sync(self.llm_query_async(question, long_answer))

    def text_score(self, text: str) -> float:
        return self._run_sync(self.text_score_async(text))


SYNC_IN_ASYNC = (
    "a synchronous ImagePatch method was called on the event loop (from async "
    "code, a lambda or a callback); await its *_async twin instead"
)


def blocking_runner(loop: asyncio.AbstractEventLoop) -> RunSync:
    """ImagePatch's blocking form for programs running in a worker thread. Called on the
    loop's own thread it would wait forever for itself: that is a clear error instead."""
    loop_thread = threading.get_ident()

    def run_sync(awaitable: Awaitable[Any]) -> Any:
        if threading.get_ident() == loop_thread:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
            raise ProgramError(SYNC_IN_ASYNC)
        return asyncio.run_coroutine_threadsafe(awaitable, loop).result()  # type: ignore[arg-type]

    return run_sync


def build_image_patch_class(
    call: CallFn, run_sync: RunSync, llm: LlmFn | None = None
) -> type[ImagePatchBase]:
    """An ImagePatch class whose model methods go through `call` (hermod.call's signature)."""
    return type(
        "ImagePatch",
        (ImagePatchBase,),
        {
            "_call": staticmethod(call),
            "_run_sync": staticmethod(run_sync),
            "_llm": staticmethod(llm) if llm else None,
        },
    )
