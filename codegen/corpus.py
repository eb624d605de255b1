"""A corpus of serial programs, each with the fewest rounds it can run in: compile each,
verify it, and compare its rounds with that minimum (bench/codegen_corpus.py, CI).

A program file declares `# shape: <what it exercises>` and `# minimal-rounds: N`: the
longest chain of dependent calls over the verifier's stand-in runs, making no call the
serial program would not make on a failure-free run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from codegen.distribute import distribute
from codegen.verify import verify
from dicec.errors import ProgramError
from worker_models.registry import FunctionInfo

HEADER = re.compile(r"^# (shape|minimal-rounds): (.+)$", re.MULTILINE)
CORPUS_SEEDS = 6
HOLD_BACK_WORDS = ("kept serial", "held back", "not unrolled")


@dataclass
class CorpusResult:
    name: str
    shape: str
    minimal: int
    equivalent: bool
    rounds_serial: int
    rounds_distributed: int
    reason: str | None = None  # why not equivalent
    notes: list[str] = field(default_factory=list)  # what held calls back

    @property
    def at_minimum(self) -> bool:
        return self.equivalent and self.rounds_distributed == self.minimal


def corpus_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.py"))


def declared(source: str, name: str) -> tuple[str, int]:
    found = dict(HEADER.findall(source))
    if "minimal-rounds" not in found:
        raise ProgramError(f"{name}: no '# minimal-rounds: N' header")
    return found.get("shape", "?"), int(found["minimal-rounds"])


def check(
    path: Path, functions: list[FunctionInfo] | None = None, seeds: int = CORPUS_SEEDS
) -> CorpusResult:
    source = path.read_text()
    shape, minimal = declared(source, path.name)
    compiled = distribute(source, path.name, functions)
    report = verify(source, compiled.source, functions=functions, seeds=seeds)
    held = [n for n in compiled.notes if any(w in n for w in HOLD_BACK_WORDS)]
    return CorpusResult(
        name=path.stem,
        shape=shape,
        minimal=minimal,
        equivalent=report.equivalent,
        rounds_serial=report.rounds_serial,
        rounds_distributed=report.rounds_distributed,
        reason=report.reasons[0] if report.reasons else None,
        notes=held,
    )
