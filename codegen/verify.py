"""Verification: static checks, then differential execution on the stand-in runtime.

The serial and the distributed program run on the same images with the same seeds; the
seeds take turns at normal results, empty results (no boxes, empty answers) and injected
call failures (stand-in runtime). For each run, always: the same printed lines, returned
value, and exception (type and message). Calls: on a run without injected failures the
call multisets are equal (whether or not the program raised); under injected failures the
distributed calls include the serial ones and are made by the serial run either under the
failures or on the same run without them (no call the serial program would never make).
Rounds (the longest chain of answers a program waits for) are measured on each run.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from codegen.static import check_program
from dicec.errors import VerificationError
from orchestrator.program.sandbox.programs import compile_program
from orchestrator.program.standin import FAIL, FAULT_MODES, NORMAL
from orchestrator.program.trial import (
    DEFAULT_IMAGE_SIZES,
    RunOutcome,
    run_on_standin,
    write_test_images,
)
from worker_models.registry import FunctionInfo, catalogue_functions

DEFAULT_SEEDS = 8
MAX_REASONS = 10


def fault_mode(seed: int) -> str:
    """Seeds take turns: normal, empty results, injected failures."""
    return FAULT_MODES[seed % len(FAULT_MODES)]


class CaseReport(BaseModel):
    seed: int
    image: str
    mode: str = NORMAL
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
            f"  seed {c.seed} {c.mode} {c.image}: rounds {c.rounds_serial} -> "
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
    called: set[str] = set()  # functions the serial program has called so far
    with tempfile.TemporaryDirectory(prefix="dicec-verify-") as tmp:
        for path in write_test_images(Path(tmp), image_sizes):
            for seed in range(seeds):
                mode = fault_mode(seed)
                target = _target(seed, cases, called)
                one = await run_on_standin(programs[0], path, functions, seed, mode, target)
                two = await run_on_standin(programs[1], path, functions, seed, mode, target)
                called |= {c.function for c in one.calls}
                clean = None
                if mode == FAIL and one.failed_calls:
                    clean = await run_on_standin(programs[0], path, functions, seed)
                cases.append(compare(seed, path.name, one, two, mode, clean))
    reasons = [f"seed {c.seed} {c.mode} {c.image}: {c.reason}" for c in cases if not c.equal]
    return VerificationReport(equivalent=not reasons, reasons=reasons[:MAX_REASONS], cases=cases)


def _target(seed: int, cases: list[CaseReport], called: set[str]) -> str | None:
    """The function whose calls fail in a failing run: by turns over those called."""
    if fault_mode(seed) != FAIL or not called:
        return None
    names = sorted(called)
    return names[(seed // len(FAULT_MODES) + len(cases)) % len(names)]


def compare(
    seed: int,
    image: str,
    serial: RunOutcome,
    distributed: RunOutcome,
    mode: str = NORMAL,
    clean: RunOutcome | None = None,
) -> CaseReport:
    """`clean`: the serial program on the same run without the injected failures."""
    reason = _difference(serial, distributed, clean)
    return CaseReport(
        seed=seed,
        image=image,
        mode=mode,
        equal=reason is None,
        rounds_serial=serial.rounds,
        rounds_distributed=distributed.rounds,
        calls_serial=len(serial.calls),
        calls_distributed=len(distributed.calls),
        serial_error=serial.error,
        reason=reason,
    )


def _difference(
    serial: RunOutcome, distributed: RunOutcome, clean: RunOutcome | None
) -> str | None:
    if serial.error != distributed.error:
        return f"serial {serial.error or 'succeeds'}, distributed {distributed.error or 'succeeds'}"
    if serial.printed != distributed.printed:
        return f"printed lines differ: {_first_diff(serial.printed, distributed.printed)}"
    if serial.value != distributed.value:
        return f"returned values differ: {serial.value[:200]} vs {distributed.value[:200]}"
    one, two = serial.call_counts(), distributed.call_counts()
    if clean is None:
        return None if one == two else _call_difference(serial, distributed, one - two, two - one)
    allowed = one | clean.call_counts()  # made under the failures, or without them
    missing, extra = one - two, two - allowed
    if missing or extra:
        return _call_difference(serial, distributed, missing, extra, clean)
    return None


def _first_diff(one: list[str], two: list[str]) -> str:
    for i, (a, b) in enumerate(zip(one, two, strict=False)):
        if a != b:
            return f"line {i + 1}: {a!r} vs {b!r}"
    return f"{len(one)} lines vs {len(two)} lines"


def _call_difference(
    serial: RunOutcome,
    distributed: RunOutcome,
    missing: Counter[Any],
    extra: Counter[Any],
    clean: RunOutcome | None = None,
) -> str:
    calls = serial.calls + distributed.calls + (clean.calls if clean else [])
    describe = {c.key: c.describe() for c in calls}
    parts = []
    if missing:
        parts.append("not made by distributed: " + "; ".join(describe[k] for k in missing))
    if extra:
        never = " (never made by serial)" if clean is not None else ""
        parts.append(f"only made by distributed{never}: " + "; ".join(describe[k] for k in extra))
    return "calls differ: " + " | ".join(parts)
