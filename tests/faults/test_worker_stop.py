"""SIGSTOP a worker node longer than the call timeout (and the visibility timeout), then
SIGCONT: the orchestrator resends what it held, the other replica answers, and the late
replies of the stopped node are dropped by call id — counted once, billed once."""

from __future__ import annotations

import signal
import time
import uuid

from tests.faults.counts import count_batch, report
from tests.faults.rig import CALL_TIMEOUT_S, FaultRig

TASKS = 200
POOLS = ("vision", "language")
STOPPED_S = 2 * CALL_TIMEOUT_S


def test_sigstop_worker_longer_than_call_timeout(healthy: FaultRig) -> None:
    rig = healthy
    batch_id = f"fault-stop-{uuid.uuid4().hex[:8]}"
    started = time.time()
    proc = rig.submit_claims(batch_id, TASKS, "--no-cache", "--concurrency", "16")
    try:
        rig.wait_done(batch_id, TASKS // 10, proc)  # early: the batch outlives the stop
        for pool in POOLS:
            rig.wait_holding(pool, 0, running=False)
            rig.signal_node(pool, 0, signal.SIGSTOP)
        time.sleep(STOPPED_S)  # the fault itself: the node is frozen this long
        for pool in POOLS:
            rig.signal_node(pool, 0, signal.SIGCONT)
        summary = rig.finish(proc)
    finally:
        for pool in POOLS:
            rig.signal_node(pool, 0, signal.SIGCONT)
        rig.kill_batch(proc)
    faults = {"nodes_stopped": len(POOLS), "stopped_s": STOPPED_S}
    counts = count_batch(
        rig.client, "sigstop_worker", batch_id, [summary], faults, time.time() - started
    )
    report(counts)
    assert counts.lost == 0 and counts.duplicated == 0
    assert counts.ok == TASKS and counts.failed_calls == 0 and counts.swallowed == 0
    assert counts.resent > 0, "the stopped nodes held calls: they must have been resent"
    assert counts.traces == counts.calls == counts.computed_calls  # late replies not billed
