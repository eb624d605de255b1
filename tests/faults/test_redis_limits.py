"""Redis refuses writes mid-batch: out of memory (maxmemory below its size, policy
noeviction) or turned into a read-only replica. The orchestrator pauses dispatch, says so
in one line with the remedy, and retries; workers retry the replies they could not push.
Lifted within the limit: every task ok. Past DICEC_REDIS_OUTAGE_LIMIT_S: it stops with
exit code 1, the summary printed and the batch resumable; --resume completes it."""

from __future__ import annotations

import json
import time
import uuid

from tests.faults.counts import count_batch, report
from tests.faults.rig import PRODUCTION_TIMEOUTS, TASKS, FaultRig
from tests.faults.scenario import NO_CACHE, assert_clean, assert_recovered_in_time, run_with_fault

REFUSED_S = 6.0
RECOVERY_SLACK_S = 20.0
LIMIT_S = 5  # DICEC_REDIS_OUTAGE_LIMIT_S of the past-the-limit scenario
EXIT_WITHIN_S = 60.0  # the limit, plus back-off, the summary and the stop


def _refused_briefly(rig: FaultRig, scenario: str, refuse) -> None:
    def fault(*_: object) -> dict[str, int]:
        refuse()
        try:
            time.sleep(REFUSED_S)  # the fault itself: writes refused this long
        finally:
            rig.unlimit_redis()
        return {"writes_refused_s": int(REFUSED_S)}

    counts = run_with_fault(rig, scenario, fault)
    assert_clean(counts)
    assert_recovered_in_time(counts, REFUSED_S, RECOVERY_SLACK_S)


def test_redis_out_of_memory_briefly(healthy: FaultRig) -> None:
    _refused_briefly(healthy, "redis_oom_6s", healthy.fill_redis)


def test_redis_read_only_briefly(healthy: FaultRig) -> None:
    _refused_briefly(healthy, "redis_readonly_6s", healthy.make_readonly)


def test_redis_out_of_memory_past_the_limit_interrupts(healthy: FaultRig) -> None:
    rig = healthy
    batch_id = f"fault-oom-limit-{uuid.uuid4().hex[:6]}"
    env = {**PRODUCTION_TIMEOUTS, "DICEC_REDIS_OUTAGE_LIMIT_S": str(LIMIT_S)}
    started = time.time()
    first = rig.submit_claims(batch_id, TASKS, *NO_CACHE, "--concurrency", "16", env=env)
    try:
        rig.wait_done(batch_id, TASKS // 3, first)
        rig.fill_redis()
        filled = time.monotonic()
        out, err = first.communicate(timeout=EXIT_WITHIN_S)
        took = time.monotonic() - filled
    finally:
        rig.unlimit_redis()
        rig.kill_batch(first)
    stderr = err.decode()
    assert first.returncode == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert "out of memory" in stderr and "Remedy: raise maxmemory" in stderr, stderr[-3000:]
    summary = json.loads(out)
    assert summary["interrupted"] and "--resume" in summary["interrupted"]
    assert summary["missing"] > 0
    assert took <= EXIT_WITHIN_S
    meta = json.loads(rig.client.get(f"dicec:batch:{batch_id}:meta"))
    second = rig.submit("--resume", batch_id, *NO_CACHE, "--concurrency", "16")
    try:
        resumed = rig.finish(second)
    finally:
        rig.kill_batch(second)
    faults = {"writes_refused_past_limit": 1, "limit_s": LIMIT_S, "exit_after_s": int(took)}
    counts = count_batch(
        rig.client,
        "redis_oom_past_limit_then_resume",
        batch_id,
        [summary, resumed],
        faults,
        time.time() - started,
        leftovers=rig.leftovers(batch_id),
    )
    report(counts)
    print(f"[faults] interrupted run: exit {first.returncode} after {took:.1f} s of OOM, "
          f"batch marked {meta['status']!r}; stderr said: "
          + " | ".join(line for line in stderr.splitlines() if "Redis" in line)[:600])  # fmt: skip
    assert_clean(counts)
