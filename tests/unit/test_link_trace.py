"""Reading the shaping proxy's trace: the Redis commands a worker sends per message."""

from __future__ import annotations

from pathlib import Path

from tests.support.link_trace import command, message_sequences, requests_per_message


def resp(*words: str) -> bytes:
    return f"*{len(words)}\r\n".encode() + b"".join(f"${len(w)}\r\n{w}\r\n".encode() for w in words)


def trace_line(at: float, head: bytes, direction: str = "up") -> str:
    return f"{at:.6f} 1 {direction} {len(head)} {head!r}\n"


MESSAGE = [
    resp("BRPOP", "depth", "yolov8", "1"),
    resp("MULTI") + resp("ZADD", "unacked_index", "1.0", "tag"),
    resp("PUBLISH", "/0.celeryev/task.multi", "{}"),
    resp("PUBLISH", "/0.celeryev/task.multi", "{}"),
    resp("GET", "dicec:image:abc"),
    resp("RPUSH", "dicec:reply:x", "{}"),
    resp("MULTI") + resp("ZREM", "unacked_index", "tag"),
    resp("PUBLISH", "/0.celeryev/task.multi", "{}"),
]


def test_commands_are_named_with_their_transaction_and_channel() -> None:
    assert command(resp("GET", "k")) == "GET"
    assert command(MESSAGE[1]) == "MULTI+ZADD"
    assert command(MESSAGE[2]) == "PUBLISH:task.multi"
    assert command(b"+OK\r\n") is None  # a reply, not a request


def test_requests_per_message_leave_out_image_gets_and_what_came_before(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "trace.txt"
    lines = [trace_line(0.5, resp("PING"))]  # before `since`: not counted
    for i in range(3):  # three messages, then the fetch that waits for the next
        lines += [trace_line(1.0 + i + k / 100, head) for k, head in enumerate(MESSAGE)]
        lines.append(trace_line(1.0 + i + 0.5, b"*2\r\n$5\r\ndepth\r\n", "down"))
    lines.append(trace_line(9.0, MESSAGE[0]))
    trace.write_text("".join(lines))
    assert requests_per_message(trace, since=1.0) == (7.0, 3)
    (sequence,) = message_sequences(trace, since=1.0)
    assert sequence[0] == "MULTI+ZADD" and sequence.count("GET") == 1
    # A heartbeat's BRPOP timeout (no unacked record after it) is no message.
    trace.write_text(trace_line(1.0, MESSAGE[0]) + trace_line(1.1, resp("SET", "hb", "1")))
    assert requests_per_message(trace) == (0.0, 0)
