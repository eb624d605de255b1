"""Static checks: registered functions, parameter names, entry point, parse errors."""

from __future__ import annotations

import ast

from codegen.static import check_calls, check_program
from worker_models.registry import catalogue_functions

FUNCTIONS = catalogue_functions()
BY_NAME = {f.name: f for f in FUNCTIONS}


def problems(call: str) -> list[str]:
    return check_calls(ast.parse(f"async def f(image, name, params):\n    await {call}\n"), BY_NAME)


def test_valid_calls_pass() -> None:
    assert problems('hermod.call("glip", image=image, object_name="car")') == []
    assert problems('hermod.call("noop")') == []  # every noop parameter has a default


def test_each_kind_of_bad_call_is_named_with_its_line() -> None:
    assert problems("hermod.call(name, image=image)") == [
        "line 2: the function name of hermod.call must be a string literal"
    ]
    assert (
        "unknown function 'sam'; registered functions: blip, blip2, depth"
        in problems('hermod.call("sam", image=image)')[0]
    )
    assert problems('hermod.call("glip", image, "car")')[0] == (
        "line 2: pass the parameters of glip by keyword, not by position"
    )
    assert "not with **" in problems('hermod.call("glip", **params)')[-1]
    assert problems('hermod.call("xvlm", image=image, object_name="car", prop="x")') == [
        "line 2: xvlm has no parameter 'prop'; its parameters are image, object_name, property",
        "line 2: xvlm needs parameter(s) property",
    ]


def test_program_level_problems() -> None:
    assert check_program("def execute_query(:\n", "p.py", FUNCTIONS)[0].startswith(
        "line 1: does not parse"
    )
    found = check_program("import hermod\nasync def main():\n    pass\n", "p.py", FUNCTIONS)
    assert any(p.startswith("no entry point") for p in found)
