"""Static checks of a program: it parses, has an entry point, passes the sandbox rules, and
calls only registered functions with parameters that exist (required ones present)."""

from __future__ import annotations

import ast

from codegen.astutil import ENTRY_POINTS, entry_point, hermod_function_name, is_hermod_call
from dicec.errors import ProgramError
from orchestrator.program.sandbox.programs import (
    check_source,  # the orchestrator's rules are the rules
)
from worker_models.registry import FunctionInfo


def check_program(source: str, filename: str, functions: list[FunctionInfo]) -> list[str]:
    """Every problem found, as messages that name the line; empty when the program is fine."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as exc:
        return [f"line {exc.lineno}: does not parse: {exc.msg}"]
    problems: list[str] = []
    if entry_point(tree) is None:
        problems.append(
            f"no entry point: define `async def execute_query(image_filename)` "
            f"(or one of {', '.join(ENTRY_POINTS)})"
        )
    problems += check_calls(tree, {f.name: f for f in functions})
    problems += _sandbox_problems(source, filename)
    return problems


def _sandbox_problems(source: str, filename: str) -> list[str]:
    try:
        check_source(source, filename)
    except ProgramError as exc:
        return [f"sandbox: {exc}"]
    return []


def check_calls(tree: ast.AST, functions: dict[str, FunctionInfo]) -> list[str]:
    problems: list[str] = []
    for node in ast.walk(tree):
        if is_hermod_call(node):
            assert isinstance(node, ast.Call)
            problems += _check_call(node, functions)
    return problems


def _check_call(node: ast.Call, functions: dict[str, FunctionInfo]) -> list[str]:
    where = f"line {node.lineno}"
    name = hermod_function_name(node)
    if name is None:
        return [f"{where}: the function name of hermod.call must be a string literal"]
    info = functions.get(name)
    if info is None:
        known = ", ".join(sorted(functions))
        return [f"{where}: unknown function {name!r}; registered functions: {known}"]
    props = info.parameters_schema.get("properties", {})
    problems = []
    if len(node.args) > 1:
        problems.append(f"{where}: pass the parameters of {name} by keyword, not by position")
    given = {k.arg for k in node.keywords}
    if None in given:
        problems.append(f"{where}: pass the parameters of {name} by name, not with **")
        return problems
    for unknown in sorted(given - set(props)):  # type: ignore[operator]
        problems.append(
            f"{where}: {name} has no parameter {unknown!r}; its parameters are {', '.join(props)}"
        )
    missing = sorted(set(info.parameters_schema.get("required", [])) - given)
    if missing:
        problems.append(f"{where}: {name} needs parameter(s) {', '.join(missing)}")
    return problems
