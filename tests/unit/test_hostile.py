"""Every program in tests/hostile/ is refused before running or contained while running.

Each file's header says what it tries and what must happen:
`# expect: static|runtime <ErrorClass>[|<ErrorClass>]: <message fragment>`.
The process must survive all of them and still run a normal program afterwards.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import dicec.errors as errors
from orchestrator.program.imagepatch import build_image_patch_class
from orchestrator.program.sandbox.programs import Limits, check_source, compile_program, run_program

HOSTILE_DIR = Path(__file__).resolve().parents[1] / "hostile"
HOSTILE_FILES = sorted(HOSTILE_DIR.glob("h*.py"))
EXPECT = re.compile(r"^# expect: (static|runtime) ([\w|]+): (.+)$", re.MULTILINE)
LIMITS = Limits(wall_s=1.0, memory_mb=256, max_output_chars=100_000, max_recursion=100)
IMAGE_PATH = "scene.jpg"


class TinyHermod:
    """A real stand-in for the hermod module: fixed, well-formed answers, no network."""

    async def call(self, name: str, **kwargs: Any) -> Any:
        answers: dict[str, Any] = {
            "glip": [{"x": 1, "y": 1, "width": 4, "height": 4}],
            "blip": {"answer": "red"},
            "xvlm": {"result": True, "score": 0.5},
            "depth": {"depth": 2.0},
        }
        return answers.get(name, {})


def _expected(path: Path) -> tuple[str, tuple[type[BaseException], ...], str]:
    match = EXPECT.search(path.read_text())
    assert match, f"{path.name} has no '# expect:' header"
    stage, classes, fragment = match.groups()
    types = tuple(getattr(errors, n, None) or __builtins__[n] for n in classes.split("|"))  # type: ignore[index]
    return stage, types, fragment.strip()


async def _run(source: str, name: str) -> Any:
    program = compile_program(source, name, LIMITS)
    hermod = TinyHermod()
    loop = asyncio.get_running_loop()
    patch_class = build_image_patch_class(
        hermod.call, lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result()
    )
    return await run_program(
        program,
        modules={"hermod": hermod},
        image_path=IMAGE_PATH,
        image=Image.new("RGB", (32, 24), "white"),
        extra_globals={"ImagePatch": patch_class},
    )


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE_FILES) >= 30


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=lambda p: p.stem)
def test_hostile_program_is_refused_or_contained(path: Path) -> None:
    stage, expected_types, fragment = _expected(path)
    source = path.read_text()
    if stage == "static":
        with pytest.raises(errors.SandboxViolation) as caught:
            check_source(source, path.name)
        assert issubclass(errors.SandboxViolation, expected_types)
        assert re.search(r"line \d+", str(caught.value)), str(caught.value)
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
