"""The jailed child's event loop runs what a program's asyncio and the child's socket
use with asyncio's own semantics: the same awaits, timers, cancellations and
thread callbacks give the same results as on asyncio's loop."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from orchestrator.program.jail.child_loop import ChildLoop
from orchestrator.program.jail.linesock import LineSocket


def run(coro_fn) -> object:
    loop = ChildLoop()
    try:
        return loop.run_until_complete(coro_fn())
    finally:
        loop.close()


def test_gather_sleep_and_order_match_asyncio() -> None:
    async def program() -> list[str]:
        order: list[str] = []

        async def step(name: str, delay: float) -> str:
            await asyncio.sleep(delay)
            order.append(name)
            return name.upper()

        results = await asyncio.gather(step("c", 0.03), step("a", 0.0), step("b", 0.01))
        return [*results, *order]

    assert run(program) == asyncio.run(program()) == ["C", "A", "B", "a", "b", "c"]


def test_timeouts_and_cancellation() -> None:
    async def program() -> list[str]:
        seen = []
        try:
            await asyncio.wait_for(asyncio.sleep(5), timeout=0.02)
        except TimeoutError:
            seen.append("wait_for timed out")
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(5)
        except TimeoutError:
            seen.append("timeout() timed out")
        task = asyncio.ensure_future(asyncio.sleep(5))
        await asyncio.sleep(0)
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=1)
        seen.append("cancelled" if task in done and task.cancelled() else "not cancelled")
        return seen

    start = time.monotonic()
    assert run(program) == ["wait_for timed out", "timeout() timed out", "cancelled"]
    assert time.monotonic() - start < 1  # the cancelled 5-s timers never held the loop


def test_a_serial_program_thread_calls_back_into_the_loop() -> None:
    """run_in_executor + run_coroutine_threadsafe: how ImagePatch's blocking form works."""

    async def program() -> tuple[int, bool]:
        loop = asyncio.get_running_loop()

        async def call(x: int) -> int:
            await asyncio.sleep(0.01)
            return x * 2

        def serial() -> tuple[int, bool]:
            total = sum(asyncio.run_coroutine_threadsafe(call(i), loop).result() for i in range(5))
            return total, threading.current_thread() is not threading.main_thread()

        return await loop.run_in_executor(None, serial)

    assert run(program) == (20, True)


def test_lines_from_a_socket_reader() -> None:
    ours, theirs = socket.socketpair()

    async def program() -> list[bytes]:
        lines: list[bytes] = []
        sender = LineSocket(theirs)
        sender.write(b"one\n")
        sender.write(b"two\n")
        asyncio.get_running_loop().call_later(0.02, theirs.close)
        await LineSocket(ours).read_lines(lines.append)
        return lines

    try:
        assert run(program) == [b"one", b"two"]
    finally:
        ours.close()


def test_what_it_does_not_offer_fails_loudly() -> None:
    async def program() -> None:
        await asyncio.get_running_loop().getaddrinfo("localhost", 80)

    with pytest.raises(NotImplementedError):
        run(program)
