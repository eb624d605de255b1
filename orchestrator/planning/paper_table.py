"""The paper's two cost tables, simulated with a profile and printed next to its figures.

Identical hardware: the baseline monolith and DiCE-C both on A100 nodes. Different
hardware: baseline on A100 nodes, DiCE-C on A6000 + A4000 pairs. Figures from
../shared/reference-programs/README.md. Plus the planner's plan for the same batch and
deadline as the paper's 1-node DiCE-C run on the A6000 + A4000, and what it saves.
"""

from __future__ import annotations

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from orchestrator.planning.callmix import CallMix, claims_call_mix
from orchestrator.planning.planner import DEFAULT_BATCHING, plan_detailed
from orchestrator.planning.profiles import Profile
from orchestrator.planning.sim_stats import SimResult
from orchestrator.planning.simulator import BaselinePlan, SimConfig, simulate
from worker_models.pools import GpuType, Pool, PoolsFile

# (nodes, baseline min, DiCE-C min, baseline $, DiCE-C $, reduction %) from the paper.
PAPER_IDENTICAL = [
    (1, 141, 79, 5.17, 2.90, 44.0),
    (2, 75, 54, 5.50, 3.96, 28.0),
    (4, 36, 25, 5.28, 3.67, 30.6),
    (6, 26, 18, 5.72, 3.96, 30.8),
    (8, 17, 12, 4.99, 3.52, 29.4),
]
PAPER_DIFFERENT = [
    (1, 141, 68, 5.17, 1.47, 71.5),
    (2, 75, 35, 5.50, 1.52, 72.4),
    (4, 36, 17, 5.28, 1.47, 72.1),
    (8, 17, 8, 4.99, 1.39, 72.2),
]
BASELINE_GPU = "A100"
IDENTICAL_CONCURRENCY = 3  # one process per model service on the node
PAIR_CONCURRENCY = 2  # as in worker_models/pools_files/paper.yaml
# The deadline the planner gets: the paper's 1-node DiCE-C run on A6000 + A4000.
PLAN_DEADLINE_MIN = 68.0


class TableRow(BaseModel):
    nodes: int
    paper_baseline_min: float
    paper_dicec_min: float
    paper_baseline_usd: float
    paper_dicec_usd: float
    paper_reduction_pct: float
    sim_baseline_min: float
    sim_dicec_min: float
    sim_baseline_usd: float
    sim_dicec_usd: float

    @property
    def sim_reduction_pct(self) -> float:
        return 100.0 * (1.0 - self.sim_dicec_usd / self.sim_baseline_usd)


class PlanComparison(BaseModel):
    deadline_min: float
    plan: PoolsFile
    plan_result: SimResult
    hand_picked_result: SimResult
    search_s: float
    simulations: int

    @property
    def saving_pct(self) -> float:
        return 100.0 * (1.0 - self.plan_result.cost_usd / self.hand_picked_result.cost_usd)


class PaperTables(BaseModel):
    profile: str
    tasks: int
    identical: list[TableRow]
    different: list[TableRow]
    plan: PlanComparison | None = None


def identical_pools(nodes: int) -> PoolsFile:
    """DiCE-C on A100 nodes: every node hosts every model as its own service."""
    pool = Pool(
        name="a100",
        gpu_type="A100",
        functions=["glip", "blip", "xvlm"],
        replicas=nodes,
        concurrency=IDENTICAL_CONCURRENCY,
        device="cuda",
        batching=dict(DEFAULT_BATCHING),
    )
    return PoolsFile(
        name=f"identical-{nodes}", gpu_types={"A100": GpuType(price_per_hour=2.2)}, pools=[pool]
    )


def pair_pools(nodes: int, profile: Profile) -> PoolsFile:
    """The paper's hand-picked plan: detection and VQA on A6000s, matching on A4000s."""
    pools = [
        Pool(
            name="a6000",
            gpu_type="A6000",
            functions=["glip", "blip"],
            replicas=nodes,
            concurrency=PAIR_CONCURRENCY,
            device="cuda",
            batching={"blip": DEFAULT_BATCHING["blip"]},
        ),
        Pool(
            name="a4000",
            gpu_type="A4000",
            functions=["xvlm"],
            replicas=nodes,
            concurrency=PAIR_CONCURRENCY,
            device="cuda",
            batching={"xvlm": DEFAULT_BATCHING["xvlm"]},
        ),
    ]
    prices = {g: GpuType(price_per_hour=profile.hw(g).price_per_hour) for g in ("A6000", "A4000")}
    return PoolsFile(name=f"pair-{nodes}", gpu_types=prices, pools=pools)


