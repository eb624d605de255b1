"""Submit a batch: N tasks of a program over a folder of images, through the worker pools.

    python scripts/submit_batch.py --program P --images DIR --tasks 1000 --seed S

Progress while it runs, a summary at the end (`--json` for a machine-readable one),
`--export results.jsonl` for every task's record, `--resume BATCH_ID` to complete an
interrupted batch without redoing finished tasks.
"""

from __future__ import annotations

import asyncio
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from dicec.errors import DicecError
from dicec.records import TaskRecord
from dicec.redis_conn import sync_client
from dicec.services import ensure_redis
from dicec.settings import get_settings
from examples import example_program
from orchestrator.batch.driver import load_meta, run_batch
from orchestrator.batch.loadsampler import sample_load
from orchestrator.batch.localpools import local_pools
from orchestrator.batch.runner import BatchSummary, new_meta
from worker_models.pools import load_pools
from worker_models.registry import live_workers

err = Console(stderr=True)


def _print_summary(summary: BatchSummary, json_out: bool) -> None:
    if summary.interrupted:
        err.print(f"[bold red]interrupted:[/] {summary.interrupted}")
    if json_out:
        print(summary.model_dump_json(indent=2))
        return
    from rich.table import Table

    table = Table(title=f"batch {summary.batch_id} ({summary.mode})", show_header=False)
    for label, value in [
        ("tasks", summary.tasks),
        ("ok", summary.ok),
        ("errors", summary.errors),
        ("missing", summary.missing),
        ("ran in this run", summary.ran_now),
        ("wall time", f"{summary.wall_s:.1f} s"),
        ("tasks/s", f"{summary.tasks_per_s:.1f}"),
        ("calls", summary.calls),
        ("calls/s", f"{summary.calls_per_s:.1f}"),
        ("dispatch", ", ".join(f"{k}={v}" for k, v in summary.dispatch.items())),
    ]:
        table.add_row(label, str(value))
    Console().print(table)
    for line in summary.first_errors:
        err.print(f"[red]{line}[/]")


def _export(records_path: Path, batch_id: str) -> None:
    from dicec.redis_conn import async_client
    from orchestrator.batch.store import BatchStore

    async def load() -> list[TaskRecord]:
        aredis = async_client(get_settings())
        try:
            return await BatchStore(aredis, batch_id).load_tasks()
        finally:
            await aredis.aclose()

    with records_path.open("w") as fh:
        for record in asyncio.run(load()):
            fh.write(record.model_dump_json() + "\n")


def submit(
    *,
    program: Path | None,
    images: Path | None,
    tasks: int,
    seed: int,
    pools: str | None,
    concurrency: int | None,
    resume: str | None,
    no_cache: bool,
    local: str,
    json_out: bool,
    export: Path | None,
    mode: str = "distributed",
    nodes: int = 1,
    batch_id: str | None = None,
) -> BatchSummary:
    if no_cache:
        os.environ["DICEC_CACHE_ENABLED"] = "false"
        get_settings.cache_clear()
    settings = get_settings()
    pools_file = load_pools(pools)  # a bad pools file is refused before anything is sent
    with ExitStack() as stack:
        stack.enter_context(ensure_redis(settings, say=err.print))
        settings = get_settings()
        if resume:
            meta = asyncio.run(load_meta(settings, resume))
        else:
            if program is None or images is None:
                raise DicecError("--program and --images are required (or --resume BATCH_ID)")
            meta = new_meta(
                program_path=program,
                images_dir=images,
                tasks=tasks,
                seed=seed,
                pools_file=pools_file.name,
                settings=settings,
                mode=mode,
                nodes=nodes,
                batch_id=batch_id,
            )
            _price_meta(meta, pools_file)
        r = sync_client(settings)
        needed = "baseline" if meta.mode == "baseline" else None
        live = [w for w in live_workers(r) if (w.pool == "baseline") == (needed == "baseline")]
        if local == "yes" or (local == "auto" and not live):
            what = (
                f"{meta.nodes} baseline node(s)" if needed else f"the pools of {pools_file.name!r}"
            )
            err.print(f"starting {what} as local worker processes …")
            stack.enter_context(
                local_pools(
                    pools, r, log_dir=Path("var/logs"), monolith_nodes=meta.nodes if needed else 0
                )
            )
        if settings.checkpoints == "small":
            err.print(
                "[bold yellow]Using SMALL OFFLINE CHECKPOINTS[/] (random weights): the "
                "answers mean nothing; the code path is the real one."
            )
        err.print(
            f"batch {meta.batch_id}: {meta.tasks} tasks of {meta.program_name} "
            f"over {len(set(meta.images))} images"
        )
        with sample_load(r, meta.batch_id):  # CPU/GPU load for the report's plot
            summary = _run_with_progress(meta, settings, concurrency, json_out)
        if export:
            _export(export, meta.batch_id)
    return summary


