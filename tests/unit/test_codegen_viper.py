"""ViperGPT's published example programs run unmodified: the sandbox accepts them, they
run on the stand-in runtime (failing only in their own ways: nothing found, an LLM the
catalogue lacks), and `dicec codegen distribute` gives a verified-equivalent program."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codegen.distribute import distribute
from codegen.static import check_program
from codegen.verify import verify
from orchestrator.program.sandbox.programs import compile_program
from orchestrator.program.trial import run_on_standin, write_test_images
from worker_models.registry import catalogue_functions

VIPER = Path(__file__).resolve().parents[1] / "data" / "viper"
PROGRAMS = sorted(VIPER.glob("*.py"))
# Their own failures: nothing found, an empty min(), a text LLM, a name ViperGPT's
# example itself never defines (refcoco_09 reads `objects`).
OWN_ERRORS = ("IndexError", "ValueError: min()", "LLMError", "NameError: name 'objects'")
SEEDS = 3


def test_the_vendored_programs_are_there() -> None:
    assert len(PROGRAMS) >= 40


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_runs_unmodified_and_distributes_equivalently(path: Path, tmp_path: Path) -> None:
    source = path.read_text()
    functions = catalogue_functions()
    assert check_program(source, path.name, functions) == []
    image = write_test_images(tmp_path, ((96, 80),))[0]
    program = compile_program(source, path.name)
    for seed in range(SEEDS):
        outcome = asyncio.run(run_on_standin(program, image, functions, seed))
        assert outcome.error is None or outcome.error.startswith(OWN_ERRORS), outcome.error
    report = verify(source, distribute(source, path.name).source, seeds=SEEDS)
    assert report.equivalent, report.summary()
