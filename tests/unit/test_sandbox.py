"""The program sandbox: static checks, transforms, per-task runs, results and errors."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from dicec.errors import (
    ProgramError,
    ProgramResourceError,
    ProgramTimeoutError,
    SandboxViolation,
)
from orchestrator.program.imagepatch import build_image_patch_class
from orchestrator.program.sandbox.programs import (
    ALLOWED_IMPORTS,
    ENTRY_POINTS,
    CompiledProgram,
    Limits,
    ProgramRun,
    check_source,
    compile_program,
    describe_error,
    run_program,
)

REFERENCE_DIR = Path("/work/shared/reference-programs")
REFERENCE_PROGRAMS = sorted(REFERENCE_DIR.glob("*.py"))
IMAGE_PATH = "scene.jpg"
FAST = Limits(wall_s=5.0, memory_mb=256, max_output_chars=10_000, max_recursion=50)


class TinyHermod:
    """A stand-in `hermod` module: fixed well-formed answers; counts calls."""

    def __init__(self, cars: int = 2) -> None:
        self.cars = cars
        self.calls: list[str] = []

    async def call(self, name: str, **kwargs: Any) -> Any:
        self.calls.append(name)
        await asyncio.sleep(0)
        boxes = [{"x": 2 * i, "y": 1, "width": 4, "height": 3} for i in range(self.cars)]
        return {
            "glip": boxes,
            "blip": {"answer": "red"},
            "xvlm": {"result": True, "score": 0.5},
            "yolov8": {"objects": [{**b, "class": "bottle", "score": 0.9} for b in boxes]},
            "blip2": {"output": "plastic"},
            "depth": {"depth": 2.5},
        }[name]


def _image() -> Image.Image:
    return Image.new("RGB", (32, 24), (10, 20, 30))


def _no_sync(awaitable: Awaitable[Any]) -> Any:
    raise AssertionError("a model method was called synchronously on the event loop")


async def _run(
    source: str | CompiledProgram,
    *,
    hermod: TinyHermod | None = None,
    run_sync: Callable[[Awaitable[Any]], Any] | None = None,
    limits: Limits | None = None,
    image: Image.Image | None = None,
    executor: Any = None,
) -> ProgramRun:
    program = (
        source
        if isinstance(source, CompiledProgram)
        else compile_program(source, "test_program.py", FAST)
    )
    hermod = hermod or TinyHermod()
    loop = asyncio.get_running_loop()

    def threadsafe(awaitable: Awaitable[Any]) -> Any:
        assert threading.get_ident() != loop_thread, "sync ImagePatch call on the loop thread"
        return asyncio.run_coroutine_threadsafe(awaitable, loop).result()  # type: ignore[arg-type]

    loop_thread = threading.get_ident()
    patch_class = build_image_patch_class(hermod.call, run_sync or threadsafe)
    return await run_program(
        program,
        modules={"hermod": hermod},
        image_path=IMAGE_PATH,
        image=image or _image(),
        extra_globals={"ImagePatch": patch_class},
        limits=limits,
        executor=executor,
    )


def run(source: str | CompiledProgram, **kwargs: Any) -> ProgramRun:
    return asyncio.run(_run(source, **kwargs))


# -- static checks ---------------------------------------------------------------------------
def test_constants() -> None:
    assert ENTRY_POINTS == ("execute_query", "execute_command")
    assert {"asyncio", "hermod", "PIL", "math", "json", "re"} <= ALLOWED_IMPORTS
    assert not {"os", "sys", "numpy", "subprocess", "importlib", "builtins"} & ALLOWED_IMPORTS


def test_syntax_error_has_line_and_column() -> None:
    with pytest.raises(ProgramError, match=r"p.py: syntax error at line 2, column \d+"):
        check_source("async def execute_query(f):\n    return (\n", "p.py")


def test_missing_entry_point() -> None:
    with pytest.raises(ProgramError, match="no entry point"):
        check_source("def main(image):\n    return 1\n")


def test_entry_point_without_argument() -> None:
    with pytest.raises(ProgramError, match="execute_query must take one argument"):
        check_source("async def execute_query():\n    return 1\n")


def test_violation_names_line_and_offender() -> None:
    source = "import math\n\n\nasync def execute_query(f):\n    import os\n    return 1\n"
    with pytest.raises(SandboxViolation, match=r"p.py: line 5: import of 'os' is not allowed"):
        check_source(source, "p.py")


def test_check_source_returns_the_tree_and_skips_main_guard() -> None:
    source = (
        "async def execute_query(f):\n    return 1\n\n\n"
        "if __name__ == '__main__':\n    import sys\n    print(sys.argv)\n"
    )
    tree = check_source(source)
    assert tree.body[0].name == "execute_query"  # type: ignore[attr-defined]
    assert compile_program(source).dropped_lines == [5]


@pytest.mark.parametrize("snippet,offender", [
    ("x = type('X', (), {})", "'type'"), ("x = getattr(1, 'real')", "'getattr'"),
    ("x = (1).__class__", "'__class__'"), ("x = '{0.real}'.format(1)", "'format'"),
    ("from collections import abc as __x", "'__x'"), ("x = f'{(1).__doc__}'", "'__doc__'"),
])  # fmt: skip
def test_forbidden_snippets(snippet: str, offender: str) -> None:
    with pytest.raises(SandboxViolation, match=re.escape(offender)):
        check_source(f"async def execute_query(f):\n    {snippet}\n")


def test_ordinary_python_is_allowed() -> None:
    source = """
