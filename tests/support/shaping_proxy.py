"""A user-space link: a TCP proxy that imposes a bandwidth and a latency (no netem here).

    python -m tests.support.shaping_proxy --listen 10.200.18.1:16379 \
        --to 127.0.0.1:6379 --mbps 40 --rtt-ms 4 [--open] [--stats FILE] [--trace FILE]

Each direction is one shared link of `mbps` (all connections queue on it, as on a real
uplink: a byte leaves when the bytes before it have), and every chunk arrives half the
round-trip time after it left. Order within a connection is kept. It prints `ready` once
listening and runs until SIGTERM. SIGUSR2 opens the link (chunks pass at once: the same
path without the link's delay, to calibrate on), SIGUSR1 shapes it again; `--open`
starts it open. With --stats FILE it keeps there, rewritten every STATS_EVERY_S, the
chunks and bytes it carried each way (a client's requests: how many round trips its
protocol makes); with --trace FILE it writes a line per chunk (tests.support.link_trace
reads them).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import time
from typing import TextIO

BITS_PER_BYTE = 8
BITS_PER_MBIT = 1e6
SECONDS_PER_MS = 1e-3
READ_BYTES = 64 * 1024
STATS_EVERY_S = 0.2


TRACE_HEAD_BYTES = 80


class Direction:
    """One way of the link: when it is next free to put bytes on the wire."""

    def __init__(self, name: str, mbps: float, one_way_s: float, trace: TextIO | None) -> None:
        self.name = name
        self.bytes_per_s = mbps * BITS_PER_MBIT / BITS_PER_BYTE
        self.one_way_s = one_way_s
        self.shaped = True
        self.trace = trace
        self.free_at = 0.0
        self.chunks = 0
        self.bytes = 0

    def arrival(self, data: bytes, connection: int) -> float:
        """Monotonic time at which a chunk sent now has fully arrived at the far end."""
        now = time.monotonic()
        self.chunks += 1
        self.bytes += len(data)
        if self.trace is not None:
            head = data[:TRACE_HEAD_BYTES]
            self.trace.write(f"{now:.6f} {connection} {self.name} {len(data)} {head!r}\n")
        if not self.shaped:
            return now
        start = max(now, self.free_at)
        self.free_at = start + len(data) / self.bytes_per_s
        return self.free_at + self.one_way_s


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: Direction, connection: int
) -> None:
    queue: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

    async def deliver() -> None:
        while (item := await queue.get()) is not None:
            due, data = item
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(deliver())
    try:
        while data := await reader.read(READ_BYTES):
            queue.put_nowait((way.arrival(data, connection), data))
    except (ConnectionError, OSError):
        pass
    finally:
        queue.put_nowait(None)
        with contextlib.suppress(ConnectionError, OSError):
            await sender


async def serve(listen: tuple[str, int], target: tuple[str, int], up: Direction, down: Direction):
    numbers = itertools.count(1)

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        n = next(numbers)
        await asyncio.gather(_pump(client_r, server_w, up, n), _pump(server_r, client_w, down, n))

    return await asyncio.start_server(handle, *listen)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def _write_stats(path: str, up: Direction, down: Direction) -> None:
    while True:
        stats = {"up_chunks": up.chunks, "up_bytes": up.bytes}
        stats |= {"down_chunks": down.chunks, "down_bytes": down.bytes}
        with open(path + ".tmp", "w") as out:
            json.dump(stats, out)
        os.replace(path + ".tmp", path)
        await asyncio.sleep(STATS_EVERY_S)


async def _main(args: argparse.Namespace) -> None:
    one_way_s = args.rtt_ms * SECONDS_PER_MS / 2
    with contextlib.ExitStack() as files:
        trace = files.enter_context(open(args.trace, "w", buffering=1)) if args.trace else None
        up = Direction("up", args.mbps, one_way_s, trace)
        down = Direction("down", args.mbps, one_way_s, trace)
        server = await serve(_address(args.listen), _address(args.to), up, down)
        stats = asyncio.ensure_future(_write_stats(args.stats, up, down)) if args.stats else None
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        for sig, shaped in ((signal.SIGUSR1, True), (signal.SIGUSR2, False)):
            loop.add_signal_handler(sig, _set_shaped, (up, down), shaped)
        _set_shaped((up, down), not args.open)
        print("ready", flush=True)
        async with server:
            await stop.wait()
        if stats is not None:
            stats.cancel()


def _set_shaped(ways: tuple[Direction, Direction], shaped: bool) -> None:
    for way in ways:
        way.shaped = shaped


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--listen", required=True, help="host:port to listen on")
    parser.add_argument("--to", required=True, help="host:port to forward to")
    parser.add_argument("--mbps", type=float, required=True)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--open", action="store_true", help="start open (SIGUSR1 shapes)")
    parser.add_argument("--stats", help="file to keep the carried chunks and bytes in")
    parser.add_argument("--trace", help="file to write a line per chunk to")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
