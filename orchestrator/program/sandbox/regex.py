"""A program's `re`: the same API on the `regex` engine, every match bounded in time.

A catastrophic pattern (`(a+)+$` on "aaaa…b") backtracks for hours inside one C call,
which no guard step can interrupt. The `regex` module checks a timeout inside its
matcher; past REGEX_TIMEOUT_S the call raises and the task sees a clear
ProgramResourceError. Patterns compile in the module's re-compatible mode (VERSION0).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from typing import Any

import regex

from dicec.errors import ProgramResourceError

REGEX_TIMEOUT_S = 1.0
FLAG_NAMES = ("A", "ASCII", "I", "IGNORECASE", "L", "LOCALE", "M", "MULTILINE", "S", "DOTALL",
              "X", "VERBOSE", "U", "UNICODE", "NOFLAG")  # fmt: skip
MAX_RESULT_CHARS = 16_000_000  # what one sub() may build


def _bounded(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return call(*args, timeout=REGEX_TIMEOUT_S, **kwargs)
    except TimeoutError:
        raise ProgramResourceError(
            f"regular expression ran past its time limit of {REGEX_TIMEOUT_S:g} s"
        ) from None
    except regex.error as exc:
        raise re.error(str(exc)) from None


class Pattern:
    """A compiled pattern whose every method is time-bounded."""

    def __init__(self, compiled: Any) -> None:
        self._compiled = compiled
        self.pattern = compiled.pattern
        self.flags = compiled.flags
        self.groups = compiled.groups
        self.groupindex = dict(compiled.groupindex)

    def __repr__(self) -> str:
        return f"re.compile({self.pattern!r})"

    def search(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        return _bounded(self._compiled.search, string, pos, endpos)

    def match(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        return _bounded(self._compiled.match, string, pos, endpos)

    def fullmatch(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Any:
        return _bounded(self._compiled.fullmatch, string, pos, endpos)

    def findall(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> list[Any]:
        return _bounded(self._compiled.findall, string, pos, endpos)

    def finditer(self, string: Any, pos: int = 0, endpos: int = sys.maxsize) -> Iterator[Any]:
        """All matches found at once, under the time bound (then iterated)."""

        def every(**timeout: Any) -> list[Any]:
            return list(self._compiled.finditer(string, pos, endpos, **timeout))

        return iter(_bounded(every))

    def sub(self, repl: Any, string: Any, count: int = 0) -> Any:
        self._check_result_size(repl, string, count)
        return _bounded(self._compiled.sub, repl, string, count)

    def subn(self, repl: Any, string: Any, count: int = 0) -> Any:
        self._check_result_size(repl, string, count)
        return _bounded(self._compiled.subn, repl, string, count)

    def _check_result_size(self, repl: Any, string: Any, count: int) -> None:
        """`re.sub("", long, text)` puts `long` between every character, in one C call."""
        if not isinstance(repl, str | bytes) or not isinstance(string, str | bytes):
            return
        if len(string) + (len(string) + 1) * len(repl) <= MAX_RESULT_CHARS:
            return
        matches = len(self.findall(string))
        if count > 0:
            matches = min(matches, count)
        chars = len(string) + matches * len(repl)
        if chars > MAX_RESULT_CHARS:
            raise ProgramResourceError(
                f"regular expression result would be about {chars} characters, over the "
                f"limit of {MAX_RESULT_CHARS}"
            )

    def split(self, string: Any, maxsplit: int = 0) -> list[Any]:
        return _bounded(self._compiled.split, string, maxsplit)


def _regex_flags(flags: int) -> int:
    """re's flag bits as the regex module's (ASCII and friends differ)."""
    out = 0
    for name in ("ASCII", "IGNORECASE", "LOCALE", "MULTILINE", "DOTALL", "VERBOSE", "UNICODE"):
        if flags & getattr(re, name):
            out |= getattr(regex, name)
    return out


def compile(pattern: Any, flags: int = 0) -> Pattern:
    if isinstance(pattern, Pattern):
        return pattern
    try:
        return Pattern(regex.compile(pattern, _regex_flags(int(flags)) | regex.VERSION0))
    except regex.error as exc:
        raise re.error(str(exc)) from None


def search(pattern: Any, string: Any, flags: int = 0) -> Any:
    return compile(pattern, flags).search(string)


def match(pattern: Any, string: Any, flags: int = 0) -> Any:
    return compile(pattern, flags).match(string)


def fullmatch(pattern: Any, string: Any, flags: int = 0) -> Any:
    return compile(pattern, flags).fullmatch(string)


def findall(pattern: Any, string: Any, flags: int = 0) -> list[Any]:
    return compile(pattern, flags).findall(string)


def finditer(pattern: Any, string: Any, flags: int = 0) -> Iterator[Any]:
    return compile(pattern, flags).finditer(string)


def sub(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
    return compile(pattern, flags).sub(repl, string, count)


def subn(pattern: Any, repl: Any, string: Any, count: int = 0, flags: int = 0) -> Any:
    return compile(pattern, flags).subn(repl, string, count)


def split(pattern: Any, string: Any, maxsplit: int = 0, flags: int = 0) -> list[Any]:
    return compile(pattern, flags).split(string, maxsplit)


def bounded_re_attrs() -> dict[str, Any]:
    """The attributes of a program's `re` module."""
    attrs: dict[str, Any] = {name: getattr(re, name) for name in FLAG_NAMES if hasattr(re, name)}
    attrs.update(compile=compile, search=search, match=match, fullmatch=fullmatch,
                 findall=findall, finditer=finditer, sub=sub, subn=subn, split=split,
                 escape=re.escape, error=re.error, Pattern=Pattern)  # fmt: skip
    return attrs
