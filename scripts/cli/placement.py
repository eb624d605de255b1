"""`dicec plan --pools` on a multi-site file: why the chosen placement won.

One row per placement of the functions on sites that the planner tried, cheapest first:
what each task ships over the link (time and money), the time its calls' messages wait
on the link's round trips (fetch, ack, events: a Celery worker's per message), against
what its compute costs.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from orchestrator.planning.layout import PlacementTried
from orchestrator.planning.planner import Plan
from worker_models.pools import PoolsFile

SECONDS_PER_MINUTE = 60.0


def placement_label(tried: PlacementTried) -> str:
    by_site: dict[str, list[str]] = {}
    for function, site in sorted(tried.placement.items()):
        by_site.setdefault(site, []).append(function)
    return " | ".join(f"{site}: {', '.join(fns)}" for site, fns in sorted(by_site.items()))


def print_placements(found: Plan, layout: PoolsFile, console: Console) -> None:
    links = Table("link", "Mbit/s", "RTT ms", "$/GB", title=f"images at {layout.images_at!r}")
    for link in layout.links:
        links.add_row(
            link.label(), f"{link.bandwidth_mbps:g}", f"{link.rtt_ms:g}", f"{link.price_per_gb:g}"
        )
    console.print(links)
    tasks = max(1, found.simulated.tasks)
    chosen = {p.name: p.site for p in found.pools.pools}
    chosen_placement = {f: chosen[p.name] for p in found.pools.pools for f in p.functions}
    table = Table(
        "placement",
        "makespan min",
        "transfer s / task",
        "round trips s / task",
        "transfer $ / task",
        "compute $ / task",
        "total $ / task",
        "",
        title="Placements tried (each at its cheapest replicas meeting the deadline)",
    )
    for tried in found.placements:
        mark = "chosen" if tried.placement == chosen_placement else tried.note
        if tried.cost_usd is None:
            table.add_row(placement_label(tried), "-", "-", "-", "-", "-", "-", mark)
            continue
        table.add_row(
            placement_label(tried),
            f"{(tried.makespan_s or 0.0) / SECONDS_PER_MINUTE:.1f}",
            f"{tried.transfer_s / tasks:.3f}",
            f"{tried.round_trips_s / tasks:.3f}",
            f"{tried.transfer_usd / tasks:.6f}",
            f"{(tried.cost_usd - tried.transfer_usd) / tasks:.6f}",
            f"{tried.cost_usd / tasks:.6f}",
            mark,
        )
    console.print(table)
