"""The compiler on the paper's programs: equivalent, and in the fewest rounds."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from codegen.distribute import distribute
from codegen.explain import explain
from codegen.verify import VerificationReport, verify
from dicec.errors import VerificationError
from orchestrator.program.trial import run_on_standin, write_test_images
from worker_models.registry import catalogue_functions

REFERENCE = Path(
    os.environ.get("DICEC_REFERENCE_PROGRAMS")  # a checkout outside the project folder
    or Path(__file__).resolve().parents[3] / "shared" / "reference-programs"
)


def calls_by_round(source: str, seed: int) -> list[list[str]]:
    """The functions called in each round of one stand-in run (sorted within a round)."""

    async def run() -> list[list[str]]:
        from orchestrator.program.sandbox.programs import compile_program

        with tempfile.TemporaryDirectory() as tmp:
            (image,) = write_test_images(Path(tmp), ((64, 48),))
            outcome = await run_on_standin(
                compile_program(source, "p.py"), image, catalogue_functions(), seed
            )
        rounds: list[list[str]] = [[] for _ in range(outcome.rounds)]
        for call in outcome.calls:
            rounds[call.round - 1].append(call.function)
        return [sorted(r) for r in rounds]

    return asyncio.run(run())


def compile_and_verify(name: str) -> tuple[str, VerificationReport]:
    serial = (REFERENCE / name).read_text()
    distributed = distribute(serial, name).source
    report = verify(serial, distributed)
    assert report.equivalent, report.summary()
    return distributed, report


def test_claims_runs_in_two_rounds_glip_then_every_car_at_once() -> None:
    distributed, report = compile_and_verify("claims_serial.py")
    with_cars = [c for c in report.cases if c.calls_serial > 1 and c.mode != "fail"]
    assert with_cars and {c.rounds_distributed for c in with_cars} == {2}
    # serially: glip, then four calls per car one after the other
    assert all(
        c.rounds_serial == c.calls_serial == 1 + 4 * ((c.calls_serial - 1) // 4) for c in with_cars
    )
    assert max(c.calls_serial for c in with_cars) >= 9  # some runs had two or more cars
    rounds = explain(distributed, catalogue_functions()).rounds
    assert [c.function for c in rounds[0]] == ["glip"]
    cars = (len(rounds[1])) // 4
    assert Counter(c.function for c in rounds[1]) == {"blip": 2 * cars, "xvlm": 2 * cars}


def test_litter_runs_in_the_fewest_rounds_its_dependencies_allow() -> None:
    """find; the depths of all patches together; the closest patch's depth (the serial
    program asks for it once more and its answer decides the branch); both questions
    together. The second depth call must stay (the calls may not change), so it keeps its
    round; an ImagePatch that memoised compute_depth would make that 3 rounds."""
    distributed, report = compile_and_verify("litter_imagepatch_serial.py")
    assert "async def execute_command(image)" in distributed
    shapes = set()
    for seed in range(8):
        rounds = calls_by_round(distributed, seed)
        patches = len(rounds[1]) if len(rounds) > 1 else 0
        expected = [["glip"], ["depth"] * patches, ["depth"], ["blip", "blip"]]
        assert rounds == expected[: len(rounds)] and len(rounds) != 2
        shapes.add(len(rounds))
    assert shapes == {1, 3, 4}  # nothing found / closest too far / both questions asked
    assert report.rounds_serial > report.rounds_distributed == 4


def test_muffins_runs_in_one_round_both_finds_together() -> None:
    distributed, report = compile_and_verify("muffins_imagepatch_serial.py")
    clean = [c for c in report.cases if c.mode != "fail"]  # no injected call failures
    assert {c.rounds_distributed for c in clean} == {1}
    assert {c.rounds_serial for c in clean} == {2}
    assert "asyncio.gather" in distributed


def test_an_already_distributed_program_compiles_to_an_equivalent_program() -> None:
    source = (REFERENCE / "claims_distributed.py").read_text()
    report = verify(source, distribute(source, "claims_distributed.py").source, seeds=4)
    assert report.equivalent, report.summary()


def test_the_papers_litter_rewrite_compiles_to_an_equivalent_program() -> None:
    """litter_hermod_distributed.py calls patch.compute_depth() (blocking form) inside async
    code; the compiler awaits the *_async twin, as the sandbox itself does at run time."""
    source = (REFERENCE / "litter_hermod_distributed.py").read_text()
    compiled = distribute(source, "litter_hermod_distributed.py").source
    assert "compute_depth_async()" in compiled and "compute_depth()" not in compiled
    report = verify(source, compiled, seeds=4)
    assert report.equivalent, report.summary()


def test_the_compiled_examples_verify_against_their_serial_programs() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    compiled = sorted(examples.glob("*_compiled.py"))
    assert len(compiled) >= 3
    for path in compiled:
        serial = path.with_name(path.name.replace("_compiled", "_serial")).read_text()
        report = verify(serial, path.read_text(), seeds=4)
        assert report.equivalent, f"{path.name}: {report.summary()}"


def test_a_wrong_rewrite_raises_verification_error_naming_the_difference() -> None:
    serial = (REFERENCE / "muffins_imagepatch_serial.py").read_text()
    wrong = serial.replace('find("kid")', 'find("child")')
    report = verify(serial, wrong, seeds=2)
    with pytest.raises(VerificationError, match='calls differ.*object_name="kid"'):
        report.raise_if_not_equivalent()
