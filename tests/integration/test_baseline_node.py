"""A real baseline monolith node (every model in one Celery worker process): its program
jail is up before its first task, and batch after batch, failed tasks included, its
tasks run jailed on the one zygote and loop it set up at start."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dicec import keys
from dicec.records import CallTrace, TaskRecord
from dicec.settings import get_settings
from examples import example_program
from orchestrator.batch.baseline import run_baseline_batch
from orchestrator.batch.localpools import MONOLITH, LocalPools
from orchestrator.batch.runner import new_meta
from tests.conftest import TEST_POOLS
from tests.support.baseline_nodes import baseline_nodes, claims_photos

FAILING_PROGRAM = """
def execute_command(image):
    raise ValueError(f"no car in a {image.size[0]} px image")
"""


@pytest.fixture(scope="module")
def node(redis_client, checkpoint_dir) -> Iterator[LocalPools]:
    with baseline_nodes(redis_client, 1) as pools:
        yield pools


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return claims_photos(tmp_path_factory, "baseline-images", count=2, seed=3)


def _zygotes(node: LocalPools) -> list[psutil.Process]:
    """The node's zygotes: jail processes whose parent is not one (not a task's child)."""
    (worker,) = node.procs[MONOLITH]
    jail: dict[int, tuple[psutil.Process, int]] = {}
    for proc in psutil.Process(worker.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a task's child may exit meanwhile
            if "orchestrator.program.jail" in " ".join(proc.cmdline()):
                jail[proc.pid] = (proc, proc.ppid())
    return [proc for proc, parent in jail.values() if parent not in jail]


def _batch(program: Path, images: Path, tasks: int, redis_client) -> list[TaskRecord]:
    return _batch_and_calls(program, images, tasks, redis_client)[0]


def _batch_and_calls(
    program: Path, images: Path, tasks: int, redis_client
) -> tuple[list[TaskRecord], list[CallTrace]]:
    settings = get_settings()
    meta = new_meta(
        program_path=program, images_dir=images, tasks=tasks, seed=5,
        pools_file=str(TEST_POOLS), settings=settings, mode="baseline",
    )  # fmt: skip
    summary = asyncio.run(run_baseline_batch(meta, settings))
    assert summary.ran_now == tasks
    raw = redis_client.hvals(keys.batch_tasks_key(meta.batch_id))
    records = sorted((TaskRecord.model_validate_json(r) for r in raw), key=lambda r: r.index)
    calls = redis_client.hvals(keys.batch_calls_key(meta.batch_id))
    return records, [CallTrace.model_validate_json(c) for c in calls]


def test_node_starts_its_jail_before_the_first_task(node):
    assert len(_zygotes(node)) == 1


def test_tasks_after_failed_ones_run_jailed_on_the_same_zygote(
    node, images, redis_client, tmp_path
):
    zygote = _zygotes(node)[0].pid
    first = _batch(example_program("claims_serial.py"), images, 4, redis_client)
    assert [r.status for r in first] == ["ok"] * 4, [r.error for r in first]
    assert all(r.calls >= 1 and r.printed for r in first)
    by_image: dict[str, list[str]] = {}
    for record in first:  # the same image gives the same answers, task after task
        assert by_image.setdefault(record.image, record.printed) == record.printed

    failing = tmp_path / "failing.py"
    failing.write_text(FAILING_PROGRAM)
    failed = _batch(failing, images, 2, redis_client)
    assert [r.error_type for r in failed] == ["ValueError"] * 2
    assert all("no car in a" in (r.error or "") for r in failed)

    again = _batch(example_program("claims_serial.py"), images, 2, redis_client)
    assert [r.status for r in again] == ["ok"] * 2, [r.error for r in again]
    assert [z.pid for z in _zygotes(node)] == [zygote]


def test_a_task_leaves_no_celery_result_behind(node, images, redis_client):
    """Replies go to the batch's reply list; the message itself says ignore_result (its
    flag beats the task's), or the node writes a result nobody reads between tasks."""
    before = set(redis_client.scan_iter("celery-task-meta-*"))
    records = _batch(example_program("claims_serial.py"), images, 2, redis_client)
    assert [r.status for r in records] == ["ok", "ok"]
    assert set(redis_client.scan_iter("celery-task-meta-*")) == before


def test_tasks_overlap_on_the_node_while_its_calls_run_one_at_a_time(node, images, redis_client):
    """The node holds several tasks: the next one starts before the last one ends, yet the
    models, in their own process, never run two calls at once."""
    records, calls = _batch_and_calls(example_program("claims_serial.py"), images, 8, redis_client)
    assert [r.status for r in records] == ["ok"] * 8, [r.error for r in records]
    tasks = sorted((r.started_at, r.finished_at) for r in records)
    assert any(nxt[0] < last[1] for last, nxt in zip(tasks, tasks[1:], strict=False))
    assert len(calls) == sum(r.calls for r in records) and calls
    spans = sorted((c.started_at or 0.0, c.finished_at or 0.0) for c in calls)
    assert all(nxt[0] >= last[1] for last, nxt in zip(spans, spans[1:], strict=False))
    assert len({c.worker for c in calls}) == 1


def test_a_model_process_killed_mid_batch_costs_no_task(node, images, redis_client):
    """Its calls in flight are sent again to the process the node starts in its place."""
    (worker,) = node.procs[MONOLITH]
    [model_process] = [
        p for p in psutil.Process(worker.pid).children()
        if "worker_models.modelserver" in " ".join(p.cmdline())
    ]  # fmt: skip
    killed_at: list[float] = []

    def kill() -> None:
        killed_at.append(time.time())
        model_process.kill()

    killer = threading.Timer(0.5, kill)
    killer.start()
    try:
        records = _batch(example_program("claims_serial.py"), images, 40, redis_client)
    finally:
        killer.cancel()
    assert killed_at and not model_process.is_running()
    assert [r.status for r in records] == ["ok"] * 40, {r.error for r in records}
    assert any(r.started_at < killed_at[0] < r.finished_at for r in records)
    again = [
        p for p in psutil.Process(worker.pid).children()
        if "worker_models.modelserver" in " ".join(p.cmdline())
    ]  # fmt: skip
    assert len(again) == 1 and again[0].pid != model_process.pid
