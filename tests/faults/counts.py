"""What a fault scenario left behind, counted from Redis: tasks, calls, cost, duplicates.

Printed by every scenario (pytest -s) and merged into var/fault-report.json.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import redis
from pydantic import BaseModel, Field

from dicec.records import TaskRecord
from orchestrator.cost.accounting import batch_cost, load_batch
from tests.conftest import ROOT

REPORT = ROOT / "var" / "fault-report.json"
# What the claims program prints when a call raised inside it (it catches everything).
SWALLOWED_ERRORS = ("Error occurred", "Failed to execute")


class FaultCounts(BaseModel):
    scenario: str
    tasks: int
    ok: int
    errors: int
    lost: int = Field(description="task indices without a record")
    duplicated: int = Field(description="task records or call traces counted more than once")
    calls: int = Field(description="hermod calls the recorded tasks made")
    traces: int = Field(description="call traces stored (one per call id)")
    failed_calls: int = Field(description="traces with an error (a call that never succeeded)")
    swallowed: int = Field(description="tasks whose output shows a call that raised")
    resent: int = Field(description="calls the orchestrator resent after its call timeout")
    duplicate_replies_dropped: int
    waited: int = Field(description="timeouts not resent: the call's queue was still moving")
    restored: int = Field(default=0, description="messages no live worker held, requeued")
    found_missing: int = Field(default=0, description="calls whose message was gone: resent")
    redis_lost: int = Field(default=0, description="times Redis came back without our data")
    leftovers: dict[str, int] = Field(
        default_factory=dict, description="the batch's messages still unacked/queued after it"
    )
    makespan_s: float = Field(default=0.0, description="the orchestrator's wall time")
    fault_free_s: float | None = Field(default=None, description="same batch, no fault")
    computed_calls: int = Field(description="calls the cost report bills as worker time")
    faults: dict[str, int] = Field(default_factory=dict, description="what was done to it")
    first_failures: list[str] = Field(default_factory=list)
    wall_s: float = 0.0


def count_batch(
    r: redis.Redis,
    scenario: str,
    batch_id: str,
    summaries: list[dict],
    faults: dict[str, int],
    wall_s: float,
    fault_free_s: float | None = None,
    leftovers: dict[str, int] | None = None,
) -> FaultCounts:
    """Counts of a finished batch; `summaries`: the JSON summary of each run of it."""
    meta, records, traces = load_batch(r, batch_id)
    by_index = Counter(t.index for t in records)
    ids = Counter(t.call_id for t in traces)
    cost = batch_cost(meta, records, traces)
    dispatch = Counter()
    for summary in summaries:
        dispatch.update(summary.get("dispatch", {}))
    ran = sum(s["ran_now"] for s in summaries)
    duplicated = (
        sum(n - 1 for n in by_index.values())
        + sum(n - 1 for n in ids.values())
        + max(0, ran - len(records))  # a task stored twice would show here
    )
    return FaultCounts(
        scenario=scenario,
        tasks=meta.tasks,
        ok=sum(t.status == "ok" for t in records),
        errors=sum(t.status == "error" for t in records),
        lost=meta.tasks - len(set(by_index) & set(range(meta.tasks))),
        duplicated=duplicated,
        calls=sum(t.calls for t in records),
        traces=len(traces),
        failed_calls=sum(not t.ok for t in traces),
        swallowed=sum(
            any(s in line for line in t.printed for s in SWALLOWED_ERRORS) for t in records
        ),
        resent=dispatch["resent"],
        duplicate_replies_dropped=dispatch["duplicates"],
        waited=dispatch["waited"],
        restored=dispatch["restored"],
        found_missing=dispatch["found_missing"],
        redis_lost=dispatch["redis_lost"],
        leftovers=leftovers or {},
        makespan_s=round(sum(s["wall_s"] for s in summaries), 1),
        fault_free_s=None if fault_free_s is None else round(fault_free_s, 1),
        computed_calls=sum(f.computed for f in cost.functions),
        faults=faults,
        first_failures=[f"{t.function} {t.call_id}: {t.error}" for t in traces if not t.ok][:3],
        wall_s=round(wall_s, 1),
    )


def _swallowed(record: TaskRecord) -> bool:
    return any(s in line for line in record.printed for s in SWALLOWED_ERRORS)


def report(counts: FaultCounts) -> None:
    """Print the counts and merge them into var/fault-report.json (one entry per scenario)."""
    versus = f" vs fault-free {counts.fault_free_s} s" if counts.fault_free_s else ""
    print(
        f"\n[faults] {counts.scenario}: tasks {counts.tasks}, ok {counts.ok}, failed because "
        f"of the fault {counts.errors}, lost {counts.lost}, duplicated {counts.duplicated}, "
        f"resent {counts.resent}, restored {counts.restored}, makespan {counts.makespan_s} s"
        f"{versus}, leftovers {sum(counts.leftovers.values())}"
    )
    print(f"[faults] {counts.scenario} (all counts): " + ", ".join(
        f"{k}={v}" for k, v in counts.model_dump(exclude={"scenario"}).items()
    ))  # fmt: skip
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    merged = _load(REPORT)
    merged[counts.scenario] = {**counts.model_dump(), "recorded_at": time.time()}
    REPORT.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def _load(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
