"""A baseline node SIGKILLed mid-batch (the Celery process itself: no warm shutdown, no
acks) while another node runs: the tasks it held are put back by the batch's orphan
sweep and run on the survivor, in seconds, not after Redis's 600-s visibility timeout.
Every task ends ok and is stored once."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dicec import keys
from dicec.records import TaskRecord
from dicec.settings import get_settings
from examples import example_program
from orchestrator.batch.baseline import run_baseline_batch
from orchestrator.batch.localpools import MONOLITH, LocalPools
from orchestrator.batch.runner import BatchSummary, new_meta
from tests.conftest import TEST_POOLS
from tests.support.baseline_nodes import baseline_nodes, claims_photos

TASKS = 60
RECOVERY_BOUND_S = 30.0  # far under the visibility timeout a lost task would wait for


@pytest.fixture(scope="module")
def two_nodes(redis_client, checkpoint_dir) -> Iterator[LocalPools]:
    with baseline_nodes(redis_client, 2) as pools:
        yield pools


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    return claims_photos(tmp_path_factory, "baseline-kill-images", count=3, seed=11)


def _nodes_done(client, tasks_key: str) -> set[str]:
    records = (TaskRecord.model_validate_json(r) for r in client.hvals(tasks_key))
    return {r.node for r in records if r.status == "ok"}


def test_a_node_killed_mid_batch_loses_no_task(two_nodes, images, redis_client):
    settings = get_settings()
    assert settings.visibility_timeout_s > 10 * RECOVERY_BOUND_S
    meta = new_meta(
        program_path=example_program("claims_serial.py"), images_dir=images, tasks=TASKS,
        seed=5, pools_file=str(TEST_POOLS), settings=settings, mode="baseline",
    )  # fmt: skip
    result: list[BatchSummary] = []
    runner = threading.Thread(
        target=lambda: result.append(asyncio.run(run_baseline_batch(meta, settings)))
    )
    runner.start()
    tasks_key = keys.batch_tasks_key(meta.batch_id)
    deadline = time.monotonic() + 60
    # Mid-batch: each node has finished a task (each holds several: the first tasks done
    # can all be one node's).
    while len(_nodes_done(redis_client, tasks_key)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert redis_client.hlen(tasks_key) < TASKS // 2, "the batch was too far along to kill"
    victim = two_nodes.procs[MONOLITH][0]
    victim.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    runner.join(timeout=RECOVERY_BOUND_S + 60)
    assert not runner.is_alive(), "the batch did not finish after a node was killed"
    recovered_s = time.monotonic() - killed_at
    assert result and result[0].ran_now == TASKS
    records = [TaskRecord.model_validate_json(r) for r in redis_client.hvals(tasks_key)]
    assert sorted(r.index for r in records) == list(range(TASKS))
    assert all(r.status == "ok" for r in records), {r.error for r in records}
    assert len({r.node for r in records}) == 2  # both ran tasks; the survivor finished them
    assert recovered_s < RECOVERY_BOUND_S
