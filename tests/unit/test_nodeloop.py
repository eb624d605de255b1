"""A baseline node's loop: coroutines from several threads run at once on its one loop,
results and exceptions come back to each caller, and closing it cancels what is left."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestrator.batch.nodeloop import THREAD_NAME, NodeLoop


@pytest.fixture
def node_loop():
    loop = NodeLoop()
    yield loop
    loop.close()


def test_two_callers_share_the_one_loop_at_once(node_loop):
    both_in = asyncio.Barrier(2)

    async def meet() -> tuple[int, str]:
        await asyncio.wait_for(both_in.wait(), 5)  # returns only if the other one is in too
        return id(asyncio.get_running_loop()), threading.current_thread().name

    with ThreadPoolExecutor(max_workers=2) as callers:
        results = list(callers.map(lambda _: node_loop.run(meet()), range(2)))
    assert len({loop for loop, _ in results}) == 1
    assert {name for _, name in results} == {THREAD_NAME}


def test_result_and_exception_come_back_to_the_caller(node_loop):
    async def answer() -> int:
        return 6 * 7

    async def broken() -> None:
        raise ValueError("bad task")

    assert node_loop.run(answer()) == 42
    with pytest.raises(ValueError, match="bad task"):
        node_loop.run(broken())
    assert node_loop.run(answer()) == 42


def test_close_cancels_what_is_left_and_a_later_run_starts_a_new_loop(node_loop):
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def start_forever() -> asyncio.AbstractEventLoop:
        asyncio.get_running_loop().create_task(forever())
        await asyncio.sleep(0)  # let it start
        return asyncio.get_running_loop()

    first = node_loop.run(start_forever())
    node_loop.close()
    assert cancelled.is_set()
    assert not any(t.name == THREAD_NAME for t in threading.enumerate())
    assert first.is_closed()
    assert node_loop.run(start_forever()) is not first