import collections.abc
from dataclasses import dataclass
from typing import Optional


@dataclass
class Box:
    x: int


class Named:
    def __init__(self, name):
        self.name = name


class Child(Named):
    def __init__(self, name):
        super().__init__(name)

    def __repr__(self):
        return f"Child({self.name!r})"


async def execute_query(image_filename):
    global LAST
    for _ in range(2):
        pass
    return [repr(Child("a")), Box(3).x, isinstance([], collections.abc.Sequence)]
"""
    check_source(source)
    assert run(source).value == ["Child('a')", 3, True]


# -- reference programs ------------------------------------------------------------------------
def test_all_reference_programs_are_present() -> None:
    assert len(REFERENCE_PROGRAMS) == 5


@pytest.mark.parametrize("path", REFERENCE_PROGRAMS, ids=lambda p: p.stem)
def test_reference_program_checks_and_compiles(path: Path) -> None:
    source = path.read_text()
    check_source(source, path.name)
    program = compile_program(source, path.name)
    lines = source.splitlines()
    for line in program.dropped_lines:
        assert not lines[line - 1].startswith(("def ", "async def ", "import ", "from "))
    runs_itself = [i + 1 for i, text in enumerate(lines) if text.startswith("asyncio.run(")]
    assert set(runs_itself) <= set(program.dropped_lines)


def test_claims_serial_runs_once_and_prints() -> None:
    hermod = TinyHermod(cars=2)
    out = run((REFERENCE_DIR / "claims_serial.py").read_text(), hermod=hermod, run_sync=_no_sync)
    assert out.value is None
    assert out.printed == [
        f"Car {i}: Color - red, Model - red, Damaged - True, Overturned - True" for i in (1, 2)
    ]
    assert hermod.calls.count("glip") == 1  # the trailing asyncio.run(...) did not run


def test_claims_distributed_matches_serial() -> None:
    serial = run((REFERENCE_DIR / "claims_serial.py").read_text())
    distributed = run((REFERENCE_DIR / "claims_distributed.py").read_text())
    assert distributed.printed == serial.printed


def test_litter_distributed_awaits_sync_style_model_calls() -> None:
    # `patch.compute_depth()` inside `async def`: awaited, never a blocking call on the loop
    out = run((REFERENCE_DIR / "litter_hermod_distributed.py").read_text(), run_sync=_no_sync)
    assert out.value == "Object: plastic, Material: plastic, Depth: 2.5 meters"


def test_serial_imagepatch_programs_run_in_a_worker_thread() -> None:
    litter = run((REFERENCE_DIR / "litter_imagepatch_serial.py").read_text())
    assert litter.value == "Object: red, Material: red, Depth: 2.5 meters"
    muffins = run((REFERENCE_DIR / "muffins_imagepatch_serial.py").read_text())
    assert muffins.value == "1"


def test_executor_is_used_for_sync_entry() -> None:
    source = "def execute_command(image):\n    return image.size\n"
    with ThreadPoolExecutor(1, thread_name_prefix="sandbox-test") as pool:
        assert run(source, executor=pool).value == [32, 24]


# -- transforms -------------------------------------------------------------------------------
def test_model_method_names_on_other_objects_still_work_in_async_code() -> None:
    source = """
