"""A user-space link: a TCP proxy that imposes a bandwidth and a latency (no netem here).

    python -m tests.support.shaping_proxy --listen 10.200.18.1:16379 \
        --to 127.0.0.1:6379 --mbps 40 --rtt-ms 4

Each direction is one shared link of `mbps` (all connections queue on it, as on a real
uplink: a byte leaves when the bytes before it have), and every chunk arrives half the
round-trip time after it left. Order within a connection is kept. It prints `ready` once
listening and runs until SIGTERM. With --stats FILE it keeps there, rewritten every
STATS_EVERY_S, the chunks and bytes it carried each way (a client's requests: how many
round trips its protocol makes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time

BITS_PER_BYTE = 8
BITS_PER_MBIT = 1e6
SECONDS_PER_MS = 1e-3
READ_BYTES = 64 * 1024
STATS_EVERY_S = 0.2


class Direction:
    """One way of the link: when it is next free to put bytes on the wire."""

    def __init__(self, mbps: float, one_way_s: float) -> None:
        self.bytes_per_s = mbps * BITS_PER_MBIT / BITS_PER_BYTE
        self.one_way_s = one_way_s
        self.free_at = 0.0
        self.chunks = 0
        self.bytes = 0

    def arrival(self, nbytes: int) -> float:
        """Monotonic time at which a chunk sent now has fully arrived at the far end."""
        self.chunks += 1
        self.bytes += nbytes
        start = max(time.monotonic(), self.free_at)
        self.free_at = start + nbytes / self.bytes_per_s
        return self.free_at + self.one_way_s


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, way: Direction) -> None:
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
            queue.put_nowait((way.arrival(len(data)), data))
    except (ConnectionError, OSError):
        pass
    finally:
        queue.put_nowait(None)
        with contextlib.suppress(ConnectionError, OSError):
            await sender


async def serve(listen: tuple[str, int], target: tuple[str, int], up: Direction, down: Direction):
    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*target)
        except OSError:
            client_w.close()
            return
        await asyncio.gather(_pump(client_r, server_w, up), _pump(server_r, client_w, down))

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
    up, down = Direction(args.mbps, one_way_s), Direction(args.mbps, one_way_s)
    server = await serve(_address(args.listen), _address(args.to), up, down)
    if args.stats:
        asyncio.ensure_future(_write_stats(args.stats, up, down))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--listen", required=True, help="host:port to listen on")
    parser.add_argument("--to", required=True, help="host:port to forward to")
    parser.add_argument("--mbps", type=float, required=True)
    parser.add_argument("--rtt-ms", type=float, default=0.0)
    parser.add_argument("--stats", help="file to keep the carried chunks and bytes in")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
