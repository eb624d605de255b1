"""`--explain`: which calls run together, round by round, on a stand-in run.

The program runs on the stand-in runtime for a few seeds; the run with the most calls is
shown (the one that exercises the most of the program), its calls grouped by round.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from orchestrator.program.sandbox.programs import compile_program
from orchestrator.program.standin import RecordedCall
from orchestrator.program.trial import (
    DEFAULT_IMAGE_SIZES,
    RunOutcome,
    run_on_standin,
    write_test_images,
)
from worker_models.registry import FunctionInfo

EXPLAIN_SEEDS = 8


@dataclass
class Explanation:
    seed: int
    image: str
    rounds: list[list[RecordedCall]]
    error: str | None

    def render(self, title: str) -> str:
        calls = sum(len(r) for r in self.rounds)
        lines = [
            f"{title}: {len(self.rounds)} round(s), {calls} call(s) "
            f"(stand-in run: seed {self.seed}, {self.image})"
        ]
        names = _image_names(self.rounds)
        for number, calls_in_round in enumerate(self.rounds, start=1):
            together = "" if len(calls_in_round) == 1 else f", {len(calls_in_round)} together"
            lines.append(f"  round {number}{together}:")
            counts = Counter(_describe(c, names) for c in calls_in_round)
            lines += [f"    {text}" + (f"  x{n}" if n > 1 else "") for text, n in counts.items()]
        if self.error:
            lines.append(f"  (the run ended with {self.error})")
        return "\n".join(lines)


def _image_names(rounds: list[list[RecordedCall]]) -> dict[str, str]:
    """Images by role: the first one seen is the task's image, the others crops."""
    names: dict[str, str] = {}
    for call in (c for r in rounds for c in r):
        for _, value in call.args:
            if value.startswith("<") and value not in names:
                names[value] = "image" if not names else f"crop{len(names)}"
    return names


def _describe(call: RecordedCall, names: dict[str, str]) -> str:
    parts = ", ".join(f"{k}={names.get(v, v)}" for k, v in call.args)
    return f"{call.function}({parts})"


def explain(source: str, functions: list[FunctionInfo], seeds: int = EXPLAIN_SEEDS) -> Explanation:
    return asyncio.run(_explain(source, functions, seeds))


async def _explain(source: str, functions: list[FunctionInfo], seeds: int) -> Explanation:
    program = compile_program(source, "program.py")
    best: tuple[int, str, RunOutcome] | None = None
    with tempfile.TemporaryDirectory(prefix="dicec-explain-") as tmp:
        for path in write_test_images(Path(tmp), DEFAULT_IMAGE_SIZES[-1:]):
            for seed in range(seeds):
                outcome = await run_on_standin(program, path, functions, seed)
                if best is None or len(outcome.calls) > len(best[2].calls):
                    best = (seed, path.name, outcome)
    assert best is not None
    seed, image, outcome = best
    rounds: list[list[RecordedCall]] = [[] for _ in range(outcome.rounds)]
    for call in outcome.calls:
        rounds[call.round - 1].append(call)
    return Explanation(seed, image, rounds, outcome.error)