async def execute_query(image_filename):
    text = "a litter bottle"
    return [text.find("litter"), len([c for c in text if text.find(c) >= 0])]
"""
    assert run(source).value == [2, 15]


def test_awaited_and_generator_forms_of_model_calls() -> None:
    source = """
async def execute_command(image):
    patch = ImagePatch(image)
    cars = await patch.find("car")
    depths = min(p.compute_depth() for p in cars)
    explicit = await cars[0].simple_query_async("color?")
    return [len(cars), depths, explicit, patch.exists("car")]
"""
    assert run(source, run_sync=_no_sync).value == [2, 2.5, "red", True]


def test_sync_model_call_in_lambda_on_the_loop_is_a_clear_error() -> None:
    source = """
async def execute_command(image):
    patches = await ImagePatch(image).find("car")
    return min(patches, key=lambda p: p.compute_depth()).width
"""
    with pytest.raises(ProgramError, match=r"compute_depth\(\) was called synchronously.*line 4"):
        run(source, run_sync=_no_sync)


def test_methods_taken_without_a_call_behave_as_before() -> None:
    source = """
from PIL import Image


class Spot:
    def __init__(self):
        self.center = (1, 2)
        self.find = "data, not a method"


async def execute_query(image_filename):
    text = "b a c"
    glue = "-".join
    cut = Image.open(image_filename).crop
    spot = Spot()
    return [sorted(["c", "a", "b"], key=text.find), glue(["x", "y"]), str.join(",", ["p", "q"]),
            cut((0, 0, 4, 2)).size, spot.center, spot.find]
"""
    assert run(source).value == [
        ["b", "a", "c"],
        "x-y",
        "p,q",
        [4, 2],
        [1, 2],
        "data, not a method",
    ]


def test_augmented_assignment_evaluates_its_target_once() -> None:
    source = """
calls = []


def key():
    calls.append(1)
    return "k"


async def execute_query(image_filename):
    d = {"k": 3}
    d[key()] *= 2
    items = [1]
    alias = items
    items *= 3
    return [d, len(calls), alias]
"""
    assert run(source).value == [{"k": 6}, 1, [1, 1, 1]]


def test_formatting_still_formats() -> None:
    source = """
async def execute_query(image_filename):
    x = 3.14159
    return [f"{x:.2f}", f"{'ab'!r:>6}", "%05.1f|%s" % (x, "s"), 7 % 3, format(42, "x")]
"""
    assert run(source).value == ["3.14", "  'ab'", "003.1|s", 1, "2a"]


# -- runs ---------------------------------------------------------------------------------------
def test_each_task_gets_a_fresh_namespace() -> None:
    source = """
seen = []


async def execute_query(image_filename):
    seen.append(image_filename)
    return len(seen)
"""
    program = compile_program(source, "fresh.py", FAST)
    assert [run(program).value for _ in range(3)] == [1, 1, 1]


def test_image_open_gives_a_copy_of_the_task_image_only() -> None:
    source = """
from PIL import Image


async def execute_query(image_filename):
    first = Image.open(image_filename)
    first.paste((255, 255, 255), (0, 0, 32, 24))
    second = Image.open(image_filename)
    return [second.getpixel((0, 0)), second.size]
"""
    image = _image()
    assert run(source, image=image).value == [[10, 20, 30], [32, 24]]
    assert image.getpixel((0, 0)) == (10, 20, 30)


def test_execute_command_gets_a_copy() -> None:
    source = "def execute_command(image):\n    image.paste((0, 0, 0), (0, 0, 32, 24))\n"
    image = _image()
    run(source, image=image)
    assert image.getpixel((5, 5)) == (10, 20, 30)


def test_print_collects_lines() -> None:
    source = """
