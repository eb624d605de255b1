"""The jail's wire: JSON lines, one message per line, each with a schema version.

Orchestrator <-> zygote (control socket): `program`, `image`, `forget`, `spawn` (with the
task's socket passed as SCM_RIGHTS), `kill`; back: `spawned`, `spawn_failed`, `exited`.
Orchestrator <-> child (the task's own socket): the child sends `call` and `done`; the
orchestrator sends `reply`. Images travel as references (`img:<sha256>[@box]`); an image
the program made itself is uploaded once as PNG bytes in base64 with its digest.
"""

from __future__ import annotations

import json
import json.decoder
import json.encoder
import json.scanner
from collections.abc import Iterator
from typing import Any

from dicec.errors import WireFormatError

JAIL_SCHEMA_VERSION = 1
MAX_LINE_BYTES = 64 * 1024 * 1024  # one message (an uploaded image, a result) at most
MAX_ERROR_CHARS = 2_000  # a child's error text is cut here: it is untrusted
MAX_ERROR_TYPE_CHARS = 64
OVER_LIMIT = "a message on the program process's socket is over the size limit"


# json.dumps and json.loads are Python layers (argument checks, encoding detection) over
# the C encoder and scanner; a forked child copies the pages of every Python function it
# runs for the first time, so both sides call the C objects directly, with exactly the
# arguments json.dumps(..., allow_nan=False) and json.loads pass them.
_DEFAULT = json.JSONEncoder().default  # raises TypeError for what JSON cannot carry
_SCAN = json.scanner.make_scanner(json.decoder.JSONDecoder())
_WHITESPACE = " \t\n\r"


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line (strict JSON: no NaN)."""
    if json.encoder.c_make_encoder is None:  # an interpreter without the _json module
        return json.dumps({"v": JAIL_SCHEMA_VERSION, **message}, allow_nan=False).encode() + b"\n"
    chunks = json.encoder.c_make_encoder(
        {}, _DEFAULT, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, False
    )({"v": JAIL_SCHEMA_VERSION, **message}, 0)
    return "".join(chunks).encode() + b"\n"


def _loads(line: bytes) -> Any:
    """json.loads for one line, without its Python layers."""
    text = line.decode()
    start = 0
    if text[:1] in _WHITESPACE:
        start = json.decoder.WHITESPACE.match(text).end()  # type: ignore[union-attr]
    try:
        value, end = _SCAN(text, start)
    except StopIteration as stop:
        raise ValueError(f"Expecting value: char {stop.value}") from None
    if end != len(text) and text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return value


def decode(line: bytes) -> dict[str, Any]:
    """A message from a line; WireFormatError for anything that is not one."""
    try:
        message = _loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireFormatError(f"jail message is not JSON: {str(exc)[:120]}") from None
    if not isinstance(message, dict) or message.get("v") != JAIL_SCHEMA_VERSION:
        raise WireFormatError("jail message without the expected schema version")
    return message


def take_lines(buffer: bytearray, data: bytes, limit: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Add the bytes just received to `buffer` and yield the whole lines it now holds
    (without their newlines), taken out of it. WireFormatError for a line over `limit`
    when its turn comes, or at once for an unfinished line already over it. Both ends of
    a task socket read with it (jail.linesock, jail.task_socket)."""
    start = len(buffer)
    buffer.extend(data)
    end = buffer.rfind(b"\n", start)
    if end < 0:
        if len(buffer) > limit:
            raise WireFormatError(OVER_LIMIT)
        return
    lines = bytes(buffer[:end]).split(b"\n")
    del buffer[: end + 1]
    for line in lines:
        if len(line) > limit:
            raise WireFormatError(OVER_LIMIT)
        yield line


def clean_error_type(value: Any) -> str:
    """An error class name from an untrusted child: an identifier, or ProgramError."""
    if isinstance(value, str) and value.isidentifier() and len(value) <= MAX_ERROR_TYPE_CHARS:
        return value
    return "ProgramError"


def clean_text(value: Any, limit: int = MAX_ERROR_CHARS) -> str:
    text = value if isinstance(value, str) else repr(type(value))
    return text if len(text) <= limit else text[:limit] + "…"
