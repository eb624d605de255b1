"""What a batch cost: provisioned node time x price per pool, busy time, utilisation.

Nodes are billed for the whole run, as in the paper: a pool of r replicas costs
price x r x makespan whether busy or not. Bytes shipped between sites are billed at
their link's price per GB (orchestrator.cost.transfer). Busy time comes from the call traces (the
union of each worker's forward passes); the rest is idle cost. A pool's cost is
attributed to its functions by their share of its busy time. In baseline mode the pool
is "baseline": the baseline GPU type x nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis
from pydantic import BaseModel, Field

from dicec import keys
from dicec.errors import BatchError
from dicec.records import BatchMeta, CallTrace, TaskRecord
from dicec.units import SECONDS_PER_HOUR
from orchestrator.cost.timeline import busy_by_worker, computed, dedupe, total
from orchestrator.cost.transfer import TransferCost, transfer_costs


class PoolCost(BaseModel):
    pool: str
    price_per_hour: float
    replicas: int
    workers_seen: int
    calls: int
    provisioned_s: float = Field(description="replicas x makespan: what is billed")
    busy_s: float
    utilisation: float
    cost_usd: float
    idle_cost_usd: float
    priced: bool = Field(default=True, description="false: the batch recorded no price")


class FunctionCost(BaseModel):
    function: str
    calls: int
    computed: int = Field(description="calls a worker ran (not cache hits)")
    errors: int
    busy_s: float = Field(description="its share of the passes it ran in")
    mean_latency_s: float = Field(description="queued to replied, computed calls")
    cost_usd: float = Field(description="its pools' cost, by its share of their busy time")


class BatchCost(BaseModel):
    batch_id: str
    mode: str
    tasks: int
    ok: int
    errors: int
    started_at: float
    finished_at: float
    makespan_s: float
    cost_usd: float
    cost_per_task_usd: float
    unattributed_usd: float = Field(description="cost of pools that ran no call")
    pools: list[PoolCost]
    functions: list[FunctionCost]
    transfers: list[TransferCost] = Field(
        default_factory=list, description="per link between sites: bytes shipped, price"
    )
    transfer_usd: float = Field(default=0.0, description="the links' bill, in cost_usd")

    @property
    def makespan_min(self) -> float:
        return self.makespan_s / 60.0


class Comparison(BaseModel):
    baseline: BatchCost
    candidate: BatchCost
    time_reduction: float = Field(description="1 - candidate time / baseline time")
    cost_reduction: float = Field(description="1 - candidate cost / baseline cost")
    cost_per_task_reduction: float


def load_batch(
    r: redis.Redis, batch_id: str
) -> tuple[BatchMeta, list[TaskRecord], list[CallTrace]]:
    """A batch's metadata, task records (by index) and call traces, read from Redis."""
    raw = r.get(keys.batch_meta_key(batch_id))
    if raw is None:
        raise BatchError(f"no batch {batch_id!r} in Redis (unknown id or expired)")
    meta = BatchMeta.model_validate_json(raw)
    tasks = sorted(
        (TaskRecord.model_validate_json(v) for v in r.hvals(keys.batch_tasks_key(batch_id))),
        key=lambda t: t.index,
    )
    traces = sorted(
        (CallTrace.model_validate_json(v) for v in r.hvals(keys.batch_calls_key(batch_id))),
        key=lambda t: t.queued_at,
    )
    return meta, tasks, traces


def batch_span(meta: BatchMeta, tasks: list[TaskRecord]) -> tuple[float, float]:
    """First task start to last task end; the meta's times if no task finished."""
    if tasks:
        return min(t.started_at for t in tasks), max(t.finished_at for t in tasks)
    return meta.created_at, meta.finished_at or meta.created_at


def batch_cost(
    meta: BatchMeta,
    tasks: list[TaskRecord],
    traces: list[CallTrace],
    prices: dict[str, float] | None = None,
) -> BatchCost:
    """The cost account of a batch; `prices` (pool -> USD/h) override the recorded ones."""
    traces = dedupe(traces)
    start, end = batch_span(meta, tasks)
    makespan = max(0.0, end - start)
    pools = _pool_costs(meta, traces, makespan, {**meta.pool_prices, **(prices or {})})
    functions = _function_costs(traces, pools)
    transfers = transfer_costs(meta, traces)
    transfer_usd = sum(x.cost_usd for x in transfers)
    cost = sum(p.cost_usd for p in pools) + transfer_usd
    attributed = sum(f.cost_usd for f in functions) + transfer_usd
    return BatchCost(
        batch_id=meta.batch_id,
        mode=meta.mode,
        tasks=meta.tasks,
        ok=sum(t.status == "ok" for t in tasks),
        errors=sum(t.status == "error" for t in tasks),
        started_at=start,
        finished_at=end,
        makespan_s=makespan,
        cost_usd=cost,
        cost_per_task_usd=cost / meta.tasks if meta.tasks else 0.0,
        unattributed_usd=max(0.0, cost - attributed),
        pools=pools,
        functions=functions,
        transfers=transfers,
        transfer_usd=transfer_usd,
    )


