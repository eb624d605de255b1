"""What a worker says to Redis per message, read from the shaping proxy's --trace file:
the Redis commands the edge sent between one message fetch (BRPOP) and the next.

    python -m tests.support.link_trace TRACE_FILE

This is how the simulator's link round trips per message were counted
(orchestrator.planning.simulator.REMOTE_ROUND_TRIPS_*; docs/edge-cloud.md).
"""

from __future__ import annotations

import argparse
import ast
import re
from collections import Counter
from pathlib import Path
from statistics import median

# A RESP array's first bulk strings: the command and its first arguments.
_WORDS = re.compile(rb"\r\n\$\d+\r\n([A-Za-z][A-Za-z0-9./:_-]*)")
_EVENT = re.compile(rb"celeryev/([a-z.]+)")
FETCH = "BRPOP"
UNACKED_RECORD = "MULTI+ZADD"
IMAGE_FETCH = "GET"


def command(head: bytes) -> str | None:
    """`GET`, `MULTI+ZADD` (a transaction: its first command), `PUBLISH:task.multi`."""
    words = _WORDS.findall(head)
    if not words:
        return None
    name = words[0].decode()
    if name == "MULTI" and len(words) > 1:
        name = f"MULTI+{words[1].decode()}"
    if name == "PUBLISH":
        channel = _EVENT.search(head)
        name += f":{channel.group(1).decode()}" if channel else ""
    return name


def message_sequences(trace: Path, since: float = 0.0) -> Counter[tuple[str, ...]]:
    """How often each sequence of commands followed a fetch, up to the next one (chunks
    sent at `since`, a monotonic time, or later)."""
    sequences: Counter[tuple[str, ...]] = Counter()
    current: list[str] | None = None
    for line in trace.read_text().splitlines():
        at, _, direction, _, head = line.split(" ", 4)
        if direction != "up" or float(at) < since:
            continue
        name = command(ast.literal_eval(head))
        if name == FETCH:
            if current is not None:
                sequences[tuple(current)] += 1
            current = []
        elif name is not None and current is not None:
            current.append(name)
    return sequences


def requests_per_message(trace: Path, since: float = 0.0) -> tuple[float, int]:
    """The median requests a worker sends per message it is given, the fetch included and
    its image GETs not, and how many messages: a fetch that delivered a message is the
    one kombu then records as unacked."""
    counts = []
    for sequence, times in message_sequences(trace, since).items():
        if sequence and sequence[0] == UNACKED_RECORD:
            counts += [1 + len(sequence) - sequence.count(IMAGE_FETCH)] * times
    return (float(median(counts)) if counts else 0.0), len(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("trace", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    if not args.trace.is_file():
        raise SystemExit(f"no trace at {args.trace}: run the shaping proxy with --trace FILE")
    for sequence, count in message_sequences(args.trace).most_common(args.top):
        print(f"{count:5d}  {FETCH} {' '.join(sequence)}")
    per_message, messages = requests_per_message(args.trace)
    print(f"{messages} messages, {per_message:g} requests each besides image GETs (median)")


if __name__ == "__main__":
    main()
