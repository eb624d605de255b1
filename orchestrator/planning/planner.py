"""The cheapest pool plan that meets a deadline: GPU type x replicas per function.

Search space: the functions of the call mix split into pools (functions may share a
pool, and so a GPU), each pool on one GPU type, with some number of replicas. Every
candidate split x GPU assignment gets a lower bound on its cost from its total work
(a pool can never cost less than its busy time at full utilisation); candidates are
tried cheapest bound first and skipped once the bound exceeds the best plan found
(branch and bound). For a candidate, replicas start at what the work needs to fit the
deadline and grow on the bottleneck pool until the simulator says the batch meets the
deadline; then each pool is trimmed while it still does.

Sites (a multi-site `layout` pools file: DiCE-M's edge and cloud): each GPU type is at
one site, so choosing a function's GPU type chooses where it runs. Each placement is
tried with Redis and the orchestrator (the broker) with the images, and, when all its
pools are at one other site, there too (the photos then cross once each, and no message
waits on the link). A function placed away from the broker ships its images over the
link: the bytes' price joins the bound, a candidate whose bytes cannot cross the link
within the deadline is never tried, and the simulator charges each call the link's
latency and bandwidth. A GPU type's `max_nodes` caps its replicas (an edge site has the
devices it has).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field

from dicec.errors import PlanError
from dicec.units import SECONDS_PER_HOUR
from orchestrator.planning.callmix import CallMix
from orchestrator.planning.layout import Layout, PlacementLog, PlacementTried
from orchestrator.planning.profiles import Profile
from orchestrator.planning.sim_stats import SimResult
from orchestrator.planning.simulator import SimConfig, simulate
from worker_models.pools import DEFAULT_SITE, Batching, GpuType, Pool, PoolsFile

# What the shipped pools files use: BLIP and X-VLM batch, detection does not.
DEFAULT_BATCHING: dict[str, Batching] = {
    "blip": Batching(max_batch_size=8),
    "xvlm": Batching(max_batch_size=16),
}
DEFAULT_CONCURRENCY = 2
MAX_REPLICAS = 64
SEARCH_TIME_S = 4.0
# Stop growing a candidate when this many steps in a row did not shorten the makespan.
NO_GAIN_STEPS = 3


class Plan(BaseModel):
    pools: PoolsFile
    simulated: SimResult
    placements: list[PlacementTried] = Field(default_factory=list)
    lower_bound_usd: float
    candidates: int
    simulations: int
    search_s: float
    complete: bool


@dataclass(frozen=True)
class _Candidate:
    blocks: tuple[tuple[str, ...], ...]
    gpus: tuple[str, ...]
    work_s: tuple[float, ...]  # device-seconds each pool must do, at best batching
    capacity: tuple[float, ...]  # device-seconds one replica does per second
    bound_usd: float
    link_s: float = 0.0  # the busiest link's wire time, all its bytes at full bandwidth
    broker: str = DEFAULT_SITE  # where Redis and the orchestrator run


def set_partitions(items: list[str]) -> Iterator[list[list[str]]]:
    """Every way to split items into non-empty groups (order-free)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for partition in set_partitions(rest):
        yield [[first], *partition]
        for i in range(len(partition)):
            yield [*partition[:i], [first, *partition[i]], *partition[i + 1 :]]


def critical_path_s(mix: CallMix, profile: Profile, gpu_types: list[str]) -> float:
    """The longest task's dependency chain, each call at its fastest: a floor on makespan."""
    fastest: dict[str, float] = {}
    for f in mix.function_counts():
        times = [profile.service_s(g, f, 1) for g in gpu_types if profile.supports(g, (f,))]
        fastest[f] = min(times) + profile.dispatch_overhead_s if times else 0.0
    longest = 0.0
    for task in mix.tasks:
        finish: list[float] = []
        for call in task.calls:
            ready = max((finish[d] for d in call.after), default=0.0)
            finish.append(ready + fastest[call.function])
        longest = max(longest, max(finish, default=0.0))
    return longest


