"""redis-server frozen (SIGSTOP) for 30 s mid-batch: every client's commands hang and
time out (redis-py's 5-s socket timeout). The reply listener survives, the calls wait
(their timers do not count the outage), the replies pushed meanwhile are drained, and
the batch ends about 30 s later than without the fault, every task ok."""

from __future__ import annotations

import os

from tests.faults.rig import FaultRig
from tests.faults.scenario import assert_clean, assert_recovered_in_time, run_with_fault

STALL_S = float(os.environ.get("DICEC_FAULT_STALL_S", "30"))
# The stall plus the fault-free makespan, plus this much for recovery on a loaded machine.
RECOVERY_SLACK_S = 20.0


def test_redis_stalled_30_s_mid_batch(healthy: FaultRig) -> None:
    rig = healthy

    def fault(*_: object) -> dict[str, int]:
        rig.stall_redis(STALL_S)
        return {"redis_stalled_s": int(STALL_S)}

    counts = run_with_fault(rig, "redis_stall", fault)
    assert_clean(counts)
    assert_recovered_in_time(counts, STALL_S, RECOVERY_SLACK_S)
