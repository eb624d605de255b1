"""SIGSTOP a worker node of each pool for 10 s mid-batch (production call timeout: 120 s),
then SIGCONT: the frozen nodes stop beating, the watchdog puts the messages they held
back on their queues, the other replica answers them, and the late replies of the
stopped nodes are dropped by call id — counted once, billed once."""

from __future__ import annotations

import signal
import time

from tests.faults.rig import FaultRig
from tests.faults.scenario import assert_clean, assert_recovered_in_time, run_with_fault

POOLS = ("vision", "language")
STOPPED_S = 10.0
RECOVERY_SLACK_S = 20.0


def test_sigstop_worker_nodes_mid_batch(healthy: FaultRig) -> None:
    rig = healthy

    def fault(*_: object) -> dict[str, int]:
        try:
            for pool in POOLS:
                rig.wait_holding(pool, 0, running=False)
                rig.signal_node(pool, 0, signal.SIGSTOP)
            time.sleep(STOPPED_S)  # the fault itself: the nodes are frozen this long
        finally:
            for pool in POOLS:
                rig.signal_node(pool, 0, signal.SIGCONT)
        return {"nodes_stopped": len(POOLS), "stopped_s": int(STOPPED_S)}

    counts = run_with_fault(rig, "sigstop_workers", fault, at_done=30)
    assert_clean(counts)
    assert counts.restored + counts.resent > 0, "the stopped nodes held calls"
    assert counts.traces == counts.calls == counts.computed_calls  # late replies not billed
    assert_recovered_in_time(counts, STOPPED_S, RECOVERY_SLACK_S)
