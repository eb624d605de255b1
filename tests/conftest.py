"""Fixtures for the real services: Redis, small checkpoints, worker pool processes.

Real-service fixtures fail (never skip) when the service is missing: a green run must
mean the tests ran against real components.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PROGRAMS = Path(  # a checkout outside the project folder (a git worktree) sets it
    os.environ.get("DICEC_REFERENCE_PROGRAMS") or ROOT.parent / "shared" / "reference-programs"
)
TEST_POOLS = ROOT / "tests" / "data" / "pools-test.yaml"
CHECKPOINT_DIR = ROOT / "var" / "checkpoints"
# DB 0 unless told otherwise; a parallel run can point REDIS_URL at another DB number.
REDIS_URL = os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("DICEC_CHECKPOINTS", "small")
os.environ.setdefault("DICEC_CHECKPOINT_DIR", str(CHECKPOINT_DIR))
DRAIN_TIMEOUT_S = 120.0


@pytest.fixture(scope="session")
def redis_client() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"the tests need the real Redis at {REDIS_URL}: {exc}")
    return client


@pytest.fixture(scope="session")
def checkpoint_dir() -> Path:
    from worker_models.checkpoints import build_small_checkpoints

    build_small_checkpoints(CHECKPOINT_DIR)
    return CHECKPOINT_DIR


@pytest.fixture(scope="session")
def pools(redis_client: redis.Redis, checkpoint_dir: Path) -> Iterator[object]:
    """The test pools file's pools as real worker processes (started once per session)."""
    from orchestrator.batch.localpools import local_pools

    with local_pools(str(TEST_POOLS), redis_client, log_dir=ROOT / "var" / "test-logs") as running:
        yield running


def wait_for_drain(
    client: redis.Redis, queues: list[str], timeout_s: float = DRAIN_TIMEOUT_S
) -> None:
    """Wait until these queues hold no messages (Celery's Redis queues are lists)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(client.llen(q) == 0 for q in queues):
            return
        time.sleep(0.05)
    raise AssertionError(f"queues {queues} did not drain within {timeout_s:.0f} s")


def blpop_wait(client: redis.Redis, key: str, timeout_s: float = 60.0) -> bytes | None:
    """BLPOP in short slices (a single BLPOP longer than the socket timeout would fail)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        item = client.blpop([key], timeout=min(left, 2.0))
        if item is not None:
            return item[1]
    return None
