"""A program run with its calls behind one `hermod`: the wiring every runner shares.

The same `hermod` object is the program's `import hermod` and the backend of its
ImagePatch model methods: the Celery dispatcher's Hermod in a batch, local models in a
baseline node, the stand-in runtime in verification.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol

from PIL import Image

from orchestrator.program.imagepatch import blocking_runner, build_image_patch_class
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, PreparedRun, ProgramRun
from orchestrator.program.viper import PROGRAM_GLOBALS


class CallsModule(Protocol):
    """What a program's `import hermod` is: an object with `await call(name, **kwargs)`."""

    call: Callable[..., Awaitable[Any]]


def prepare_on_image(
    program: CompiledProgram,
    hermod: CallsModule,
    loop: asyncio.AbstractEventLoop,
    limits: Limits | None = None,
) -> PreparedRun:
    """A run of `program` whose hermod and ImagePatch go through `hermod.call` (ImagePatch's
    blocking form, for serial programs in a worker thread, waits on `loop`)."""
    image_patch = build_image_patch_class(hermod.call, blocking_runner(loop))
    return program.prepare(
        modules={"hermod": hermod},
        extra_globals={**PROGRAM_GLOBALS, "ImagePatch": image_patch},
        limits=limits,
    )


async def run_on_image(
    program: CompiledProgram,
    hermod: CallsModule,
    image_path: Path | str,
    image: Image.Image,
    limits: Limits | None = None,
    executor: Executor | None = None,
) -> ProgramRun:
    """Run a compiled program on one image, its hermod and ImagePatch on `hermod.call`."""
    prepared = prepare_on_image(program, hermod, asyncio.get_running_loop(), limits)
    prepared.start(str(image_path), image)
    return await prepared.run(executor)
