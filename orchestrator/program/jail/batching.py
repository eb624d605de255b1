"""Messages written in one turn of the event loop leave in one write.

A task's program sends its calls in bursts (`asyncio.gather` of eight calls) and the
orchestrator answers in bursts; one `send` per message would wake the other process once
per message. Each side queues its lines here and writes them together at the end of the
loop's current turn: one syscall, one wake-up. Subclasses say how a chunk leaves: the
child's blocking LineSocket, the orchestrator's non-blocking TaskSocket (whose `drain`
waits while what the socket has not taken is over its limit).
"""

from __future__ import annotations

import asyncio


class TurnLines:
    """Lines queued during one turn of the event loop, handed to `_send` as one chunk at
    its end. Subclasses say how a chunk leaves."""

    def __init__(self) -> None:
        self._lines: list[bytes] = []
        self._scheduled = False

    def write(self, line: bytes) -> None:
        """Queue one encoded line; it leaves with the rest of this turn's lines."""
        self._lines.append(line)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        """Send every queued line now."""
        self._scheduled = False
        if self._lines:
            data = b"".join(self._lines)
            self._lines.clear()
            self._send(data)

    def _send(self, data: bytes) -> None:
        raise NotImplementedError
