"""A batch in which one task's process is SIGKILLed, one runs out of memory and one
burns CPU in C: only those tasks fail, each with a clear error; the batch completes.
The tasks that shared a child with one of them run again alone and finish.

The language rules are off for this program (a test-only Jail), so the C-level work
really happens and only the OS jail stops it. Real Redis holds the batch state.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest
from PIL import Image

from dicec.redis_conn import async_client
from dicec.settings import Settings
from orchestrator.batch.runner import BatchRunner, new_meta, summarize
from orchestrator.batch.store import BatchStore
from orchestrator.program.jail.client import Jail
from tests.support.answers import AnsweringBackend

PROGRAM = """
import itertools
import time
from fractions import Fraction

def execute_command(image):
    r, g, b = image.getpixel((0, 0))
    if (r, g, b) == (255, 0, 0):
        return str(Fraction("1e999999999"))[:5]      # C-level work: CPU and memory
    if (r, g, b) == (0, 255, 0):
        hoard = []
        while True:
            hoard.append(bytearray(64 * 1024 * 1024))  # out of memory
    if (r, g, b) == (0, 0, 255):
        any(itertools.repeat(False))                 # a C loop that never returns
    if (r, g, b) == (255, 255, 0):
        time.sleep(60)                               # killed from outside
    return "fine"
"""
COLORS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name, rgb in COLORS.items():
        Image.new("RGB", (8, 8), rgb).save(folder / f"{name}.png")
    for i in range(4):
        Image.new("RGB", (8, 8), (10 * i, 10, 10)).save(folder / f"plain{i}.png")
    return folder


async def _kill_when_running(jail: Jail, index: int) -> None:
    """SIGKILL the task's process, each process it gets: a task whose shared child is
    killed runs again alone (jail.client), and that one is killed too."""
    killed: set[int] = set()
    while True:
        pid = jail.pid_of(str(index))
        if pid is None or pid in killed:
            await asyncio.sleep(0.05)
            continue
        await asyncio.sleep(0.3)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        killed.add(pid)


async def _run(meta, settings: Settings, jail: Jail, yellow: list[int]):
    aredis = async_client(settings)
    store = BatchStore(aredis, meta.batch_id)
    try:
        await store.save_meta(meta)
        runner = BatchRunner(settings, store, AnsweringBackend(), concurrency=8, jail=jail)
        killers = [asyncio.ensure_future(_kill_when_running(jail, i)) for i in yellow]
        await asyncio.wait_for(runner.run(meta, list(range(meta.tasks))), 120)
        for killer in killers:
            killer.cancel()
        return await summarize(store, meta, 1.0, runner.ran_now), await store.load_tasks()
    finally:
        await aredis.delete(*[k async for k in aredis.scan_iter(f"*{meta.batch_id}*")])
        await aredis.aclose()


def test_killed_oom_and_cpu_tasks_fail_alone_and_the_batch_completes(
    redis_client,
    images: Path,
    tmp_path: Path,
) -> None:
    settings = Settings(task_timeout_s=30, program_memory_mb=256, program_cpu_s=2)
    program = tmp_path / "colors.py"
    program.write_text(PROGRAM)
    meta = new_meta(program_path=program, images_dir=images, tasks=16, seed=4,
                    pools_file="none", settings=settings)  # fmt: skip
    yellow = [i for i, name in enumerate(meta.images) if name == "yellow.png"]
    jail = Jail(language_rules=False)
    try:
        summary, records = asyncio.run(_run(meta, settings, jail, yellow))
    finally:
        jail.close()
    assert summary.missing == 0 and len(records) == 16
    by_image = {}
    for record in records:
        by_image.setdefault(record.image, set()).add((record.status, record.error_type))
        if record.image.startswith("plain"):
            assert record.status == "ok" and record.value == "fine", record
        else:
            assert record.status == "error" and record.error, record
            print(f"{record.image}: {record.error_type}: {record.error}")
    for record in records:
        if record.image == "yellow.png":
            assert "SIGKILL" in record.error
        if record.image == "blue.png":
            assert "CPU-time limit" in record.error
        if record.image == "green.png":
            assert "out of memory" in record.error
        if record.image == "red.png":  # memory or CPU, whichever the kernel hit first
            assert "limit" in record.error
    assert {"red.png", "green.png", "blue.png", "yellow.png"} <= set(by_image), by_image