def _price_meta(meta, pools_file) -> None:  # noqa: ANN001
    """What each pool costs per node-hour and how many nodes it has (for the cost report)."""
    if meta.mode == "baseline":
        if pools_file.baseline is None:
            raise DicecError(f"pools file {pools_file.name!r} has no baseline section")
        price = pools_file.gpu_types[pools_file.baseline.gpu_type].price_per_hour
        meta.pool_prices, meta.pool_replicas = {"baseline": price}, {"baseline": meta.nodes}
        return
    meta.pool_prices = {p.name: pools_file.price_per_hour(p) for p in pools_file.pools}
    meta.pool_replicas = {p.name: max(1, p.replicas) for p in pools_file.pools}


def _run_with_progress(meta, settings, concurrency, json_out):  # noqa: ANN001, ANN202
    columns = [
        TextColumn("[bold]tasks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("errors {task.fields[errors]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=json_out) as progress:
        bar = progress.add_task("tasks", total=meta.tasks, errors=0)
        errors = 0

        def on_task(record: TaskRecord) -> None:
            nonlocal errors
            errors += record.status == "error"
            progress.update(bar, advance=1, errors=errors)

        if meta.mode == "baseline":
            from orchestrator.batch.baseline import run_baseline_batch

            return asyncio.run(run_baseline_batch(meta, settings, on_task=on_task))
        return asyncio.run(run_batch(meta, settings, concurrency=concurrency, on_task=on_task))


def main(
    program: Annotated[
        Path | None, typer.Option(help="program file (serial or distributed)")
    ] = None,
    images: Annotated[Path | None, typer.Option(help="folder of images")] = None,
    tasks: Annotated[int, typer.Option(help="number of tasks")] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the image assignment")] = 0,
    pools: Annotated[str | None, typer.Option(help="pools file (path or shipped name)")] = None,
    concurrency: Annotated[int | None, typer.Option(help="tasks in flight at once")] = None,
    resume: Annotated[str | None, typer.Option(help="complete an interrupted batch")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="compute every call")] = False,
    local: Annotated[str, typer.Option(help="start local pools: auto|yes|no")] = "auto",
    json_out: Annotated[bool, typer.Option("--json", help="machine-readable summary")] = False,
    export: Annotated[Path | None, typer.Option(help="write every task record (JSONL)")] = None,
    mode: Annotated[
        str, typer.Option(help="distributed | baseline (the monolith)")
    ] = "distributed",
    nodes: Annotated[int, typer.Option(help="baseline nodes (monolith processes)")] = 1,
    batch_id: Annotated[
        str | None, typer.Option(help="id for a new batch (default: generated)")
    ] = None,
) -> None:
    if mode not in ("distributed", "baseline"):
        err.print(f"[bold red]error:[/] --mode must be distributed or baseline, not {mode!r}")
        raise typer.Exit(2)
    try:
        summary = submit(
            program=program,
            images=images,
            tasks=tasks,
            seed=seed,
            pools=pools,
            concurrency=concurrency,
            resume=resume,
            no_cache=no_cache,
            local=local,
            json_out=json_out,
            export=export,
            mode=mode,
            nodes=nodes,
            batch_id=batch_id,
        )
    except DicecError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(2) from None
    _print_summary(summary, json_out)
    raise typer.Exit(0 if summary.missing == 0 else 1)


def demo_main(tasks: int = 1000, seed: int = 7, json_out: bool = False) -> int:
    """The README's main job: checkpoints, images, Redis, pools, the claims batch."""
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    settings = get_settings()
    if settings.checkpoints == "small":
        build_small_checkpoints(settings.checkpoint_dir)
    images = Path("var/claims-images")
    generate_claims_images(images)
    try:
        summary = submit(
            program=example_program("claims_distributed.py"),
            images=images,
            tasks=tasks,
            seed=seed,
            pools=None,
            concurrency=None,
            resume=None,
            no_cache=False,
            local="auto",
            json_out=json_out,
            export=Path("var/claims-results.jsonl"),
        )
    except DicecError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        return 2
    _print_summary(summary, json_out)
    return 0 if summary.missing == 0 else 1


if __name__ == "__main__":
    typer.run(main)
