"""Cost commands: `dicec report`, `dicec profile`, `dicec plan`, `dicec paper-table`.

Mounted at the top level of the `dicec` CLI (scripts.cli.main copies these commands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dicec.errors import DicecError
from dicec.settings import MAX_CONCURRENT_TASKS
from dicec.units import BYTES_PER_MB
from orchestrator.planning.callmix import CallMix
from scripts.cli.errors import fail

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Cost, profiles, plans.")
out = Console()
err = Console(stderr=True)
BUILTIN_MIXES = ("claims", "claims-serial", "litter")
SEARCH_S = 4.0
LAYOUT_SEARCH_S = 30.0


@app.command()
def report(
    batch_id: str,
    vs: Annotated[str | None, typer.Option("--vs", help="baseline batch to compare with")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="folder for index.html")] = Path(
        "var/report"
    ),
    allow_unlike: Annotated[
        bool,
        typer.Option(
            "--allow-unlike",
            help="compare batches whose work differs (cache on/off, calls computed); the "
            "report then says so in its first line",
        ),
    ] = False,
) -> None:
    """Time, cost and plots of a batch (from Redis); with --vs, the reduction.

    With --vs the report first states whether both batches computed their calls (cache on
    or off, calls computed vs served from the cache) and refuses to compare unlike
    batches unless --allow-unlike is given.
    """
    from dicec.redis_conn import sync_client
    from orchestrator.cost.report import make_report

    try:
        made = make_report(
            sync_client(), batch_id, output, vs=vs, console=out, allow_unlike=allow_unlike
        )
    except DicecError as exc:
        fail(exc)
    out.print(f"wrote {made.index} and {len(made.images)} plots")


@app.command()
def profile(
    pools: Annotated[str, typer.Option(help="pools file (path or shipped name)")] = "local",
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("var/profile.yaml"),
    batch_sizes: Annotated[str, typer.Option(help="comma-separated batch sizes")] = "1,2,4,8",
    repeats: Annotated[int, typer.Option(help="timed passes per batch size")] = 3,
    functions: Annotated[str | None, typer.Option(help="only these (comma-separated)")] = None,
    image: Annotated[Path | None, typer.Option(help="image to profile with")] = None,
    through_workers: Annotated[
        bool,
        typer.Option(help="time the passes in real worker processes (needs Redis)"),
    ] = False,
    overheads: Annotated[
        bool,
        typer.Option(
            help="also measure the per-call costs of orchestrator, worker and dispatch on "
            "noop batches (needs Redis)"
        ),
    ] = False,
    program: Annotated[
        Path | None,
        typer.Option(help="with --overheads: the orchestrator's cost measured on this program"),
    ] = None,
    images: Annotated[
        Path | None, typer.Option(help="with --program: the images its calibration batches use")
    ] = None,
) -> None:
    """Measure service time against batch size on this hardware; save a profile file."""
    from contextlib import ExitStack

    from dicec.services import ensure_redis
    from dicec.settings import get_settings
    from orchestrator.planning.overheads import apply_overheads, measure_overheads
    from orchestrator.planning.profiles import save_profile
    from orchestrator.planning.profiling import load_image, measure_profile, parse_batch_sizes
    from orchestrator.planning.profiling_workers import (
        measure_profile_through_workers,
        profiling_pools,
    )
    from worker_models.pools import load_pools

    settings = get_settings()
    measure = measure_profile_through_workers if through_workers else measure_profile
    if (program is None) != (images is None) or (program and not overheads):
        fail(DicecError("--program and --images go together, and with --overheads"))
    sizes = parse_batch_sizes(batch_sizes)
    try:
        pools_file = load_pools(pools)
        with ExitStack() as stack:
            if through_workers or overheads:
                stack.enter_context(ensure_redis(settings, say=err.print))
            measured = measure(
                pools_file,
                get_settings(),
                sizes,
                repeats,
                functions.split(",") if functions else None,
                load_image(image),
                progress=err.print,
            )
            if overheads:
                calibration = profiling_pools(pools_file, None, max(sizes))
                costs = measure_overheads(get_settings(), err.print, program, images, calibration)
                apply_overheads(measured, costs)
    except DicecError as exc:
        fail(exc)
    flags = " --through-workers" * through_workers + " --overheads" * overheads
    save_profile(measured, output, header=f"Measured by `dicec profile --pools {pools}{flags}`.")
    out.print(f"wrote {output}")


def _call_mix(program: str, batch: str | None, samples: int) -> CallMix:
    from orchestrator.planning.callmix import (
        call_mix_from_program,
        call_mix_from_traces,
        claims_call_mix,
    )

    if batch:
        from dicec.redis_conn import sync_client
        from orchestrator.cost.accounting import load_batch

        meta, _, traces = load_batch(sync_client(), batch)
        return call_mix_from_traces(traces, tasks=meta.tasks)
    if program == "litter":
        from orchestrator.planning.callmix import litter_call_mix

        return litter_call_mix()
    if program in BUILTIN_MIXES:
        return claims_call_mix(serial=program == "claims-serial")
    path = Path(program)
    if not path.is_file():
        raise typer.BadParameter(f"--program {program!r}: not a file nor one of {BUILTIN_MIXES}")
    return call_mix_from_program(path.read_text(), samples=samples, name=path.stem)


@app.command()
def plan(
    program: Annotated[
        str, typer.Option(help="program file (run on the stand-in), or claims | claims-serial")
    ] = "claims",
    tasks: Annotated[int, typer.Option(help="tasks in the batch")] = 1000,
    deadline_min: Annotated[float, typer.Option(help="the batch must finish within this")] = 68.0,
    budget: Annotated[float | None, typer.Option(help="USD the batch may cost at most")] = None,
    profile_name: Annotated[str, typer.Option("--profile", help="profile file or name")] = (
        "reference"
    ),
    gpu_types: Annotated[str | None, typer.Option(help="only these GPU types")] = None,
    from_batch: Annotated[
        str | None, typer.Option(help="take the call mix from this batch's traces")
    ] = None,
    samples: Annotated[int, typer.Option(help="stand-in runs of the program")] = 8,
    max_concurrent_tasks: Annotated[
        int, typer.Option(help="orchestrator's task limit (DICEC_MAX_CONCURRENT_TASKS)")
    ] = MAX_CONCURRENT_TASKS,
    output: Annotated[Path, typer.Option("-o", "--output")] = Path("var/plan-pools.yaml"),
    pools: Annotated[
        str | None,
        typer.Option(help="a multi-site pools file (e.g. edge-cloud): its sites, GPU types, links"),
    ] = None,
    link_mbps: Annotated[
        float | None, typer.Option(help="with --pools: every link's bandwidth, Mbit/s")
    ] = None,
    link_rtt_ms: Annotated[
        float | None, typer.Option(help="with --pools: every link's round-trip time, ms")
    ] = None,
    link_price_per_gb: Annotated[
        float | None, typer.Option(help="with --pools: every link's price, USD per GB")
    ] = None,
    photo_mb: Annotated[
        float | None,
        typer.Option(
            help="what one photo weighs, MB (crops scale with it); default: the pools file's "
            "photo_bytes, else the mix's own (litter: 0.6 MB; a batch's: as traced)"
        ),
    ] = None,
    search_s: Annotated[
        float | None,
        typer.Option(help="search time limit, s (default 4; 30 with --pools: more choices)"),
    ] = None,
) -> None:
    """The cheapest pool plan meeting the deadline; written as a pools file.

    With --pools, functions are placed on the file's sites (edge, cloud) given its links."""
    from orchestrator.planning.planner import plan_detailed
    from orchestrator.planning.profiles import load_profile
    from orchestrator.planning.simulator import SimConfig

    try:
        layout = _layout(pools, link_mbps, link_rtt_ms, link_price_per_gb)
        mix = _with_photo_size(
            _call_mix(program, from_batch, samples), photo_mb, layout, from_batch
        )
        found = plan_detailed(
            mix,
            load_profile(profile_name),
            tasks,
            deadline_min * 60.0,
            budget,
            gpu_types.split(",") if gpu_types else None,
            config=SimConfig(max_concurrent_tasks=max_concurrent_tasks),
            layout=layout,
            search_s=search_s or (LAYOUT_SEARCH_S if layout else SEARCH_S),
        )
    except DicecError as exc:
        fail(exc)
    _print_plan(found, mix, profile_name, tasks, deadline_min, output)
    if layout is not None:
        from scripts.cli.placement import print_placements

        print_placements(found, layout, out)


