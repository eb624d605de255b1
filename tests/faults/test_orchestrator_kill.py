"""SIGKILL the orchestrator mid-batch, then `--resume`: finished tasks are kept as they
were, only the rest run, each task ends with one record, and no call is billed twice."""

from __future__ import annotations

import time
import uuid

from orchestrator.cost.accounting import load_batch
from tests.faults.counts import count_batch, report
from tests.faults.rig import FaultRig

TASKS = 200


def test_killed_orchestrator_resumes(healthy: FaultRig) -> None:
    rig = healthy
    batch_id = f"fault-resume-{uuid.uuid4().hex[:8]}"
    started = time.time()
    first = rig.submit_claims(batch_id, TASKS, "--concurrency", "16")
    try:
        rig.wait_done(batch_id, TASKS // 3, first)
    finally:
        rig.kill_batch(first)
    _, before, _ = load_batch(rig.client, batch_id)
    assert TASKS // 3 <= len(before) < TASKS, "kill the orchestrator mid-batch"
    resumed_at = time.time()
    summary = rig.finish(rig.submit("--resume", batch_id))
    faults = {"orchestrators_killed": 1, "tasks_done_before": len(before)}
    counts = count_batch(
        rig.client,
        "orchestrator_kill_resume",
        batch_id,
        [summary],
        faults,
        time.time() - started,
        leftovers=rig.leftovers(batch_id),
    )
    report(counts)
    assert counts.lost == 0 and counts.duplicated == 0
    assert counts.ok == TASKS and counts.failed_calls == 0 and counts.swallowed == 0
    assert summary["ran_now"] == TASKS - len(before)
    assert not any(counts.leftovers.values()), f"left in Redis: {counts.leftovers}"
    _, after, traces = load_batch(rig.client, batch_id)
    by_index = {t.index: t for t in after}
    assert all(by_index[t.index] == t for t in before), "a finished task was recomputed"
    # The resumed run's calls are traced once each; calls of tasks the kill interrupted
    # were real work on a worker and stay traced under their own call ids.
    done_before = {t.index for t in before}
    rerun = [t for t in after if t.index not in done_before]
    traced_now = [c for c in traces if c.queued_at >= resumed_at]
    assert len(traced_now) == sum(t.calls for t in rerun)
    assert {c.task_index for c in traced_now} <= {t.index for t in rerun}
