"""Redis restarts mid-batch. With AOF on, queues, unacked messages and batch state
survive: every client reconnects and carries on. With persistence off, the server
comes back empty: the orchestrator detects its lost calls by timeout and resends them
(images included), and rewrites the task records it had already stored."""

from __future__ import annotations

import time
import uuid

from tests.faults.counts import count_batch, report
from tests.faults.rig import FaultRig

TASKS = 200
DOWN_S = 1.5


def _restart_mid_batch(rig: FaultRig, scenario: str, persistence: bool) -> None:
    batch_id = f"fault-redis-{uuid.uuid4().hex[:8]}"
    started = time.time()
    proc = rig.submit_claims(batch_id, TASKS, "--concurrency", "16")
    try:
        before = rig.wait_done(batch_id, TASKS // 3, proc)
        rig.server.restart(down_s=DOWN_S, persistence=persistence)
        summary = rig.finish(proc)
    finally:
        rig.kill_batch(proc)
    faults = {"redis_restarts": 1, "down_s": int(DOWN_S), "tasks_done_before": before}
    counts = count_batch(rig.client, scenario, batch_id, [summary], faults, time.time() - started)
    report(counts)
    assert counts.lost == 0 and counts.duplicated == 0
    assert counts.ok == TASKS and counts.failed_calls == 0 and counts.swallowed == 0
    if persistence:  # nothing was lost, so nothing may be billed twice or missing
        assert counts.traces == counts.calls


def test_redis_restart_with_aof(healthy: FaultRig) -> None:
    _restart_mid_batch(healthy, "redis_restart_aof", persistence=True)


def test_redis_restart_without_persistence(healthy: FaultRig) -> None:
    _restart_mid_batch(healthy, "redis_restart_no_persistence", persistence=False)
