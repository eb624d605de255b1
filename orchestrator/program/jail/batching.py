"""Messages written in one turn of the event loop leave in one write.

A task's program sends its calls in bursts (`asyncio.gather` of eight calls) and the
orchestrator answers in bursts; one `send` per message would wake the other process once
per message. Each side queues its lines here and writes them together at the end of the
loop's current turn: one syscall, one wake-up. Flow control stays with the stream
(`drain` after a queued line waits while the socket's buffer is full).
"""

from __future__ import annotations

import asyncio


class LineBatcher:
    """Queues encoded lines for one stream and writes each turn's lines as one chunk."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._lines: list[bytes] = []
        self._scheduled = False

    def write(self, line: bytes) -> None:
        self._lines.append(line)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if self._lines and not self._writer.is_closing():
            self._writer.write(b"".join(self._lines))
        self._lines.clear()

    async def drain(self) -> None:
        """Wait while the stream's buffer is over its limit (lines still queued wait for
        the end of the turn)."""
        await self._writer.drain()

    async def drain_all(self) -> None:
        """Write what is queued and wait until the socket has taken every byte (before the
        process exits)."""
        self.flush()
        self._writer.transport.set_write_buffer_limits(high=0)
        await self._writer.drain()
