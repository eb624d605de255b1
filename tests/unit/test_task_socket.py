"""The orchestrator's end of a task socket (jail.task_socket) against a peer that is
untrusted: lines split anywhere, lines over the limit, a peer that stops reading."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest

from dicec.errors import WireFormatError
from orchestrator.program.jail import task_socket
from orchestrator.program.jail.protocol import OVER_LIMIT
from orchestrator.program.jail.task_socket import TaskSocket


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)


def test_lines_arrive_whole_and_in_order_across_chunks() -> None:
    async def main() -> list[bytes]:
        ours, theirs = pair()
        wire = TaskSocket(ours)
        got: list[bytes] = []
        reading = asyncio.ensure_future(wire.read_lines(got.append))
        for chunk in (b"one\ntw", b"o", b"\nthree\nfo", b"ur\n"):
            theirs.sendall(chunk)
            await asyncio.sleep(0.01)
        theirs.close()
        await reading  # the peer's end closed: reading ends without an error
        wire.close()
        return got

    assert asyncio.run(main()) == [b"one", b"two", b"three", b"four"]


def test_a_line_over_the_limit_ends_the_reading() -> None:
    async def main() -> None:
        ours, theirs = pair()
        wire = TaskSocket(ours, limit=1000)
        reading = asyncio.ensure_future(wire.read_lines(lambda line: None))
        theirs.sendall(b"x" * 1500)  # no newline yet, already over
        with pytest.raises(WireFormatError, match=OVER_LIMIT):
            await asyncio.wait_for(reading, 5)
        wire.close()
        theirs.close()

    asyncio.run(main())


def test_an_error_from_the_handler_ends_the_reading_and_nothing_after_it_is_handled() -> None:
    async def main() -> list[bytes]:
        ours, theirs = pair()
        wire = TaskSocket(ours)
        got: list[bytes] = []

        def handle(line: bytes) -> None:
            if line == b"bad":
                raise WireFormatError("bad message")
            got.append(line)

        reading = asyncio.ensure_future(wire.read_lines(handle))
        theirs.sendall(b"a\nbad\nb\n")
        with pytest.raises(WireFormatError, match="bad message"):
            await asyncio.wait_for(reading, 5)
        wire.close()
        theirs.close()
        return got

    assert asyncio.run(main()) == [b"a"]


def test_stop_reading_leaves_the_rest_unread() -> None:
    async def main() -> list[bytes]:
        ours, theirs = pair()
        wire = TaskSocket(ours)
        got: list[bytes] = []

        def handle(line: bytes) -> None:
            got.append(line)
            if line == b"done":
                wire.stop_reading()

        reading = asyncio.ensure_future(wire.read_lines(handle))
        theirs.sendall(b"call\ndone\nafter\n")
        await asyncio.wait_for(reading, 5)
        wire.close()
        theirs.close()
        return got

    assert asyncio.run(main()) == [b"call", b"done"]


def test_a_peer_that_stops_reading_holds_back_the_writer_not_the_loop() -> None:
    async def main() -> int:
        ours, theirs = pair()
        wire = TaskSocket(ours)
        line = b"r" * 4095 + b"\n"
        for _ in range(400):  # 1.6 MB: far more than the socket's buffer takes
            wire.write(line)
        await asyncio.sleep(0)  # the turn ends: the lines leave (what the socket takes)
        draining = asyncio.ensure_future(wire.drain())
        await asyncio.sleep(0.05)
        assert not draining.done()  # over the limit, the peer reading nothing
        ticks = 0
        received = 0
        theirs.setblocking(False)
        while not draining.done():  # the loop keeps running while the peer reads slowly
            ticks += 1
            with contextlib.suppress(BlockingIOError):
                received += len(theirs.recv(1 << 16))
            await asyncio.sleep(0.001)
        # drained down to the limit; the rest may still sit in the socket's own buffer
        assert received >= 400 * 4096 - task_socket.WRITE_BUFFER_LIMIT - (1 << 20)
        wire.close()
        theirs.close()
        return ticks

    assert asyncio.run(main()) > 1


def test_close_releases_a_waiting_writer() -> None:
    async def main() -> None:
        ours, theirs = pair()
        wire = TaskSocket(ours)
        for _ in range(400):
            wire.write(b"w" * 4095 + b"\n")
        await asyncio.sleep(0)
        draining = asyncio.ensure_future(wire.drain())
        await asyncio.sleep(0.02)
        assert not draining.done()
        wire.close()
        await asyncio.wait_for(draining, 5)
        theirs.close()

    asyncio.run(main())


class SendFails(socket.socket):
    """A socket whose sends fail as they do once the child is gone (its end still open
    here, so the reader sees no end by itself)."""

    def send(self, data: object, flags: int = 0) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_failed_send_ends_the_reading() -> None:
    async def main() -> None:
        ours, theirs = pair()
        wire = TaskSocket(SendFails(fileno=ours.detach()))
        reading = asyncio.ensure_future(wire.read_lines(lambda line: None))
        await asyncio.sleep(0)
        wire.write(b"reply\n")
        await asyncio.wait_for(reading, 5)  # ends now, not at the task's deadline
        theirs.close()

    asyncio.run(main())