async def execute_query(image_filename):
    print("a", 1, sep="-")
    print("b", end="")
    print("c")
    print()
"""
    assert run(source).printed == ["a-1", "bc", ""]


def test_result_is_json_data() -> None:
    source = """
async def execute_query(image_filename):
    return {"t": (1, (2, 3)), 4: None, "f": 1.5, "b": True}
"""
    assert run(source).value == {"t": [1, [2, 3]], "4": None, "f": 1.5, "b": True}


def test_program_exception_carries_line_and_printed_output() -> None:
    source = """
async def execute_query(image_filename):
    print("before")
    return {}["missing"]
"""
    with pytest.raises(KeyError) as caught:
        run(source)
    assert caught.value.printed == ["before"]  # type: ignore[attr-defined]
    assert caught.value.program_line == 4  # type: ignore[attr-defined]
    assert describe_error(caught.value) == "KeyError: 'missing' (program line 4)"


def test_limits_argument_overrides_the_programs() -> None:
    source = "async def execute_query(f):\n    while True:\n        pass\n"
    program = compile_program(source, "loop.py", Limits(wall_s=60))
    with pytest.raises(ProgramTimeoutError, match="limit of 0.3 s"):
        run(program, limits=Limits(wall_s=0.3))


def test_recursion_limit_comes_from_limits() -> None:
    source = """
def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)


async def execute_query(image_filename):
    return depth(40)
"""
    assert run(source).value == 40
    with pytest.raises(ProgramResourceError, match="deeper than 30 calls"):
        run(source, limits=Limits(wall_s=5, max_recursion=30))


def test_timeout_in_a_worker_thread_frees_the_thread() -> None:
    source = "def execute_command(image):\n    while True:\n        pass\n"
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(ProgramTimeoutError):
            run(source, limits=Limits(wall_s=0.3), executor=pool)
        # the one worker thread stopped at its next guard step and runs the next task
        assert run("def execute_command(image):\n    return 7\n", executor=pool).value == 7


def test_many_tasks_run_concurrently_on_one_loop() -> None:
    program = compile_program(
        (REFERENCE_DIR / "claims_distributed.py").read_text(), "claims_distributed.py"
    )

    async def many() -> list[ProgramRun]:
        return await asyncio.gather(
            *[_run(program, hermod=TinyHermod(cars=i % 3)) for i in range(200)]
        )

    runs = asyncio.run(many())
    assert [len(r.printed) for r in runs] == [(1 if i % 3 == 0 else i % 3) for i in range(200)]
    assert runs[0].printed == ["No cars detected in the image."]


def test_tasks_created_by_a_program_are_cancelled_when_it_ends() -> None:
    source = """
import asyncio

ticks = []


async def forever():
    while True:
        await asyncio.sleep(0.01)


async def execute_query(image_filename):
    asyncio.create_task(forever())
    return "done"
"""

    async def scenario() -> tuple[str, int]:
        out = await _run(source)
        await asyncio.sleep(0.05)
        stray = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return out.value, len(stray)

    assert asyncio.run(scenario()) == ("done", 0)


@pytest.mark.parametrize(
    "snippet",
    ["x = 'a {} b {name:>4} {0!r}'.format(1, name=2)", "x = type(1)", "x = str(type('a'))"],
)
def test_the_safe_forms_of_format_and_type_are_allowed(snippet: str) -> None:
    """ViperGPT's programs use both; only attribute/index fields and 3-argument type are
    refused (see test_forbidden_snippets)."""
    check_source(f"def execute_command(image):\n    {snippet}\n    return x\n", "p.py")


@pytest.mark.parametrize(
    "snippet",
    ["'{0[0]}'.format('a')", "'{:{0.real}}'.format(1)", "t.format(1)", "type('X', (), {})"],
)
def test_the_unsafe_forms_of_format_and_type_are_refused(snippet: str) -> None:
    with pytest.raises(ProgramError, match="format|type"):
        check_source(f"def execute_command(image):\n    t = ''\n    return {snippet}\n", "p.py")
