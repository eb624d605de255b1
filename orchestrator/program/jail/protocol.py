"""The jail's wire: JSON lines, one message per line, each with a schema version.

Orchestrator <-> zygote (control socket): `program`, `image`, `forget`, `spawn` (with the
task's socket passed as SCM_RIGHTS), `kill`; back: `spawned`, `spawn_failed`, `exited`.
Orchestrator <-> child (the task's own socket): the child sends `call` and `done`; the
orchestrator sends `reply`. Images travel as references (`img:<sha256>[@box]`); an image
the program made itself is uploaded once as PNG bytes in base64 with its digest.
"""

from __future__ import annotations

import json
from typing import Any

from dicec.errors import WireFormatError

JAIL_SCHEMA_VERSION = 1
MAX_LINE_BYTES = 64 * 1024 * 1024  # one message (an uploaded image, a result) at most
MAX_ERROR_CHARS = 2_000  # a child's error text is cut here: it is untrusted
MAX_ERROR_TYPE_CHARS = 64


def encode(message: dict[str, Any]) -> bytes:
    """One message as one line (strict JSON: no NaN)."""
    return json.dumps({"v": JAIL_SCHEMA_VERSION, **message}, allow_nan=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """A message from a line; WireFormatError for anything that is not one."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise WireFormatError(f"jail message is not JSON: {str(exc)[:120]}") from None
    if not isinstance(message, dict) or message.get("v") != JAIL_SCHEMA_VERSION:
        raise WireFormatError("jail message without the expected schema version")
    return message


def clean_error_type(value: Any) -> str:
    """An error class name from an untrusted child: an identifier, or ProgramError."""
    if isinstance(value, str) and value.isidentifier() and len(value) <= MAX_ERROR_TYPE_CHARS:
        return value
    return "ProgramError"


def clean_text(value: Any, limit: int = MAX_ERROR_CHARS) -> str:
    text = value if isinstance(value, str) else repr(type(value))
    return text if len(text) <= limit else text[:limit] + "…"
