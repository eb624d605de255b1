"""SIGKILL workers mid-batch: a model process of each pool (Celery replaces it and
requeues its message: reject_on_worker_lost), then a whole node of each pool (its
unacked message comes back after the visibility timeout, or the orchestrator resends it
first). One killed node is restarted during the batch, the other is not."""

from __future__ import annotations

import signal
import time
import uuid

from tests.faults.counts import count_batch, report
from tests.faults.rig import FaultRig

TASKS = 200
POOLS = ("vision", "language")


def test_sigkill_one_worker_of_each_pool_mid_batch(healthy: FaultRig) -> None:
    rig = healthy
    batch_id = f"fault-kill-{uuid.uuid4().hex[:8]}"
    started = time.time()
    proc = rig.submit_claims(batch_id, TASKS, "--no-cache", "--concurrency", "16")
    try:
        rig.wait_done(batch_id, TASKS // 5, proc)
        for pool in POOLS:  # the model process, while it holds a call
            rig.wait_holding(pool, 0, running=True)
            for child in rig.children(pool, 0):
                child.send_signal(signal.SIGKILL)
        rig.wait_done(batch_id, TASKS // 2, proc)
        for pool in POOLS:  # the whole node, parent and model process together
            rig.wait_holding(pool, 1, running=False)
            rig.kill_node(pool, 1)
        rig.start_nodes(only=["language"])  # restarted mid-batch; vision-1 stays dead
        summary = rig.finish(proc)
    finally:
        rig.kill_batch(proc)
    faults = {"model_processes_killed": 2, "nodes_killed": 2, "nodes_restarted": 1}
    counts = count_batch(
        rig.client, "sigkill_workers", batch_id, [summary], faults, time.time() - started
    )
    report(counts)
    assert counts.lost == 0 and counts.duplicated == 0
    assert counts.ok + counts.errors == TASKS
    assert counts.errors == 0 and counts.failed_calls == 0 and counts.swallowed == 0
    assert counts.traces == counts.calls  # one trace per call: nothing billed twice
