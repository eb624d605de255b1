"""Local pools are ready when the processes started here have a heartbeat: a heartbeat
left by a process of the same pool that was killed moments ago (live in the registry
for REGISTRY_TTL_S) does not count. It once did, and a baseline node's tests ran before
the node's jail was up whenever a killed node's entry was still there. Real Redis."""

from __future__ import annotations

import subprocess
import time
import uuid

import pytest

from dicec import keys
from dicec.errors import ConfigError
from orchestrator.batch.localpools import MONOLITH, LocalPools
from tests.conftest import TEST_POOLS
from worker_models.pools import load_pools
from worker_models.registry import WorkerHeartbeat


def _beat(redis_client, started_at: float) -> str:
    """A baseline node's registry entry, as a node that started at `started_at` writes it."""
    worker = f"ghost-{uuid.uuid4().hex[:6]}"
    beat = WorkerHeartbeat(
        pool=MONOLITH, worker=worker, functions=["glip"], pid=1, gpu_type="A100",
        started_at=started_at, beat_at=time.time(),
    )  # fmt: skip
    key = keys.registry_worker_key(MONOLITH, worker)
    redis_client.set(key, beat.model_dump_json(), ex=keys.REGISTRY_TTL_S)
    return key


def test_a_killed_nodes_heartbeat_does_not_make_a_new_node_ready(redis_client):
    pools = LocalPools(load_pools(TEST_POOLS), TEST_POOLS, redis_client)
    stale = _beat(redis_client, started_at=time.time() - 5)  # killed, its entry not expired
    # A stand-in for the node's process (alive, not yet beating): wait_ready checks only
    # that the processes it started are alive and have heartbeats.
    pools.spawned_at[MONOLITH] = time.time()
    stand_in = subprocess.Popen(["sleep", "30"])
    pools.procs[MONOLITH] = [stand_in]
    fresh = None
    try:
        with pytest.raises(ConfigError, match="did not become ready"):
            pools.wait_ready(timeout_s=1.0)
        fresh = _beat(redis_client, started_at=time.time())
        pools.wait_ready(timeout_s=5.0)
    finally:
        stand_in.kill()
        stand_in.wait()
        redis_client.delete(stale, *([fresh] if fresh else []))
