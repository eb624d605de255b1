"""Every program in tests/hostile/ is refused before running or contained while running.

Each file's header says what it tries and what must happen:
`# expect: static|runtime|jail <ErrorClass>[|<ErrorClass>]: <message fragment>`.
`jail` programs would take an in-process runner down with them (a C stack overflow):
they run only in their own jailed process. The process must survive all of them and
still run a normal program afterwards. tests/unit/test_hostile_jail.py runs the whole
corpus again in the OS jail, once with the language rules and once without them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import dicec.errors as errors
from dicec.settings import Settings
from orchestrator.program.hermod import Hermod
from orchestrator.program.imagepatch import build_image_patch_class
from orchestrator.program.sandbox.programs import Limits, check_source, compile_program, run_program
from tests.support.answers import AnsweringBackend

HOSTILE_DIR = Path(__file__).resolve().parents[1] / "hostile"
HOSTILE_FILES = sorted(HOSTILE_DIR.glob("h*.py"))
EXPECT = re.compile(r"^# expect: (static|runtime|jail) ([\w|]+): (.*)$", re.MULTILINE)
LIMITS = Limits(wall_s=1.0, memory_mb=256, max_output_chars=100_000, max_recursion=100)
# A program whose limit must trip before the deadline may ask for a longer one, so that a
# loaded machine cannot turn its expected error into a timeout.
WALL = re.compile(r"^# wall_s: ([\d.]+)$", re.MULTILINE)
IMAGE_PATH = "scene.jpg"


MAX_CALLS = Settings().program_max_calls


def _expected(path: Path) -> tuple[str, tuple[type[BaseException], ...], str]:
    match = EXPECT.search(path.read_text())
    assert match, f"{path.name} has no '# expect:' header"
    stage, classes, fragment = match.groups()
    types = tuple(getattr(errors, n, None) or __builtins__[n] for n in classes.split("|"))  # type: ignore[index]
    return stage, types, fragment.strip()


def _limits(source: str) -> Limits:
    wall = WALL.search(source)
    return dataclasses.replace(LIMITS, wall_s=float(wall.group(1))) if wall else LIMITS


async def _run(source: str, name: str) -> Any:
    program = compile_program(source, name, _limits(source))
    hermod = Hermod(AnsweringBackend(), max_calls=MAX_CALLS)
    loop = asyncio.get_running_loop()
    patch_class = build_image_patch_class(
        hermod.call, lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result()
    )
    run = await run_program(
        program,
        modules={"hermod": hermod},
        image_path=IMAGE_PATH,
        image=Image.new("RGB", (32, 24), "white"),
        extra_globals={"ImagePatch": patch_class},
    )
    if hermod.over_budget is not None:  # as run_task does: caught or not, the task fails
        raise hermod.over_budget
    return run


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE_FILES) >= 160


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=lambda p: p.stem)
def test_hostile_program_is_refused_or_contained(path: Path) -> None:
    stage, expected_types, fragment = _expected(path)
    source = path.read_text()
    if stage == "static":
        with pytest.raises(errors.SandboxViolation) as caught:
            check_source(source, path.name)
        assert issubclass(errors.SandboxViolation, expected_types)
        assert re.search(r"line \d+", str(caught.value)), str(caught.value)
    elif stage == "jail":
        pytest.skip("runs only in its own process: see test_hostile_jail.py")
    else:
        check_source(source, path.name)  # passes the static rules: the runtime must hold
        with pytest.raises(expected_types) as caught:
            asyncio.run(_run(source, path.name))
    assert fragment in str(caught.value), f"{path.name}: {caught.value!r}"


def test_normal_program_runs_after_the_hostile_corpus() -> None:
    source = """
import asyncio
import hermod
from PIL import Image


async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    answers = await asyncio.gather(*[hermod.call("blip", image=image, question="color?")
                                     for _ in boxes])
    print(f"{len(boxes)} car(s)")
    return {"size": image.size, "colors": [a["answer"] for a in answers]}


asyncio.run(execute_query("x.jpg"))
"""
    run = asyncio.run(_run(source, "normal.py"))
    assert run.value == {"size": [32, 24], "colors": ["red"]}
    assert run.printed == ["1 car(s)"]
