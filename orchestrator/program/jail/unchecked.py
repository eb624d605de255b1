"""Programs without the language-level rules: for the test that proves the jail alone.

Only the hostile-corpus test asks for this (the zygote is told per program, the
orchestrator never does it on its own): the program gets the real builtins and real
imports, and only the OS jail stands between it and the machine.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import sys
import types
from dataclasses import dataclass
from typing import Any

from orchestrator.program.imagepatch import blocking_runner, build_image_patch_class
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, ProgramRun
from orchestrator.program.sandbox.rules import find_entry, parse


@dataclass
class UncheckedProgram:
    code: types.CodeType
    entry: str
    is_async: bool


def compile_unchecked(source: str, filename: str) -> UncheckedProgram:
    import ast

    tree = parse(source, filename)
    entry = find_entry(tree, filename)
    tree.body = [s for s in tree.body if not isinstance(s, ast.Expr)]  # no asyncio.run(...)
    code = compile(tree, filename, "exec", dont_inherit=True)
    return UncheckedProgram(code, entry.name, isinstance(entry, ast.AsyncFunctionDef))


async def run_unchecked(program: UncheckedProgram, hermod: Any, image_path: str, image: Any) -> Any:
    loop = asyncio.get_running_loop()
    module = types.ModuleType("hermod")
    module.call = hermod.call  # type: ignore[attr-defined]
    sys.modules["hermod"] = module
    patch_class = build_image_patch_class(hermod.call, blocking_runner(loop))
    namespace = {"__builtins__": builtins, "__name__": "dicec_program", "ImagePatch": patch_class}
    out = sys.stdout = io.StringIO()  # what it prints comes back, as with the rules on
    try:
        exec(program.code, namespace)
        entry = namespace[program.entry]
        arg = image_path if program.entry == "execute_query" else image.copy()
        if program.is_async:
            value = await entry(arg)
        else:
            value = await loop.run_in_executor(None, entry, arg)
    except BaseException as exc:
        exc.printed = out.getvalue().splitlines()  # type: ignore[attr-defined]
        raise
    return ProgramRun(value=value, printed=out.getvalue().splitlines())


def unchecked_record(source: str, filename: str, limits: Limits) -> CompiledProgram:
    """The orchestrator's record of a program to run with the rules off: what the jail
    needs (source, name, limits); the zygote compiles it itself, unchecked."""
    program = compile_unchecked(source, filename)
    return CompiledProgram(source, filename, program.entry, program.is_async, program.code, limits)
