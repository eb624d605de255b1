"""A real baseline monolith node (every model in one Celery worker process): its program
jail is up before its first task, and batch after batch, failed tasks included, its
tasks run jailed on the one zygote and loop it set up at start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from dicec import keys
from dicec.records import TaskRecord
from dicec.settings import get_settings
from examples import example_program
from orchestrator.batch.baseline import run_baseline_batch
from orchestrator.batch.localpools import MONOLITH, LocalPools, local_pools
from orchestrator.batch.runner import new_meta
from tests.conftest import ROOT, TEST_POOLS

FAILING_PROGRAM = """
def execute_command(image):
    raise ValueError(f"no car in a {image.size[0]} px image")
"""


@pytest.fixture(scope="module")
def node(redis_client, checkpoint_dir) -> Iterator[LocalPools]:
    log_dir = ROOT / "var" / "test-logs"
    with local_pools(str(TEST_POOLS), redis_client, log_dir=log_dir, monolith_nodes=1) as pools:
        yield pools


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from orchestrator.batch.claims_images import generate_claims_images

    folder = tmp_path_factory.mktemp("baseline-images")
    generate_claims_images(folder, count=2, seed=3)
    return folder


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
    settings = get_settings()
    meta = new_meta(
        program_path=program, images_dir=images, tasks=tasks, seed=5,
        pools_file=str(TEST_POOLS), settings=settings, mode="baseline",
    )  # fmt: skip
    summary = asyncio.run(run_baseline_batch(meta, settings))
    assert summary.ran_now == tasks
    raw = redis_client.hvals(keys.batch_tasks_key(meta.batch_id))
    return sorted((TaskRecord.model_validate_json(r) for r in raw), key=lambda r: r.index)


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