def paper_tables(
    profile: Profile,
    mix: CallMix | None = None,
    config: SimConfig | None = None,
    with_plan: bool = True,
) -> PaperTables:
    mix = mix or claims_call_mix()
    config = config or SimConfig()
    nodes = sorted({row[0] for row in PAPER_IDENTICAL + PAPER_DIFFERENT})
    baseline = {
        n: simulate(mix, profile, BaselinePlan(gpu_type=BASELINE_GPU, nodes=n), config)
        for n in nodes
    }

    def rows(paper: list[tuple], pools_for) -> list[TableRow]:  # noqa: ANN001
        out = []
        for n, pb_min, pd_min, pb_usd, pd_usd, red in paper:
            dicec = simulate(mix, profile, pools_for(n), config)
            out.append(
                TableRow(
                    nodes=n,
                    paper_baseline_min=pb_min,
                    paper_dicec_min=pd_min,
                    paper_baseline_usd=pb_usd,
                    paper_dicec_usd=pd_usd,
                    paper_reduction_pct=red,
                    sim_baseline_min=baseline[n].makespan_min,
                    sim_dicec_min=dicec.makespan_min,
                    sim_baseline_usd=baseline[n].cost_usd,
                    sim_dicec_usd=dicec.cost_usd,
                )
            )
        return out

    tables = PaperTables(
        profile=profile.name,
        tasks=len(mix.tasks),
        identical=rows(PAPER_IDENTICAL, identical_pools),
        different=rows(PAPER_DIFFERENT, lambda n: pair_pools(n, profile)),
    )
    if with_plan:
        tables.plan = compare_plan(mix, profile, config)
    return tables


def compare_plan(mix: CallMix, profile: Profile, config: SimConfig) -> PlanComparison:
    deadline_s = PLAN_DEADLINE_MIN * 60.0
    found = plan_detailed(mix, profile, None, deadline_s, config=config)
    hand = simulate(mix, profile, pair_pools(1, profile), config)
    return PlanComparison(
        deadline_min=PLAN_DEADLINE_MIN,
        plan=found.pools,
        plan_result=found.simulated,
        hand_picked_result=hand,
        search_s=found.search_s,
        simulations=found.simulations,
    )


def render(tables: PaperTables, console: Console) -> None:
    titles = {
        "identical": "Identical hardware: baseline and DiCE-C on A100 nodes ($2.2/h)",
        "different": "Different hardware: baseline on A100, DiCE-C on A6000 + A4000 ($1.3/h)",
    }
    for key, title in titles.items():
        table = Table(title=f"{title}\nsimulated with profile {tables.profile!r} | paper")
        for column in ("nodes", "baseline min", "DiCE-C min", "baseline $", "DiCE-C $"):
            table.add_column(column, justify="right")
        table.add_column("reduction", justify="right")
        for row in getattr(tables, key):
            table.add_row(
                str(row.nodes),
                f"{row.sim_baseline_min:.0f} | {row.paper_baseline_min:.0f}",
                f"{row.sim_dicec_min:.0f} | {row.paper_dicec_min:.0f}",
                f"{row.sim_baseline_usd:.2f} | {row.paper_baseline_usd:.2f}",
                f"{row.sim_dicec_usd:.2f} | {row.paper_dicec_usd:.2f}",
                f"{row.sim_reduction_pct:.1f} % | {row.paper_reduction_pct:.1f} %",
            )
        console.print(table)
    if tables.plan:
        render_plan(tables.plan, console)


def render_plan(cmp: PlanComparison, console: Console) -> None:
    table = Table(
        title=f"Planner vs the paper's hand-picked plan (simulated, deadline "
        f"{cmp.deadline_min:.0f} min, {cmp.plan_result.tasks} tasks)"
    )
    for column in ("plan", "pools", "min", "$", "utilisation"):
        table.add_column(column)
    for label, pools, result in (
        ("hand-picked (paper)", "a6000[glip, blip] x1 + a4000[xvlm] x1", cmp.hand_picked_result),
        ("planner", _describe(cmp.plan), cmp.plan_result),
    ):
        table.add_row(
            label,
            escape(pools),
            f"{result.makespan_min:.1f}",
            f"{result.cost_usd:.2f}",
            ", ".join(f"{p.pool} {100 * p.utilisation:.0f} %" for p in result.pools),
        )
    console.print(table)
    console.print(
        f"planner saving over the hand-picked plan: [bold]{cmp.saving_pct:.1f} %[/] "
        f"({cmp.simulations} simulations in {cmp.search_s:.1f} s)"
    )


def _describe(pools: PoolsFile) -> str:
    return " + ".join(
        f"{p.name}[{', '.join(p.functions)}] x{p.replicas} ({p.gpu_type})" for p in pools.pools
    )
