"""The `hermod` a jailed program imports: each call is a request over the task's socket.

The child cannot be trusted to validate or count its calls: the orchestrator does both.
This side only turns images into references (uploading the PNG of an image the program
made itself) and waits for the reply with the same id.
"""

from __future__ import annotations

import asyncio
import base64
import socket
from typing import Any

import dicec.errors as errors
from dicec.errors import CallFailedError, CallValidationError, DicecError
from orchestrator.program.jail.linesock import LineSocket
from orchestrator.program.jail.protocol import decode, encode
from worker_models.imageref import image_to_ref

# Which parameters of each catalogue function are images, as the orchestrator sent them
# to the zygote: the child never imports the catalogue (pydantic would add ~8 MB to the
# zygote, and every resident MiB costs each fork and exit).
ImageParams = dict[str, frozenset[str]]


def _error_from(reply: dict[str, Any]) -> DicecError:
    cls = getattr(errors, str(reply.get("error_type")), None)
    if not (isinstance(cls, type) and issubclass(cls, DicecError)):
        cls = CallFailedError
    return cls(str(reply.get("error")))


class SocketHermod:
    """One task's calls, over its socket."""

    def __init__(self, image_params: ImageParams, sock: socket.socket | None = None) -> None:
        self._image_params = image_params
        self._out: LineSocket | None = None
        self._next_id = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        if sock is not None:
            self.attach(sock)

    def attach(self, sock: socket.socket) -> None:
        """The task's socket (a zygote prepares its hermod before the task has one)."""
        self._out = LineSocket(sock)

    @property
    def _wire(self) -> LineSocket:
        if self._out is None:
            raise RuntimeError("this hermod has no socket yet")
        return self._out

    def send(self, message: dict[str, Any]) -> None:
        self._wire.write(encode(message))

    async def drain(self) -> None:
        """Every queued message on the wire (the process exits next)."""
        self._wire.flush()

    async def call(self, name: str, **kwargs: Any) -> Any:
        """Call catalogue function `name` through the orchestrator; returns its result."""
        uploads: dict[str, bytes] = {}
        images = self._image_params.get(name, frozenset())  # unknown: the orchestrator says so
        params = {k: image_to_ref(v, uploads) if k in images else v for k, v in kwargs.items()}
        self._next_id += 1
        call_id = self._next_id
        encoded = {d: base64.b64encode(b).decode() for d, b in uploads.items()}
        message = {"t": "call", "id": call_id, "name": name, "kwargs": params, "uploads": encoded}
        try:
            line = encode(message)
        except (TypeError, ValueError) as exc:
            raise CallValidationError(f"{name}: arguments are not JSON data: {exc}") from None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[call_id] = future
        self._wire.write(line)
        reply = await future
        if not reply.get("ok"):
            raise _error_from(reply)
        return reply.get("result")

    async def listen(self) -> None:
        """Resolve each reply's future; the orchestrator closing the socket ends the task."""
        await self._wire.read_lines(self._on_reply)
        raise SystemExit(3)  # the orchestrator is gone: nothing to report to

    def _on_reply(self, line: bytes) -> None:
        message = decode(line)
        future = self._waiting.pop(message.get("id"), None)  # type: ignore[arg-type]
        if future is not None and not future.done():
            future.set_result(message)
