"""The one error helper of every command: one clear line, exit 2; a traceback only with
DICEC_DEBUG=1. `GuardedGroup` applies it to anything a command lets escape (a Redis that
does not answer, a bad pools file, an unknown batch id), so no command prints a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, NoReturn

import click
import typer
from pydantic import ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from dicec.errors import DicecError

# Exit codes of every command (documented in `submit_batch.py --help` and `dicec batch`).
EXIT_OK = 0
EXIT_TASKS_FAILED = 1  # the command ran; some of its tasks (or the check it made) failed
EXIT_REFUSED = 2  # usage, configuration, preflight: nothing was run

err = Console(stderr=True)


def debug_enabled() -> bool:
    """DICEC_DEBUG from the settings; a settings error must not hide the first error."""
    from dicec.settings import get_settings

    try:
        return get_settings().debug
    except ValidationError:
        return os.environ.get("DICEC_DEBUG", "").lower() in ("1", "true", "yes")


def describe(exc: BaseException) -> str:
    """One line that says what went wrong, for any exception a command can meet."""
    if isinstance(exc, DicecError):
        return str(exc)
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        from dicec.redis_conn import redacted_url
        from dicec.settings import get_settings

        url = redacted_url(get_settings().redis_url)
        return f"no Redis answers at {url} ({exc}); start one or set REDIS_URL"
    if isinstance(exc, RedisError):
        return f"Redis refused the request: {exc}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"invalid {exc.title}: {where}: {first.get('msg')}"
    if isinstance(exc, OSError):
        name = f" {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or exc}{':' if name else ''}{name}"
    return f"{type(exc).__name__}: {exc} (an unexpected error; DICEC_DEBUG=1 shows where)"


def fail(exc: BaseException | str, code: int = EXIT_REFUSED) -> NoReturn:
    """Print `error: ...` on one line (Rich markup escaped) and exit with `code`."""
    message = exc if isinstance(exc, str) else describe(exc)
    line = " ".join(message.split())  # one line, whatever the message held
    err.print(f"[bold red]error:[/] {escape(line)}", soft_wrap=True)
    if debug_enabled() and isinstance(exc, BaseException):
        traceback.print_exception(exc, file=sys.stderr)
    raise typer.Exit(code)


# What click and typer handle themselves: exit codes, usage errors, Ctrl-C.
PASS_THROUGH = (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException, click.Abort)


class GuardedGroup(TyperGroup):
    """The root command group: whatever a command lets escape becomes one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PASS_THROUGH:
            raise
        except Exception as exc:  # noqa: BLE001 - the last guard: never a raw traceback
            fail(exc)
