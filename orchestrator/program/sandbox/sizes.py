"""Size estimates for single calls that could allocate gigabytes inside C code.

A guard step runs between Python operations, so `"%10000000000d" % 1` or
`"a".ljust(10**10)` would fill memory before any step notices. These functions estimate
the size of such a result from the arguments, so the call can be refused before it runs.
They cover the common routes (format widths, str padding/replace/join, image sizes);
the rest is left to the deployment's process memory cap (see sandbox.py).
"""

from __future__ import annotations

import re
from typing import Any

IMAGE_METHODS = frozenset({"crop", "resize", "transform"})
TEXT_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join",
                          "translate", "to_bytes"})  # fmt: skip
CHECKED_METHODS = IMAGE_METHODS | TEXT_METHODS

MAX_DIGITS = 18  # longer numbers are "huge" (and int() of 5000 digits would itself fail)
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-+ #0]*(\d+|\*)?(?:\.(\d+|\*))?")
_FORMAT_NUMBERS = re.compile(r"\d+")


def requested_size(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The (width, height) an image method is asked to make, or None if not recognisable."""
    try:
        if name in ("resize", "transform"):
            return args[0] if args else kwargs.get("size")
        box = args[0] if len(args) == 1 else (args if len(args) == 4 else kwargs.get("box"))
        if box is None:
            return None
        left, upper, right, lower = box
        return (right - left, lower - upper)
    except (TypeError, ValueError):
        return None


def text_result_chars(obj: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """An upper bound on the length of `obj.<name>(*args)` for str/bytes receivers (0 when
    the receiver is something else: a user class may define a method of the same name)."""
    if name == "to_bytes" and isinstance(obj, int):
        return _as_int(args[0] if args else kwargs.get("length", 1))
    if not isinstance(obj, str | bytes | bytearray):
        return 0
    if name == "translate":
        return _translate_chars(obj, args[0] if args else kwargs.get("table"))
    if name == "join":
        return _join_chars(obj, args[0] if args else kwargs.get("iterable"))
    if name == "replace":
        return _replace_chars(obj, args, kwargs)
    if name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        return len(obj) * max(_as_int(tabsize), 1)
    width = args[0] if args else kwargs.get("width", 0)
    return max(_as_int(width), len(obj))


def _as_int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _join_chars(sep: Any, items: Any) -> int:
    if not isinstance(items, list | tuple):
        return 0  # an iterator is consumed as it goes: the guard steps see it
    total = len(sep) * max(len(items) - 1, 0)
    for item in items:
        if isinstance(item, str | bytes | bytearray):
            total += len(item)
    return total


def _translate_chars(text: Any, table: Any) -> int:
    if not isinstance(table, dict):
        return len(text)
    longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
    return len(text) * max(longest, 1)


def _replace_chars(text: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    old = args[0] if args else kwargs.get("old")
    new = args[1] if len(args) > 1 else kwargs.get("new")
    if not isinstance(old, str | bytes) or not isinstance(new, str | bytes):
        return 0
    grow = len(new) - len(old)
    if grow <= 0:
        return len(text)
    hits = len(text) + 1 if not old else text.count(old)
    count = args[2] if len(args) > 2 else kwargs.get("count", -1)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * grow


def format_spec_chars(spec: Any) -> int:
    """The largest number in a format spec (`>10000000000`, `.500000f`): a width or precision."""
    if not isinstance(spec, str):
        return 0
    return max((_number(n) for n in _FORMAT_NUMBERS.findall(spec)), default=0)


def _number(digits: str) -> int:
    return int(digits) if len(digits) <= MAX_DIGITS else 10**MAX_DIGITS


def percent_format_chars(template: Any, values: Any) -> int:
    """The largest width or precision in a `%` template (a `*` takes it from the values)."""
    if not isinstance(template, str | bytes):
        return 0
    text = template.decode("latin-1") if isinstance(template, bytes) else template
    largest = 0
    star = False
    for width, precision in _PERCENT_SPEC.findall(text):
        for number in (width, precision):
            if number == "*":
                star = True
            elif number:
                largest = max(largest, _number(number))
    if star and isinstance(values, tuple):
        largest = max([largest, *(abs(v) for v in values if isinstance(v, int))])
    return largest
