"""The orchestrator's side of one task's socket: serve its calls, wait for its `done`.

Everything from the child is untrusted: the calls are counted here (the budget), every
image reference must name the task's own image or an image the task uploaded (whose
bytes must hash to the digest it claims), and the real validation (parameters schema,
result schema) happens in Hermod and the dispatcher exactly as for in-process programs.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from typing import Any

from dicec.errors import CallValidationError, DicecError, WireFormatError
from orchestrator.program.hermod import Hermod
from orchestrator.program.jail.protocol import decode, encode
from orchestrator.program.jail.task_socket import TaskSocket
from worker_models.catalogue import get_spec
from worker_models.imageref import ImageRef, digest_of


class ChildGone(Exception):
    """The child's socket closed before it said `done`."""


class TaskSession:
    def __init__(self, hermod: Hermod, wire: TaskSocket, image_digest: str) -> None:
        self.hermod = hermod
        self.wire = wire  # replies finished in one turn go in one write
        self.allowed = {image_digest}  # digests this task may refer to
        self.uploads: dict[str, bytes] = {}
        self.calls: set[asyncio.Task[None]] = set()
        self.requested = 0  # call messages received (counted before any is served)
        self.done: dict[str, Any] | None = None

    async def serve(self) -> dict[str, Any]:
        """Until the child's `done` (returned); ChildGone if it dies first."""
        await self.wire.read_lines(self._on_line)  # raises what ends the task early
        if self.done is None:
            raise ChildGone
        return self.done

    def _on_line(self, line: bytes) -> None:
        message = decode(line)
        kind = message.get("t")
        if kind == "done":
            self.done = message
            self.wire.stop_reading()
            return
        if kind != "call":
            raise WireFormatError(f"program process sent an unknown message {str(kind)[:40]!r}")
        self.requested += 1
        if self.hermod.max_calls is not None and self.requested > self.hermod.max_calls:
            self.hermod.calls = max(self.hermod.calls, self.hermod.max_calls)
            self.hermod.check_budget()  # raises: the task ends here, its process killed
        task = asyncio.ensure_future(self._serve_call(message))
        self.calls.add(task)
        task.add_done_callback(self.calls.discard)

    def close(self) -> None:
        for task in list(self.calls):
            task.cancel()
        with contextlib.suppress(OSError, RuntimeError):
            self.wire.close()

    async def _serve_call(self, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"t": "reply", "id": message.get("id")}
        try:
            name, kwargs, uploads = self._checked(message)
            result = await self.hermod.call_wire(name, kwargs, uploads)
            reply.update(ok=True, result=result)
        except DicecError as exc:
            reply.update(ok=False, error_type=type(exc).__name__, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a failed call is the program's error
            reply.update(ok=False, error_type=type(exc).__name__, error=str(exc)[:2000])
        with contextlib.suppress(OSError, RuntimeError):
            self.wire.write(encode(reply))
            await self.wire.drain()

    def _checked(self, message: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, bytes]]:
        name, kwargs, uploads = message.get("name"), message.get("kwargs"), message.get("uploads")
        if not isinstance(name, str) or not isinstance(kwargs, dict):
            raise WireFormatError("a call needs a function name and keyword arguments")
        for digest, text in (uploads or {}).items():
            self._accept_upload(digest, text)
        used: dict[str, bytes] = {}
        for param in get_spec(name).image_params():
            value = kwargs.get(param)
            if value is None:
                continue
            digest = ImageRef.digest_of_ref(value)  # WireFormatError for anything else
            if digest not in self.allowed:
                raise CallValidationError(
                    f"{name}: parameter {param!r} refers to an image that is not this task's"
                )
            if digest in self.uploads:
                used[digest] = self.uploads[digest]
        return name, kwargs, used

    def _accept_upload(self, digest: Any, text: Any) -> None:
        try:
            data = base64.b64decode(text, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise WireFormatError("an uploaded image is not base64") from None
        if digest_of(data) != digest:
            raise WireFormatError("an uploaded image does not match its digest")
        self.uploads[digest] = data
        self.allowed.add(digest)