def _with_photo_size(mix, photo_mb, layout, from_batch):  # noqa: ANN001, ANN202
    """The mix with its photos at --photo-mb, else at the pools file's photo_bytes (not for a
    traced batch: its bytes were measured)."""
    if photo_mb is not None:
        if photo_mb <= 0:
            raise DicecError(f"--photo-mb must be positive, got {photo_mb}")
        return mix.with_photo_bytes(round(photo_mb * BYTES_PER_MB))
    if layout is not None and layout.photo_bytes and not from_batch:
        return mix.with_photo_bytes(layout.photo_bytes)
    return mix


def _layout(  # noqa: ANN202
    pools: str | None,
    link_mbps: float | None,
    link_rtt_ms: float | None,
    link_price_per_gb: float | None = None,
):
    if pools is None:
        if link_mbps is not None or link_rtt_ms is not None or link_price_per_gb is not None:
            raise DicecError(
                "--link-mbps, --link-rtt-ms and --link-price-per-gb need --pools "
                "(a multi-site file)"
            )
        return None
    from worker_models.pools import load_pools

    layout = load_pools(pools)
    if not layout.links:
        raise DicecError(f"pools file {pools!r} describes no links between sites")
    for link in layout.links:
        if link_mbps is not None:
            if link_mbps <= 0:
                raise DicecError(f"--link-mbps must be positive, got {link_mbps}")
            link.bandwidth_mbps = link_mbps
        if link_rtt_ms is not None:
            link.rtt_ms = max(0.0, link_rtt_ms)
        if link_price_per_gb is not None:
            if link_price_per_gb < 0:
                raise DicecError(f"--link-price-per-gb must be >= 0, got {link_price_per_gb}")
            link.price_per_gb = link_price_per_gb
    return layout


