"""Trial runs: a program in the sandbox with the stand-in runtime behind hermod.

Verification (codegen) compares trial runs of two programs; the planner (call mixes)
reads which calls a program makes. Both stand on this module, not on each other.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from orchestrator.program.execute import run_on_image
from orchestrator.program.sandbox.programs import CompiledProgram, Limits
from orchestrator.program.standin import NORMAL, RecordedCall, StandIn, image_identity
from worker_models.registry import FunctionInfo

DEFAULT_IMAGE_SIZES = ((64, 48), (96, 80))
# Stand-in answers are instant: a run that takes longer than this is stuck.
RUN_WALL_S = 20.0


@dataclass
class RunOutcome:
    value: str
    printed: list[str]
    calls: list[RecordedCall] = field(default_factory=list)
    rounds: int = 0
    error: str | None = None
    failed_calls: int = 0  # calls that failed by injection

    def call_counts(self) -> Counter[Any]:
        return Counter(c.key for c in self.calls)


def write_test_images(folder: Path, sizes: tuple[tuple[int, int], ...]) -> list[Path]:
    """Small deterministic noise images (PNG), one per size."""
    paths = []
    for index, (width, height) in enumerate(sizes):
        rng = random.Random(index)
        image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
        path = folder / f"image{index}_{width}x{height}.png"
        image.save(path)
        paths.append(path)
    return paths


async def run_on_standin(
    program: CompiledProgram,
    image_path: Path,
    functions: list[FunctionInfo],
    seed: int,
    faults: str = NORMAL,
    target: str | None = None,
) -> RunOutcome:
    """Run a compiled program in the sandbox, its hermod and ImagePatch on the stand-in
    (`faults`: also inject call failures or empty results, see standin.py)."""
    standin = StandIn(functions, seed, faults, target)
    with Image.open(image_path) as opened:
        image = opened.convert("RGB")
    try:  # only the program's run: a failure of ours must not pass for the program's
        run = await run_on_image(program, standin, image_path, image, Limits(wall_s=RUN_WALL_S))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the program's own failure is an outcome
        printed = list(getattr(exc, "printed", []) or [])
        error = f"{type(exc).__name__}: {exc}"
        return RunOutcome("", printed, standin.calls, standin.rounds, error, standin.failed)
    return RunOutcome(
        canonical(run.value), list(run.printed), standin.calls, standin.rounds, None, standin.failed
    )


def canonical(value: Any) -> str:
    """A comparable text form of a returned value (images by identity)."""
    identity = image_identity(value)
    if identity is not None:
        return identity
    if isinstance(value, dict):
        items = sorted((canonical(k), canonical(v)) for k, v in value.items())
        return "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        inner = ", ".join(canonical(v) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(canonical(v) for v in value)) + "}"
    return repr(value)