def _pool_costs(
    meta: BatchMeta, traces: list[CallTrace], makespan: float, prices: dict[str, float]
) -> list[PoolCost]:
    by_worker = busy_by_worker(traces)
    names = list(meta.pool_replicas) + sorted(
        {pool for pool, _ in by_worker} - set(meta.pool_replicas)
    )
    calls: dict[str, int] = {}
    for t in traces:
        if computed(t):
            calls[t.pool or "?"] = calls.get(t.pool or "?", 0) + 1
    out = []
    for name in names:
        workers = {w: iv for (p, w), iv in by_worker.items() if p == name}
        replicas = max(meta.pool_replicas.get(name, 0), len(workers), 1)
        provisioned = replicas * makespan
        busy = sum(total(iv) for iv in workers.values())
        price = prices.get(name, 0.0)
        cost = price * provisioned / SECONDS_PER_HOUR
        util = busy / provisioned if provisioned > 0 else 0.0
        out.append(
            PoolCost(
                pool=name,
                price_per_hour=price,
                replicas=replicas,
                workers_seen=len(workers),
                calls=calls.get(name, 0),
                provisioned_s=provisioned,
                busy_s=busy,
                utilisation=util,
                cost_usd=cost,
                idle_cost_usd=cost * max(0.0, 1.0 - util),
                priced=name in prices,
            )
        )
    return out


def _pass_shares(traces: list[CallTrace]) -> dict[str, float]:
    """Per call id, its share of its forward pass (a pass = same worker and start time)."""
    passes: dict[tuple[str, str, float], list[CallTrace]] = {}
    for t in traces:
        if computed(t):
            passes.setdefault((t.pool or "?", t.worker or "?", t.started_at or 0.0), []).append(t)
    shares = {}
    for members in passes.values():
        duration = max(m.service_s for m in members)
        for m in members:
            shares[m.call_id] = duration / len(members)
    return shares


@dataclass
class _FunctionTally:
    calls: int = 0
    computed: int = 0
    errors: int = 0
    busy_s: float = 0.0
    latency_s: float = 0.0
    cost_usd: float = 0.0


def _function_costs(traces: list[CallTrace], pools: list[PoolCost]) -> list[FunctionCost]:
    shares = _pass_shares(traces)
    pool_busy: dict[str, float] = {}
    for t in traces:
        if t.call_id in shares:
            pool_busy[t.pool or "?"] = pool_busy.get(t.pool or "?", 0.0) + shares[t.call_id]
    pool_cost = {p.pool: p.cost_usd for p in pools}
    tallies: dict[str, _FunctionTally] = {}
    for t in traces:
        tally = tallies.setdefault(t.function, _FunctionTally())
        tally.calls += 1
        tally.errors += not t.ok
        share = shares.get(t.call_id)
        if share is None:
            continue
        pool = t.pool or "?"
        tally.computed += 1
        tally.busy_s += share
        tally.latency_s += (t.replied_at or t.finished_at or t.queued_at) - t.queued_at
        if pool_busy.get(pool):
            tally.cost_usd += pool_cost.get(pool, 0.0) * share / pool_busy[pool]
    return [
        FunctionCost(
            function=fn,
            calls=x.calls,
            computed=x.computed,
            errors=x.errors,
            busy_s=x.busy_s,
            mean_latency_s=x.latency_s / x.computed if x.computed else 0.0,
            cost_usd=x.cost_usd,
        )
        for fn, x in sorted(tallies.items())
    ]


def compare(baseline: BatchCost, candidate: BatchCost) -> Comparison:
    """How much the candidate batch saves over the baseline batch (positive: cheaper)."""

    def reduction(base: float, new: float) -> float:
        return 1.0 - new / base if base > 0 else 0.0

    return Comparison(
        baseline=baseline,
        candidate=candidate,
        time_reduction=reduction(baseline.makespan_s, candidate.makespan_s),
        cost_reduction=reduction(baseline.cost_usd, candidate.cost_usd),
        cost_per_task_reduction=reduction(baseline.cost_per_task_usd, candidate.cost_per_task_usd),
    )
