"""The jail's wire below the jail: JSON lines as json.dumps/json.loads would make and read
them, and the child's plain socket (linesock) delivering whole lines in order."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from dicec.errors import WireFormatError
from orchestrator.program.jail.linesock import LineSocket
from orchestrator.program.jail.protocol import JAIL_SCHEMA_VERSION, decode, encode


def test_encode_is_json_dumps_without_nan() -> None:
    message = {"t": "call", "id": 3, "kwargs": {"q": "é?", "box": [1, 2.5, None, True]}}
    expected = json.dumps({"v": JAIL_SCHEMA_VERSION, **message}, allow_nan=False)
    assert encode(message) == expected.encode() + b"\n"
    with pytest.raises(ValueError, match="not JSON compliant"):
        encode({"x": float("nan")})
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode({"x": object()})
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        encode({"x": loop})


def test_decode_reads_what_json_loads_reads() -> None:
    line = encode({"t": "reply", "id": 1, "result": {"answer": "a"}})
    assert decode(line) == json.loads(line)
    assert decode(b' \t{"v": 1}\r\n') == {"v": 1}


@pytest.mark.parametrize(
    "line",
    [b"", b"  ", b'{"v": 1} x', b'{"v": 1', b"\xff", b"[" * 100_000, b"[1]", b'{"v": 2}'],
)
def test_decode_refuses_anything_else(line: bytes) -> None:
    with pytest.raises(WireFormatError):
        decode(line)


async def _exchange(chunks: list[bytes], limit: int = 1 << 20) -> list[bytes]:
    ours, theirs = socket.socketpair()
    lines: list[bytes] = []
    channel = LineSocket(theirs, limit=limit)
    reading = asyncio.ensure_future(channel.read_lines(lines.append))
    for chunk in chunks:
        ours.sendall(chunk)
        await asyncio.sleep(0.01)
    ours.close()
    try:
        await asyncio.wait_for(reading, 5)
    finally:
        theirs.close()
    return lines


def test_linesock_delivers_whole_lines_in_order_until_the_peer_closes() -> None:
    chunks = [b"one\ntw", b"o", b"\nthree\nfour\n", b"fi", b"ve\n"]
    assert asyncio.run(_exchange(chunks)) == [b"one", b"two", b"three", b"four", b"five"]


def test_linesock_refuses_a_line_over_its_limit() -> None:
    with pytest.raises(WireFormatError):
        asyncio.run(_exchange([b"x" * 600, b"y" * 600], limit=1000))
    with pytest.raises(WireFormatError):
        asyncio.run(_exchange([b"x" * 1200 + b"\n"], limit=1000))


def test_linesock_sends_one_turns_lines_together_and_survives_a_gone_peer() -> None:
    async def main() -> bytes:
        ours, theirs = socket.socketpair()
        channel = LineSocket(theirs)
        for line in (b"a\n", b"b\n", b"c\n"):
            channel.write(line)
        await asyncio.sleep(0)  # the end of the turn: one sendall
        ours.settimeout(5)
        received = ours.recv(100)
        ours.close()
        channel.write(b"d\n")
        channel.flush()  # the peer is gone: no exception, the reader sees the end
        theirs.close()
        return received

    assert asyncio.run(main()) == b"a\nb\nc\n"
