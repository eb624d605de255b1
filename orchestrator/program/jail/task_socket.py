"""The orchestrator's end of one task's socket, as JSON lines, without asyncio streams.

A task's socket has one peer and lives for one task, so the transport, protocol, stream
reader and writer that `open_unix_connection` builds for it (and the futures and
call-backs of every `readline`) were a tenth of the orchestrator's CPU per jailed task.
Here the socket is read in one `add_reader` call-back that hands over each line as it
arrives, and the lines written in one turn of the loop leave in one `send` at its end
(TurnLines). The socket stays non-blocking: the child is untrusted and may stop reading,
so what the socket does not take waits in a buffer, sent as the socket drains, and
`drain()` holds the writer back while that buffer is over its limit (as a stream's
does); the task's deadline ends it either way.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from orchestrator.program.jail.batching import TurnLines
from orchestrator.program.jail.protocol import MAX_LINE_BYTES, take_lines

RECV_BYTES = 1 << 18
WRITE_BUFFER_LIMIT = 1 << 16  # what a stream writer holds before drain() waits


def _ignore(line: bytes) -> None:
    """No reader yet."""


class TaskSocket(TurnLines):
    """Lines in (one call-back each) and out (batched per loop turn) on a task's socket."""

    def __init__(self, sock: socket.socket, limit: int = MAX_LINE_BYTES) -> None:
        super().__init__()
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self._pending = bytearray()  # written, not yet taken by the socket
        self._drained: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] | None = None  # while read_lines runs
        self._on_line: Callable[[bytes], None] = _ignore
        self._buffer = bytearray()  # received, not yet a whole line
        self._closed = False

    # -- writing ---------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self._closed:
            return
        if self._pending:
            self._pending += data  # behind what is already waiting
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # the child is gone: close() ends the reading too
            self.close()
            return
        if sent < len(data):
            self._pending += data[sent:]
            self._loop.add_writer(self._fd, self._writable)

    def _writable(self) -> None:
        try:
            sent = self._sock.send(self._pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.close()
            return
        del self._pending[:sent]
        if not self._pending:
            self._loop.remove_writer(self._fd)
            self._wake_writer()

    def _wake_writer(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    async def drain(self) -> None:
        """Wait while what the socket has not taken is over the limit."""
        while len(self._pending) > WRITE_BUFFER_LIMIT and not self._closed:
            if self._drained is None:
                self._drained = self._loop.create_future()
            await asyncio.shield(self._drained)

    # -- reading ---------------------------------------------------------------------
    async def read_lines(self, on_line: Callable[[bytes], None]) -> None:
        """Call `on_line` with each line received until the child closes its end; an
        exception from `on_line`, or a line over the limit (WireFormatError), ends the
        reading and is raised here."""
        self._on_line = on_line
        self._ended = self._loop.create_future()
        self._loop.add_reader(self._fd, self._readable)
        try:
            await self._ended
        finally:
            if not self._closed:
                self._loop.remove_reader(self._fd)

    def _readable(self) -> None:
        try:
            data = self._sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""  # a broken connection ends the task like a closed one
        if not data:
            self._end()
            return
        try:
            for line in take_lines(self._buffer, data, self._limit):
                if self._ended is None or self._ended.done():
                    return  # `done` came, or a bad message: the rest is not read
                self._on_line(line)
        except Exception as exc:  # noqa: BLE001 - a bad message ends the reading
            self._end(exc)

    def _end(self, exc: BaseException | None = None) -> None:
        if self._ended is None or self._ended.done():
            return
        if exc is None:
            self._ended.set_result(None)
        else:
            self._ended.set_exception(exc)

    def stop_reading(self) -> None:
        """End `read_lines` now (the child's `done` came): nothing after it is read."""
        self._end()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._wake_writer()
        self._end()  # a read_lines still waiting ends (a failed send: the child is gone)
        # Closed at the loop's next turn, as a transport closes its socket: a child that
        # has just sent `done` is exiting, and need not handle the end of its socket first
        # (closing at once cost the children ~0.1 CPU-ms each in bench/jail_cpu.py).
        self._loop.call_soon(self._sock.close)