def plan(
    call_mix: CallMix,
    profile: Profile,
    tasks: int | None,
    deadline_s: float,
    budget: float | None = None,
    gpu_types: list[str] | None = None,
    **options: Any,
) -> PoolsFile:
    """The cheapest pools file meeting the deadline (and budget); PlanError if none."""
    found = plan_detailed(call_mix, profile, tasks, deadline_s, budget, gpu_types, **options)
    return found.pools


def plan_detailed(
    call_mix: CallMix,
    profile: Profile,
    tasks: int | None,
    deadline_s: float,
    budget: float | None = None,
    gpu_types: list[str] | None = None,
    *,
    config: SimConfig | None = None,
    concurrency: int | None = None,
    batching: dict[str, Batching] | None = None,
    max_replicas: int = MAX_REPLICAS,
    search_s: float = SEARCH_TIME_S,
    layout: PoolsFile | None = None,
) -> Plan:
    mix = call_mix.resized(tasks) if tasks else call_mix
    search = _Search(
        mix,
        profile,
        deadline_s,
        config or SimConfig(),
        concurrency or _layout_concurrency(layout),
        DEFAULT_BATCHING if batching is None else batching,
        max_replicas,
    )
    search.layout = Layout(layout) if layout is not None else None
    default_types = sorted(layout.gpu_types) if layout is not None else sorted(profile.hardware)
    types = gpu_types or default_types
    floor_s = critical_path_s(mix, profile, types)
    if floor_s > deadline_s:
        raise PlanError(
            f"no pool plan meets the deadline of {deadline_s / 60:.1f} min: the longest task "
            f"alone takes {floor_s / 60:.1f} min on the fastest GPU type, however many replicas"
        )
    candidates = search.candidates(types)
    best = search.run(candidates, time.monotonic() + search_s)
    if best is None:
        raise PlanError(search.why_infeasible(deadline_s))
    pools, result = best
    if budget is not None and result.cost_usd > budget:
        raise PlanError(
            f"the cheapest plan meeting the deadline of {deadline_s / 60:.1f} min costs "
            f"${result.cost_usd:.2f}, over the budget of ${budget:.2f}"
        )
    return Plan(
        pools=pools,
        simulated=result,
        lower_bound_usd=min(c.bound_usd for c in candidates),
        candidates=len(candidates),
        simulations=search.simulations,
        search_s=search.elapsed_s,
        complete=search.complete,
        placements=search.placements.ordered(),
    )


def _layout_concurrency(layout: PoolsFile | None) -> int:
    """Processes per replica: a layout's own, else the default."""
    return max(p.concurrency for p in layout.pools) if layout else DEFAULT_CONCURRENCY


