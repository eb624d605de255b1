"""A child that burns CPU yields it to the rest; a child that waits keeps its priority."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time

import psutil
import pytest

from orchestrator.batch.task import run_task
from orchestrator.program.jail.client import Jail
from orchestrator.program.jail.cpu_yield import BUSY_CPU_S, YIELD_NICENESS, cpu_s
from orchestrator.program.sandbox.programs import Limits, compile_program
from tests.support.answers import AnsweringBackend
from tests.unit.test_jail import _loader, tracked

LIMITS = Limits(wall_s=6, memory_mb=256)
SPINNER = """
async def execute_query(image_filename):
    x = 0
    while True:
        x += 1
"""
WAITER = """
import asyncio

async def execute_query(image_filename):
    await asyncio.sleep(1.5)
    return "rested"
"""


def test_cpu_s_reads_a_process_clock() -> None:
    before = cpu_s(os.getpid())
    assert before is not None
    deadline = time.process_time() + 0.1
    while time.process_time() < deadline:
        pass
    after = cpu_s(os.getpid())
    assert after is not None and after - before >= 0.05  # ticks of 10 ms: some slack
    assert cpu_s(2**22 + 1) is None  # above any pid_max: no such process


@pytest.mark.skipif(os.getpriority(os.PRIO_PROCESS, 0) > YIELD_NICENESS, reason="already lower")
def test_a_spinning_child_yields_and_a_waiting_one_does_not() -> None:
    jail = Jail()
    start = os.getpriority(os.PRIO_PROCESS, 0)  # a child starts at the zygote's, which is ours

    def task(source: str, index: int) -> asyncio.Future:
        program = compile_program(textwrap.dedent(source), f"p{index}.py", LIMITS)
        return asyncio.ensure_future(run_task(program, "scene.jpg", _loader(tracked()),
                                              AnsweringBackend(), limits=LIMITS, jail=jail,
                                              task_index=index))  # fmt: skip

    async def niceness_of(label: str, wait_s: float) -> tuple[int, int]:
        """(niceness when first seen, niceness after wait_s) of the task's child."""
        deadline = time.monotonic() + 10
        while (pid := jail.pid_of(label)) is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert pid is not None, f"task {label}'s child never started"
        child = psutil.Process(pid)
        first = child.nice()
        await asyncio.sleep(wait_s)
        return first, child.nice()

    async def main() -> tuple[tuple[int, int], tuple[int, int], object]:
        spinning, waiting = task(SPINNER, 1), task(WAITER, 2)
        spinner, waiter = await asyncio.gather(
            niceness_of("1", 4 * BUSY_CPU_S + 0.3), niceness_of("2", 1.0)
        )
        rested = await waiting
        spinning.cancel()
        return spinner, waiter, rested

    try:
        spinner, waiter, rested = asyncio.run(main())
    finally:
        jail.close()
    assert spinner == (start, YIELD_NICENESS), "the spinning child kept its priority"
    assert waiter == (start, start), "a child that only waited was made to yield"
    assert rested.ok and rested.value == "rested"  # type: ignore[attr-defined]


def test_without_proc_the_watch_stays_off() -> None:
    """Where the zygote cannot read /proc it starts every child at YIELD_NICENESS (the old
    rule) and keeps no watch: nothing to poll for."""
    from orchestrator.program.jail.cpu_yield import CpuYield

    off = CpuYield(enabled=False)
    off.spawned(os.getpid())
    assert off.timeout_s() is None
    on = CpuYield()
    on.spawned(os.getpid())
    timeout = on.timeout_s()
    assert timeout is not None and timeout <= 0.1 + 0.002