def _print_plan(found, mix, profile_name, tasks, deadline_min, output) -> None:  # noqa: ANN001
    from orchestrator.planning.planner import write_pools_file

    sim = found.simulated
    header = (
        f"Planned by `dicec plan` with profile {profile_name!r}: {tasks} tasks of "
        f"{mix.name}, deadline {deadline_min} min.\nSimulated: {sim.makespan_min:.1f} min, "
        f"${sim.cost_usd:.2f}."
    )
    write_pools_file(found.pools, output, header=header)
    table = Table(
        "pool", "site", "GPU", "functions", "replicas", "concurrency", "utilisation", "cost $"
    )
    for pool in found.pools.pools:
        ps = sim.pool(pool.name)
        table.add_row(
            pool.name,
            pool.site,
            pool.gpu_type,
            ", ".join(pool.functions),
            str(pool.replicas),
            str(pool.concurrency),
            f"{100 * ps.utilisation:.0f} %",
            f"{ps.cost_usd:.2f}",
        )
    out.print(table)
    out.print(
        f"simulated makespan {sim.makespan_min:.1f} min (deadline {deadline_min} min), cost "
        f"${sim.cost_usd:.2f}, ${sim.cost_per_task_usd:.5f} per task; "
        f"{found.simulations} simulations in {found.search_s:.1f} s"
        + ("" if found.complete else " (search cut short by its time limit)")
    )
    out.print(f"wrote {output}")


@app.command("paper-table")
def paper_table(
    profile_name: Annotated[str, typer.Option("--profile", help="profile file or name")] = (
        "reference"
    ),
    seed: Annotated[int, typer.Option(help="seed of the batch's image assignment")] = 0,
    no_plan: Annotated[bool, typer.Option("--no-plan", help="skip the planner")] = False,
) -> None:
    """The paper's two tables, simulated with the profile, next to its figures."""
    from orchestrator.planning.callmix import claims_call_mix
    from orchestrator.planning.paper_table import paper_tables, render
    from orchestrator.planning.profiles import load_profile

    try:
        tables = paper_tables(
            load_profile(profile_name), claims_call_mix(seed=seed), with_plan=not no_plan
        )
    except DicecError as exc:
        fail(exc)
    render(tables, out)
    measured = load_profile(profile_name).measured
    if not measured:
        out.print(
            "[dim]The profile is derived from public figures and calibrated to the paper's "
            "1-node baseline (141 min); it is not a measurement.[/]"
        )
