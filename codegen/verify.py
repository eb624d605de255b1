"""Verification: static checks, then differential execution on the stand-in runtime.

The serial and the distributed program run on the same images with the same seeds; for
each (seed, image) their returned values, printed lines and call multisets must be equal
(when the serial program fails, the distributed one must fail the same way and print the
same lines). Rounds (the longest chain of answers a program waits for) are measured on
each run.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from pydantic import BaseModel, Field

from codegen.static import check_program
from dicec.errors import VerificationError
from orchestrator.program.sandbox.programs import compile_program
from orchestrator.program.trial import (
    DEFAULT_IMAGE_SIZES,
    RunOutcome,
    run_on_standin,
    write_test_images,
)
from worker_models.registry import FunctionInfo, catalogue_functions

DEFAULT_SEEDS = 8
MAX_REASONS = 10


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