class _Search:
    def __init__(
        self,
        mix: CallMix,
        profile: Profile,
        deadline_s: float,
        config: SimConfig,
        concurrency: int,
        batching: dict[str, Batching],
        max_replicas: int,
    ) -> None:
        self.mix, self.profile, self.deadline_s, self.config = mix, profile, deadline_s, config
        self.concurrency, self.batching, self.max_replicas = concurrency, batching, max_replicas
        self.counts = mix.function_counts()
        self.simulations = 0
        self.elapsed_s = 0.0
        self.complete = True
        self.fastest: SimResult | None = None
        self.layout: Layout | None = None
        self.placements = PlacementLog()
        self.bytes: dict[str, int] = {}
        self.photo_bytes = 0  # what the tasks' photos weigh (each its largest image)
        for task in mix.tasks:
            for call in task.calls:
                self.bytes[call.function] = self.bytes.get(call.function, 0) + call.image_bytes
            self.photo_bytes += max((c.image_bytes for c in task.calls), default=0)

    def candidates(self, gpu_types: list[str]) -> list[_Candidate]:
        functions = sorted(self.counts)
        if not functions:
            raise PlanError("the call mix makes no calls: nothing to plan")
        out = []
        for partition in set_partitions(functions):
            out.extend(self._assignments([tuple(b) for b in partition], gpu_types))
        if not out:
            raise PlanError(
                f"no GPU type among {', '.join(gpu_types)} has profiled service times for "
                f"the functions {', '.join(functions)} (and the memory for them)"
            )
        return sorted(out, key=lambda c: c.bound_usd)

    def _assignments(
        self, blocks: list[tuple[str, ...]], gpu_types: list[str]
    ) -> Iterator[_Candidate]:
        options = [
            [g for g in gpu_types if self.profile.supports(g, b, self.concurrency)] for b in blocks
        ]

        def walk(i: int, chosen: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
            if i == len(blocks):
                yield chosen
                return
            for g in options[i]:
                yield from walk(i + 1, (*chosen, g))

        for gpus in walk(0, ()):
            work = tuple(self._work(b, g) for b, g in zip(blocks, gpus, strict=True))
            cap = tuple(
                min(float(self.concurrency), self.profile.hw(g).parallel_slots) for g in gpus
            )
            bound = sum(
                self.profile.hw(g).price_per_hour * w / c / SECONDS_PER_HOUR
                for g, w, c in zip(gpus, work, cap, strict=True)
            )
            brokers = self.layout.broker_sites(gpus) if self.layout else [DEFAULT_SITE]
            for broker in brokers:
                shipping, link_s = self._shipping(blocks, gpus, broker)
                if link_s <= self.deadline_s:
                    yield _Candidate(
                        tuple(blocks), gpus, work, cap, bound + shipping, link_s, broker
                    )
                else:
                    note = f"link busy {link_s / 60:.1f} min > deadline"
                    self.placements.note(self.layout, blocks, gpus, broker, note)

    def _shipping(
        self, blocks: list[tuple[str, ...]], gpus: tuple[str, ...], broker: str
    ) -> tuple[float, float]:
        """The links' bill for this placement, and the busiest link's wire time."""
        if self.layout is None:
            return 0.0, 0.0
        shipped = [(self.layout.upload_link(broker), self.photo_bytes)]
        for block, gpu in zip(blocks, gpus, strict=True):
            shipped.append(
                (self.layout.link_to(gpu, broker), sum(self.bytes.get(f, 0) for f in block))
            )
        usd, wire_s = 0.0, {}
        for link, nbytes in shipped:
            if link is None:
                continue
            usd += link.price_usd(nbytes)
            key = link.label()
            wire_s[key] = wire_s.get(key, 0.0) + link.transfer_s(nbytes) - link.transfer_s(0)
        return usd, max(wire_s.values(), default=0.0)

    def _work(self, block: tuple[str, ...], gpu: str) -> float:
        return sum(
            self.counts[f]
            * self.profile.function(gpu, f).min_per_call_s(self._batching(f).max_batch_size)
            for f in block
        )

    def _batching(self, function: str) -> Batching:
        return self.batching.get(function, Batching())

    def run(
        self, candidates: list[_Candidate], stop_at: float
    ) -> tuple[PoolsFile, SimResult] | None:
        started = time.monotonic()
        best: tuple[PoolsFile, SimResult] | None = None
        for cand in candidates:
            if best is not None and cand.bound_usd >= best[1].cost_usd:
                break  # every later candidate is bounded above the best found
            if time.monotonic() > stop_at:
                self.complete = False
                break
            found = self._fit(cand)
            if found:
                self.placements.record(self.layout, cand.blocks, cand.gpus, cand.broker, found[1])
            if found and (best is None or found[1].cost_usd < best[1].cost_usd):
                best = found
        self.elapsed_s = time.monotonic() - started
        return best

    def _fit(self, cand: _Candidate) -> tuple[PoolsFile, SimResult] | None:
        """Grow the bottleneck until the deadline is met, then trim; None if it never is."""
        replicas = [
            max(1, math.ceil(w / (c * self.deadline_s)))
            for w, c in zip(cand.work_s, cand.capacity, strict=True)
        ]
        room = self._caps(cand, replicas)
        replicas = [max(1, r + min(0, c)) for r, c in zip(replicas, room, strict=True)]
        if min(self._caps(cand, replicas)) < 0:
            return None  # more pools on a GPU type than its site has nodes
        best_makespan, no_gain = math.inf, 0
        while True:
            pools, result = self._simulate(cand, replicas)
            if result.makespan_s <= self.deadline_s:
                return self._trim(cand, replicas, (pools, result))
            no_gain = no_gain + 1 if result.makespan_s >= best_makespan * 0.999 else 0
            best_makespan = min(best_makespan, result.makespan_s)
            room = self._caps(cand, replicas)
            growable = [
                w / (c * r) if spare > 0 else -1.0
                for w, c, r, spare in zip(cand.work_s, cand.capacity, replicas, room, strict=True)
            ]
            if no_gain >= NO_GAIN_STEPS or max(growable) < 0:
                return None
            i = growable.index(max(growable))
            # Grow in proportion to the miss (tasks come in whole numbers: +1 can plateau).
            grown = math.ceil(replicas[i] * result.makespan_s / self.deadline_s)
            replicas[i] = min(replicas[i] + room[i], max(replicas[i] + 1, grown))

    def _caps(self, cand: _Candidate, replicas: list[int]) -> list[int]:
        """Replicas each pool may still add: max_replicas, and its GPU type's max_nodes
        shared with the other pools on that type (negative: already over)."""
        room = []
        for gpu, count in zip(cand.gpus, replicas, strict=True):
            limit = self.layout.max_nodes(gpu) if self.layout is not None else None
            if limit is None:
                room.append(self.max_replicas - count)
                continue
            used = sum(r for g, r in zip(cand.gpus, replicas, strict=True) if g == gpu)
            room.append(min(self.max_replicas - count, limit - used))
        return room

    def _trim(
        self, cand: _Candidate, replicas: list[int], found: tuple[PoolsFile, SimResult]
    ) -> tuple[PoolsFile, SimResult]:
        for i in range(len(replicas)):
            while replicas[i] > 1:
                replicas[i] -= 1
                pools, result = self._simulate(cand, replicas)
                if result.makespan_s > self.deadline_s or result.cost_usd >= found[1].cost_usd:
                    replicas[i] += 1
                    break
                found = (pools, result)
        return found

    def _simulate(self, cand: _Candidate, replicas: list[int]) -> tuple[PoolsFile, SimResult]:
        pools = self._pools_file(cand, replicas)
        result = simulate(self.mix, self.profile, pools, self.config)
        self.simulations += 1
        if self.fastest is None or result.makespan_s < self.fastest.makespan_s:
            self.fastest = result
        return pools, result

    def _pools_file(self, cand: _Candidate, replicas: list[int]) -> PoolsFile:
        gpu_types = {}
        pools = []
        for block, gpu, count in zip(cand.blocks, cand.gpus, replicas, strict=True):
            hw = self.profile.hw(gpu)
            gpu_types[gpu] = (
                self.layout.gpu_type(gpu)
                if self.layout is not None
                else GpuType(
                    price_per_hour=hw.price_per_hour,
                    memory_gb=hw.memory_gb,
                    product_label=hw.product_label,
                )
            )
            batching = {f: self.batching[f] for f in block if f in self.batching}
            pools.append(
                Pool(
                    name=pool_name(gpu, block),
                    gpu_type=gpu,
                    functions=list(block),
                    replicas=count,
                    concurrency=self.concurrency,
                    device=hw.device,
                    batching=batching,
                    site=self.layout.site_of_gpu(gpu) if self.layout else DEFAULT_SITE,
                )
            )
        name = f"plan-{self.mix.name}-{self.deadline_s / 60:.0f}min"
        if self.layout is None:
            return PoolsFile(name=name, gpu_types=gpu_types, pools=pools)
        return self.layout.pools_file(name, gpu_types, pools, cand.broker)

    def why_infeasible(self, deadline_s: float) -> str:
        fastest = self.fastest
        best = (
            f"the fastest plan tried finishes in {fastest.makespan_s / 60:.1f} min"
            if fastest
            else "no plan could be simulated"
        )
        cut = "" if self.complete else " (the search ran out of time)"
        return (
            f"no pool plan meets the deadline of {deadline_s / 60:.1f} min with at most "
            f"{self.max_replicas} replicas per pool: {best}{cut}"
        )


def pool_name(gpu: str, functions: tuple[str, ...]) -> str:
    raw = f"{gpu}-{'-'.join(functions)}".lower()
    return re.sub(r"[^a-z0-9-]", "-", raw)[:41]


def write_pools_file(pools: PoolsFile, path: Path, header: str = "") -> None:
    """Write a pools file that worker_models.pools.load_pools reads back unchanged."""
    data = pools.to_data()
    data.pop("mode", None)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comment + yaml.safe_dump(data, sort_keys=False, width=100))
