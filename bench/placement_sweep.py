"""Where does the edge-cloud placement flip? `dicec plan`'s choice over a grid.

    .venv/bin/python bench/placement_sweep.py [--photo-mb 0.6,2,4,8] [--price 0,0.01,0.05,2]
        [--mbps 1000,100,20,10,5,1] [--tasks 1000] [--deadline-min 68]

The litter batch on the shipped `edge-cloud` pools file, planned as `dicec plan --program
litter --pools edge-cloud --photo-mb P --link-price-per-gb Q --link-mbps M` plans it,
for every photo size P and link price Q (rows) and bandwidth M (columns). Each cell:
where detection (yolov8) runs, `edge` or `cloud`, and the plan's µ$ per task. The
shipped file's assumptions (4 MB photos, $0.01/GB) are marked. The planner is the same
deterministic search as the CLI's, so a cell is reproducible with that command.
"""

from __future__ import annotations

import argparse

from _harness import ROOT  # noqa: F401 - puts the checkout on sys.path
from rich.console import Console
from rich.table import Table

from dicec.units import BYTES_PER_MB
from orchestrator.planning.callmix import litter_call_mix
from orchestrator.planning.planner import plan_detailed
from orchestrator.planning.profiles import load_profile
from orchestrator.planning.simulator import SimConfig
from scripts.cli.cost import LAYOUT_SEARCH_S  # `dicec plan --pools`'s search limit
from scripts.cli.placement import MICRO
from worker_models.pools import load_pools


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x]


def cell(photo_mb: float, price: float, mbps: float, tasks: int, deadline_s: float) -> str:
    layout = load_pools("edge-cloud")
    for link in layout.links:
        link.bandwidth_mbps, link.price_per_gb = mbps, price
    mix = litter_call_mix(tasks).with_photo_bytes(round(photo_mb * BYTES_PER_MB))
    found = plan_detailed(
        mix,
        load_profile(),
        None,
        deadline_s,
        config=SimConfig(),
        layout=layout,
        search_s=LAYOUT_SEARCH_S,
    )
    detection = next(p.site for p in found.pools.pools if "yolov8" in p.functions)
    return f"{detection} {found.simulated.cost_usd / tasks * MICRO:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--photo-mb", type=floats, default=floats("0.6,2,4,8"))
    parser.add_argument("--price", type=floats, default=floats("0,0.01,0.05,2"))
    parser.add_argument("--mbps", type=floats, default=floats("1000,100,20,10,5,1"))
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--deadline-min", type=float, default=68.0)
    args = parser.parse_args()
    shipped = load_pools("edge-cloud")
    shipped_row = ((shipped.photo_bytes or 0) / BYTES_PER_MB, shipped.links[0].price_per_gb)
    table = Table(
        "photo MB", "$/GB", *(f"{m:g} Mbit/s" for m in args.mbps),
        title="where yolov8 runs, and µ$ per task (litter, 1000 tasks, 20 ms RTT)",
    )  # fmt: skip
    console = Console()
    for photo_mb in args.photo_mb:
        for price in args.price:
            cells = [
                cell(photo_mb, price, m, args.tasks, args.deadline_min * 60.0) for m in args.mbps
            ]
            mark = " (shipped)" if (photo_mb, price) == shipped_row else ""
            table.add_row(f"{photo_mb:g}{mark}", f"{price:g}", *cells)
    console.print(table)


if __name__ == "__main__":
    main()
