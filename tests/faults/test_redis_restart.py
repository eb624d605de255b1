"""Redis restarts mid-batch (production call timeout). With AOF on, queues, unacked
messages and batch state survive: every client reconnects and carries on. With
persistence off, the server comes back empty: the orchestrator sees it (run id changed,
its marker key gone) and resends every call in flight at once, images included, and
rewrites the task records it had already stored. Neither waits for a call timeout."""

from __future__ import annotations

from tests.faults.rig import FaultRig
from tests.faults.scenario import assert_clean, makespan_limit_s, run_with_fault

DOWN_S = 1.5
# Recovery on a loaded machine; a call timeout (120 s) would blow far past it.
RECOVERY_SLACK_S = 20.0


def _restart_mid_batch(rig: FaultRig, scenario: str, persistence: bool) -> None:
    def fault(batch_id: str, proc: object) -> dict[str, int]:
        before = rig.done(batch_id)
        rig.server.restart(down_s=DOWN_S, persistence=persistence)
        return {"redis_restarts": 1, "down_s": int(DOWN_S), "tasks_done_before": before}

    counts = run_with_fault(rig, scenario, fault)
    assert_clean(counts)
    if persistence:  # nothing was lost, so nothing may be billed twice or missing
        assert counts.traces == counts.calls
    else:
        assert counts.redis_lost >= 1, "the empty Redis must have been noticed"
    limit = makespan_limit_s(counts, DOWN_S, RECOVERY_SLACK_S)
    assert counts.makespan_s <= limit, f"makespan {counts.makespan_s} s > {limit:.1f} s"


def test_redis_restart_with_aof(healthy: FaultRig) -> None:
    _restart_mid_batch(healthy, "redis_restart_aof", persistence=True)


def test_redis_restart_without_persistence(healthy: FaultRig) -> None:
    _restart_mid_batch(healthy, "redis_restart_no_persistence", persistence=False)
