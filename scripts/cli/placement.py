"""`dicec plan --pools` on a multi-site file: why the chosen placement won.

One row per placement of the functions on sites, and of Redis and the orchestrator (the
broker), that the planner tried, cheapest first: what each task ships over the link (its
photo's upload to a broker away from the images, the images and crops of calls served
away from the broker: time and money), the round trips its calls' messages wait for on
the link (fetch, ack, events: a Celery worker's per message), against what its compute
costs.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Column, Table

from orchestrator.planning.layout import PlacementTried
from orchestrator.planning.planner import Plan
from worker_models.pools import PoolsFile

SECONDS_PER_MINUTE = 60.0
MICRO = 1e6  # the table's money: micro-dollars (µ$) per task


def placement_label(tried: PlacementTried) -> str:
    by_site: dict[str, list[str]] = {}
    for function, site in sorted(tried.placement.items()):
        by_site.setdefault(site, []).append(function)
    return " | ".join(f"{site}: {', '.join(fns)}" for site, fns in sorted(by_site.items()))


def print_placements(found: Plan, layout: PoolsFile, console: Console) -> None:
    links = Table("link", "Mbit/s", "RTT ms", "$/GB", title=f"images taken at {layout.images_at!r}")
    for link in layout.links:
        links.add_row(
            link.label(), f"{link.bandwidth_mbps:g}", f"{link.rtt_ms:g}", f"{link.price_per_gb:g}"
        )
    console.print(links)
    tasks = max(1, found.simulated.tasks)
    chosen = {p.name: p.site for p in found.pools.pools}
    chosen_placement = {f: chosen[p.name] for p in found.pools.pools for f in p.functions}
    broker = found.pools.broker_site()
    table = Table(
        Column("placement", ratio=3),
        Column("broker", no_wrap=True),
        Column("makespan min", justify="right"),
        Column("transfer s", justify="right"),
        Column("round trips", justify="right"),
        Column("round trips s", justify="right"),
        Column("transfer µ$", justify="right"),
        Column("compute µ$", justify="right"),
        Column("total µ$", justify="right"),
        Column("", no_wrap=True),
        title="Placements tried, per task (each at its cheapest replicas meeting the deadline)",
    )
    for tried in found.placements:
        is_chosen = tried.placement == chosen_placement and tried.broker == broker
        mark = "chosen" if is_chosen else tried.note
        if tried.cost_usd is None:
            table.add_row(placement_label(tried), tried.broker, *["-"] * 7, mark)
            continue
        table.add_row(
            placement_label(tried),
            tried.broker,
            f"{(tried.makespan_s or 0.0) / SECONDS_PER_MINUTE:.1f}",
            f"{tried.transfer_s / tasks:.3f}",
            f"{tried.round_trips / tasks:.1f}",
            f"{tried.round_trips_s / tasks:.3f}",
            f"{tried.transfer_usd / tasks * MICRO:.0f}",
            f"{(tried.cost_usd - tried.transfer_usd) / tasks * MICRO:.0f}",
            f"{tried.cost_usd / tasks * MICRO:.0f}",
            mark,
        )
    console.print(table)
    console.print(broker_line(found.pools))
    chosen_row = next(
        (t for t in found.placements if t.placement == chosen_placement and t.broker == broker),
        None,
    )
    if chosen_row is not None:
        console.print(why_line(chosen_row, found.placements, tasks))


def broker_line(pools: PoolsFile) -> str:
    """Where the chosen plan puts Redis and the orchestrator, and what crosses the link."""
    broker, images = pools.broker_site(), pools.images_at
    away = sorted({p.site for p in pools.pools} - {broker})
    crossing = [f"the photos, once each ({images} -> {broker})"] if broker != images else []
    if away:
        crossing.append(f"the messages, images and crops of the pools at {', '.join(away)}")
    what = " and ".join(crossing) + " cross the link" if crossing else "nothing crosses the link"
    return f"broker (Redis + orchestrator) at {broker!r}, images taken at {images!r}: {what}"


def why_line(chosen: PlacementTried, tried: list[PlacementTried], tasks: int) -> str:
    """The chosen placement against the cheapest other one that met the deadline: where
    the difference per task comes from (link time, makespan billed, bytes' price)."""
    others = [t for t in tried if t is not chosen and t.cost_usd is not None]
    if chosen.cost_usd is None or not others:
        return (
            "why: no other placement could beat it (each one's floor, its compute at full use"
            " plus its bytes' price, was above this one's cost, or it missed the deadline)"
        )
    other = min(others, key=lambda t: t.cost_usd or 0.0)

    def per_task(t: PlacementTried) -> str:
        compute = ((t.cost_usd or 0.0) - t.transfer_usd) / tasks * MICRO
        minutes = (t.makespan_s or 0.0) / SECONDS_PER_MINUTE
        return (
            f"{placement_label(t)} (broker {t.broker}): {(t.cost_usd or 0.0) / tasks * MICRO:.0f}"
            f" µ$ per task = {compute:.0f} compute over {minutes:.1f} min"
            f" + {t.transfer_usd / tasks * MICRO:.0f} for the bytes; {t.transfer_s / tasks:.3f}"
            " s of link per task"
        )

    return f"why: chosen {per_task(chosen)}; next best {per_task(other)}"
