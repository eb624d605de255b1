"""The verifier can fail: deliberately wrong distributed versions of each reference
program are rejected, each with the reason the verifier gives (printed; `pytest -s`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codegen.distribute import distribute
from codegen.mutants import MUTATIONS, mutants
from codegen.verify import verify

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(
    os.environ.get("DICEC_REFERENCE_PROGRAMS") or ROOT.parent / "shared" / "reference-programs"
)
PROGRAMS = [
    ROOT / "examples" / "claims_serial.py",
    ROOT / "examples" / "litter_imagepatch_serial.py",
    ROOT / "examples" / "muffins_imagepatch_serial.py",
    ROOT / "examples" / "noop_fanout.py",
    ROOT / "tests" / "data" / "codegen" / "people_index_then_query.py",  # issue 15's program
]
SEEDS = 12  # four failing runs per image: each function the program calls fails in turn


def observable(kind: str, serial_errors: set[str], prints: bool) -> bool:
    """Whether the serial program can show the difference this mutation makes."""
    if kind == "swallowed IndexError":
        return "IndexError" in serial_errors
    if kind == "reordered print":
        return prints
    return True


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_every_wrong_version_is_rejected(path: Path) -> None:
    serial = path.read_text()
    distributed = distribute(serial, path.name).source
    assert verify(serial, distributed, seeds=SEEDS).equivalent
    checked = 0
    for kind, mutant in mutants(distributed).items():
        if mutant is None:
            print(f"{path.name}: {kind}: not applicable (nothing to mutate)")
            continue
        report = verify(serial, mutant, seeds=SEEDS)
        errors = {c.serial_error.split(":")[0] for c in report.cases if c.serial_error}
        if report.equivalent:
            assert not observable(kind, errors, "print(" in serial), f"{kind} accepted"
            print(f"{path.name}: {kind}: not observable (the serial program never shows it)")
            continue
        checked += 1
        print(f"{path.name}: {kind}: REJECTED: {report.reasons[0]}")
    assert checked >= len(MUTATIONS) - 2


def test_the_issue_program_exercises_every_mutation() -> None:
    path = PROGRAMS[-1]
    serial = path.read_text()
    distributed = distribute(serial, path.name).source
    rejected = [
        kind
        for kind, mutant in mutants(distributed).items()
        if mutant is not None and not verify(serial, mutant, seeds=SEEDS).equivalent
    ]
    assert set(rejected) == set(MUTATIONS) - {"reordered print"}  # it prints nothing
