"""SIGKILL workers mid-batch, with the production call timeout (120 s): a model process
of each pool (its parent requeues the flush it ran at once), then a whole node of each
pool (parent too: its unacked messages are found by the holdings watchdog, since no
live node reports them, and put back on their queues; a call whose message is gone
altogether is resent). The killed nodes are restarted at once, as a supervisor would.
The call timeout must not be what recovers it: the makespan stays within 15 s of the
fault-free one."""

from __future__ import annotations

import signal
import subprocess

from tests.faults.rig import TASKS, FaultRig
from tests.faults.scenario import assert_clean, assert_recovered_in_time, run_with_fault

POOLS = ("vision", "language")
RECOVERY_TARGET_S = 15.0  # the target: fault-free makespan + 15 s


def test_sigkill_workers_mid_batch_recover_in_seconds(healthy: FaultRig) -> None:
    rig = healthy

    def fault(batch_id: str, proc: subprocess.Popen[bytes]) -> dict[str, int]:
        for pool in POOLS:  # the model process, while it holds a call
            rig.wait_holding(pool, 0, running=True)
            for child in rig.children(pool, 0):
                child.send_signal(signal.SIGKILL)
        rig.wait_done(batch_id, TASKS // 2, proc)
        for pool in POOLS:  # the whole node, parent and model process together
            rig.wait_holding(pool, 1, running=False)
            rig.kill_node(pool, 1)
        rig.start_nodes(wait=False)  # restarted, as a supervisor (compose, k8s) would
        return {"model_processes_killed": 2, "nodes_killed": 2, "nodes_restarted": 2}

    counts = run_with_fault(rig, "sigkill_workers", fault, at_done=TASKS // 5)
    assert_clean(counts)
    assert counts.traces == counts.calls  # one trace per call: nothing billed twice
    assert_recovered_in_time(counts, 0.0, RECOVERY_TARGET_S)
