"""A jailed child's end of its task socket, as JSON lines, without asyncio streams.

The child has one peer (the orchestrator) and one task, so it needs no transport,
protocol, stream reader or flow control: the socket stays blocking, lines are read in
one `add_reader` callback, and the lines written in one turn of the event loop leave in
one `sendall` at the end of the turn (one syscall, one wake-up of the orchestrator, as
`task_socket.TaskSocket` does on the orchestrator's side). A full socket blocks the child
until the orchestrator, which always reads, has taken the bytes; its deadline is
enforced from outside either way.

Why not streams: every object a forked child touches for the first time is a page it
copies (~2.3 µs each on our VM), and the stream machinery (transport, protocol, reader,
writer, their futures and callbacks) was ~140 of a child's ~1,100 page copies.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

from orchestrator.program.jail.batching import TurnLines
from orchestrator.program.jail.protocol import MAX_LINE_BYTES, take_lines

RECV_BYTES = 1 << 20


class LineSocket(TurnLines):
    """Lines out (batched per loop turn) and in (one callback per line) on one socket."""

    def __init__(self, sock: socket.socket, limit: int = MAX_LINE_BYTES) -> None:
        super().__init__()
        sock.setblocking(True)
        self._sock = sock
        self._limit = limit
        self._broken = False

    def _send(self, data: bytes) -> None:
        """Blocking until the socket has taken the chunk."""
        if self._broken:
            return
        try:
            self._sock.sendall(data)
        except OSError:  # the orchestrator is gone: the reader sees the end next
            self._broken = True

    async def read_lines(self, on_line: Callable[[bytes], None]) -> None:
        """Call `on_line` with each line received, until the peer closes the socket;
        WireFormatError for a line over the limit."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[None] = loop.create_future()
        fd = self._sock.fileno()
        buffer = bytearray()

        def readable() -> None:
            try:
                data = self._sock.recv(RECV_BYTES)
            except OSError:
                data = b""  # a broken connection ends the task like a closed one
            if not data:
                if not ended.done():
                    ended.set_result(None)
                return
            try:
                for line in take_lines(buffer, data, self._limit):
                    on_line(line)
            except Exception as exc:  # noqa: BLE001 - a bad message ends the reading
                if not ended.done():
                    ended.set_exception(exc)

        loop.add_reader(fd, readable)
        try:
            await ended
        finally:
            loop.remove_reader(fd)
