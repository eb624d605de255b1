"""A program's return value as JSON data (what a task record stores)."""

from __future__ import annotations

import json
from typing import Any

from dicec.errors import ProgramError, ProgramResourceError
from orchestrator.program.imagepatch import ImagePatchBase

MAX_RESULT_DEPTH = 64
MAX_RESULT_CHARS = 1_000_000  # JSON text of one task's value


def to_json_value(value: Any) -> Any:
    """None, bool, int, float, str and lists/dicts of them; tuples become lists, other
    dict keys become strings as json.dumps would make them. Anything else is refused."""
    converted = _convert(value, 0)
    size = len(json.dumps(converted))
    if size > MAX_RESULT_CHARS:
        raise ProgramResourceError(
            f"result is {size} characters of JSON, over the limit of {MAX_RESULT_CHARS}"
        )
    return converted


def _convert(value: Any, depth: int) -> Any:
    if depth > MAX_RESULT_DEPTH:
        raise ProgramError(
            f"result is not JSON-serialisable: nested deeper than "
            f"{MAX_RESULT_DEPTH} levels (a cycle?)"
        )
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int.__index__(value)  # an int subclass becomes a plain int
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, list | tuple):
        return [_convert(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {_key(k): _convert(v, depth + 1) for k, v in value.items()}
    if isinstance(value, ImagePatchBase):  # ViperGPT's programs return patches: their box
        box = {k: getattr(value, k) for k in ("left", "lower", "right", "upper")}
        return _convert(box, depth + 1)
    hint = " (convert it to a sorted list)" if isinstance(value, set | frozenset) else ""
    raise ProgramError(f"result is not JSON-serialisable: {type(value).__name__}{hint}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return str.__str__(key)
    if key is None or isinstance(key, bool | int | float):
        return json.dumps(key)
    raise ProgramError(f"result is not JSON-serialisable: dict key of type {type(key).__name__}")
