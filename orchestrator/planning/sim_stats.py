"""What a simulation reports: makespan, per-pool busy time, utilisation and cost."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dicec.units import SECONDS_PER_HOUR
from orchestrator.planning.sim_engine import Replica, SimTask
from worker_models.pools import Link

P95 = 0.95


class PoolSim(BaseModel):
    pool: str
    gpu_type: str
    replicas: int
    price_per_hour: float
    calls: int
    busy_s: float
    provisioned_s: float
    utilisation: float
    cost_usd: float
    idle_cost_usd: float


class FunctionSim(BaseModel):
    calls: int
    mean_latency_s: float
    p95_latency_s: float
    mean_batch_size: float


class LinkSim(BaseModel):
    link: str
    calls: int = 0
    bytes: int = 0
    transfer_s: float = Field(default=0.0, description="sum over passes of rtt + bytes/bw")
    round_trips_s: float = Field(
        default=0.0, description="the messages' own round trips on the link (fetch, ack, ...)"
    )
    round_trips: float = Field(default=0.0, description="how many: round_trips_s / rtt")
    uploads: int = Field(default=0, description="photos uploaded to the broker's site")
    cost_usd: float = 0.0


class SimResult(BaseModel):
    mode: str
    tasks: int
    calls: int
    makespan_s: float
    cost_usd: float
    cost_per_task_usd: float
    pools: list[PoolSim]
    functions: dict[str, FunctionSim]
    links: list[LinkSim] = Field(default_factory=list)
    transfer_usd: float = Field(default=0.0, description="the links' bill, in cost_usd")

    @property
    def makespan_min(self) -> float:
        return self.makespan_s / 60.0

    def pool(self, name: str) -> PoolSim:
        return next(p for p in self.pools if p.pool == name)


def build_result(
    mode: str,
    tasks: list[SimTask],
    replicas: list[Replica],
    prices: dict[str, float],
    batch_sizes: dict[str, list[int]],
) -> SimResult:
    makespan = max((t.finished_at for t in tasks), default=0.0)
    pools = _pools(replicas, prices, makespan)
    cost = sum(p.cost_usd for p in pools)
    return SimResult(
        mode=mode,
        tasks=len(tasks),
        calls=sum(len(t.calls) for t in tasks),
        makespan_s=makespan,
        cost_usd=cost,
        cost_per_task_usd=cost / len(tasks) if tasks else 0.0,
        pools=pools,
        functions=_functions(tasks, batch_sizes),
    )


def _pools(replicas: list[Replica], prices: dict[str, float], makespan: float) -> list[PoolSim]:
    by_pool: dict[str, list[Replica]] = {}
    for replica in replicas:
        by_pool.setdefault(replica.pool, []).append(replica)
    out = []
    for name, group in by_pool.items():
        price = prices[name]
        provisioned = len(group) * makespan
        busy = sum(r.busy_s for r in group)
        cost = price * provisioned / SECONDS_PER_HOUR
        util = busy / provisioned if provisioned > 0 else 0.0
        out.append(
            PoolSim(
                pool=name,
                gpu_type=group[0].gpu_type,
                replicas=len(group),
                price_per_hour=price,
                calls=sum(r.calls for r in group),
                busy_s=busy,
                provisioned_s=provisioned,
                utilisation=util,
                cost_usd=cost,
                idle_cost_usd=cost * (1.0 - util),
            )
        )
    return out


def _functions(tasks: list[SimTask], batch_sizes: dict[str, list[int]]) -> dict[str, FunctionSim]:
    latencies: dict[str, list[float]] = {}
    for task in tasks:
        for call in task.calls:
            latencies.setdefault(call.function, []).append(call.finished_at - call.issued_at)
    out = {}
    for function, values in sorted(latencies.items()):
        values.sort()
        sizes = batch_sizes.get(function) or [1]
        out[function] = FunctionSim(
            calls=len(values),
            mean_latency_s=sum(values) / len(values),
            p95_latency_s=values[min(len(values) - 1, int(P95 * len(values)))],
            mean_batch_size=sum(sizes) / len(sizes),
        )
    return out


class TransferTally:
    """What a simulation shipped over each link."""

    def __init__(self) -> None:
        self.links: dict[str, LinkSim] = {}

    def add(self, link: Link, nbytes: int, calls: int, uploads: int = 0) -> None:
        row = self.links.setdefault(link.label(), LinkSim(link=link.label()))
        row.calls += calls
        row.uploads += uploads
        row.bytes += nbytes
        row.transfer_s += link.transfer_s(nbytes)
        row.cost_usd += link.price_usd(nbytes)

    def wait(self, link: Link, trips: float) -> None:
        """A message's round trips on the link, beside its images' transfers."""
        row = self.links.setdefault(link.label(), LinkSim(link=link.label()))
        row.round_trips += trips
        row.round_trips_s += trips * link.transfer_s(0)

    def apply(self, result: SimResult) -> SimResult:
        """The result with the links' rows and bill added to its cost."""
        usd = sum(row.cost_usd for row in self.links.values())
        cost = result.cost_usd + usd
        return result.model_copy(
            update={
                "links": list(self.links.values()),
                "transfer_usd": usd,
                "cost_usd": cost,
                "cost_per_task_usd": cost / result.tasks if result.tasks else 0.0,
            }
        )
