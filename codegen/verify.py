"""Verification: static checks, then differential execution on the stand-in runtime.

The serial and the distributed program run on the same images with the same seeds; for
each (seed, image) their returned values, printed lines and call multisets must be equal
(when the serial program fails, the distributed one must fail the same way and print the
same lines). Rounds (the longest chain of answers a program waits for) are measured on
each run.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image
from pydantic import BaseModel, Field

from codegen.standin import RecordedCall, StandIn, image_identity
from codegen.static import check_program
from dicec.errors import VerificationError
from orchestrator.imagepatch import blocking_runner, build_image_patch_class
from orchestrator.sandbox import CompiledProgram, Limits, compile_program, run_program
from worker_models.registry import FunctionInfo, catalogue_functions

DEFAULT_SEEDS = 8
DEFAULT_IMAGE_SIZES = ((64, 48), (96, 80))
MAX_REASONS = 10
# Stand-in answers are instant: a run that takes longer than this is stuck.
RUN_WALL_S = 20.0


class CaseReport(BaseModel):
    seed: int
    image: str
    equal: bool
    rounds_serial: int
    rounds_distributed: int
    calls_serial: int
    calls_distributed: int
    serial_error: str | None = None
    reason: str | None = None


class VerificationReport(BaseModel):
    """The verdict on one (serial, distributed) pair."""

    equivalent: bool
    reasons: list[str] = Field(default_factory=list)
    cases: list[CaseReport] = Field(default_factory=list)

    @property
    def rounds_serial(self) -> int:
        return max((c.rounds_serial for c in self.cases), default=0)

    @property
    def rounds_distributed(self) -> int:
        return max((c.rounds_distributed for c in self.cases), default=0)

    def summary(self) -> str:
        verdict = "EQUIVALENT" if self.equivalent else "NOT EQUIVALENT"
        lines = [
            f"{verdict}: {len(self.cases)} stand-in runs; rounds serial "
            f"{self.rounds_serial} -> distributed {self.rounds_distributed} (max)"
        ]
        lines += [
            f"  seed {c.seed} {c.image}: rounds {c.rounds_serial} -> "
            f"{c.rounds_distributed}, calls {c.calls_serial}"
            + (f", both fail: {c.serial_error}" if c.serial_error else "")
            + ("" if c.equal else f"  DIFFERS: {c.reason}")
            for c in self.cases
        ]
        lines += [f"  reason: {r}" for r in self.reasons]
        return "\n".join(lines)

    def raise_if_not_equivalent(self) -> None:
        if not self.equivalent:
            raise VerificationError(
                "distributed program is not equivalent: " + "; ".join(self.reasons[:MAX_REASONS])
            )


@dataclass
class RunOutcome:
    value: str
    printed: list[str]
    calls: list[RecordedCall] = field(default_factory=list)
    rounds: int = 0
    error: str | None = None

    def call_counts(self) -> Counter[Any]:
        return Counter(c.key for c in self.calls)


def verify(
    serial: str,
    distributed: str,
    *,
    functions: list[FunctionInfo] | None = None,
    seeds: int = DEFAULT_SEEDS,
    image_sizes: tuple[tuple[int, int], ...] = DEFAULT_IMAGE_SIZES,
) -> VerificationReport:
    """Verify from synchronous code (runs its own event loop)."""
    return asyncio.run(
        verify_async(serial, distributed, functions=functions, seeds=seeds, image_sizes=image_sizes)
    )


async def verify_async(
    serial: str,
    distributed: str,
    *,
    functions: list[FunctionInfo] | None = None,
    seeds: int = DEFAULT_SEEDS,
    image_sizes: tuple[tuple[int, int], ...] = DEFAULT_IMAGE_SIZES,
) -> VerificationReport:
    functions = functions if functions is not None else catalogue_functions()
    reasons = [f"serial: {p}" for p in check_program(serial, "serial.py", functions)]
    reasons += [
        f"distributed: {p}" for p in check_program(distributed, "distributed.py", functions)
    ]
    if reasons:
        return VerificationReport(equivalent=False, reasons=reasons)
    programs = (
        compile_program(serial, "serial.py"),
        compile_program(distributed, "distributed.py"),
    )
    cases: list[CaseReport] = []
    with tempfile.TemporaryDirectory(prefix="dicec-verify-") as tmp:
        for path in write_test_images(Path(tmp), image_sizes):
            for seed in range(seeds):
                one = await run_on_standin(programs[0], path, functions, seed)
                two = await run_on_standin(programs[1], path, functions, seed)
                cases.append(compare(seed, path.name, one, two))
    reasons = [f"seed {c.seed} {c.image}: {c.reason}" for c in cases if not c.equal]
    return VerificationReport(equivalent=not reasons, reasons=reasons[:MAX_REASONS], cases=cases)


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
    program: CompiledProgram, image_path: Path, functions: list[FunctionInfo], seed: int
) -> RunOutcome:
    """Run a compiled program in the sandbox, its hermod and ImagePatch on the stand-in."""
    standin = StandIn(functions, seed)
    patch_class = build_image_patch_class(standin.call, blocking_runner(asyncio.get_running_loop()))
    with Image.open(image_path) as opened:
        image = opened.convert("RGB")
    extra = {"ImagePatch": patch_class}
    limits = Limits(wall_s=RUN_WALL_S)
    try:  # only the program's run: a failure of ours must not pass for the program's
        run = await run_program(
            program,
            modules={"hermod": standin},
            image_path=str(image_path),
            image=image,
            extra_globals=extra,
            limits=limits,
        )
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - the program's own failure is an outcome
        printed = list(getattr(exc, "printed", []) or [])
        return RunOutcome(
            "", printed, standin.calls, standin.rounds, f"{type(exc).__name__}: {exc}"
        )
    return RunOutcome(canonical(run.value), list(run.printed), standin.calls, standin.rounds)


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


def compare(seed: int, image: str, serial: RunOutcome, distributed: RunOutcome) -> CaseReport:
    reason = _difference(serial, distributed)
    return CaseReport(
        seed=seed,
        image=image,
        equal=reason is None,
        rounds_serial=serial.rounds,
        rounds_distributed=distributed.rounds,
        calls_serial=len(serial.calls),
        calls_distributed=len(distributed.calls),
        serial_error=serial.error,
        reason=reason,
    )


def _difference(serial: RunOutcome, distributed: RunOutcome) -> str | None:
    if serial.error != distributed.error:
        return f"serial {serial.error or 'succeeds'}, distributed {distributed.error or 'succeeds'}"
    if serial.printed != distributed.printed:
        return f"printed lines differ: {_first_diff(serial.printed, distributed.printed)}"
    if serial.value != distributed.value:
        return f"returned values differ: {serial.value[:200]} vs {distributed.value[:200]}"
    if serial.error is None and serial.call_counts() != distributed.call_counts():
        return _call_difference(serial, distributed)
    return None


def _first_diff(one: list[str], two: list[str]) -> str:
    for i, (a, b) in enumerate(zip(one, two, strict=False)):
        if a != b:
            return f"line {i + 1}: {a!r} vs {b!r}"
    return f"{len(one)} lines vs {len(two)} lines"


def _call_difference(serial: RunOutcome, distributed: RunOutcome) -> str:
    one, two = serial.call_counts(), distributed.call_counts()
    missing, extra = one - two, two - one
    describe = {c.key: c.describe() for c in serial.calls + distributed.calls}
    parts = []
    if missing:
        parts.append("not made by distributed: " + "; ".join(describe[k] for k in missing))
    if extra:
        parts.append("only made by distributed: " + "; ".join(describe[k] for k in extra))
    return "calls differ: " + " | ".join(parts)
