"""Submit a batch: N tasks of a program over a folder of images, through the worker pools.

    python scripts/submit_batch.py --program P --images DIR --tasks 1000 --seed S

Before the first task the program is checked (syntax, sandbox rules, known functions and
parameter names) and every function it can call must have a live pool: `--local auto`
starts the missing ones from the pools file, `--local no` refuses the batch. Progress
while it runs, a summary at the end (`--json` for a machine-readable one), `--export
results.jsonl` for every task's record, `--resume BATCH_ID` to complete an interrupted or
cancelled batch without redoing finished tasks. `dicec batch ...` manages batches.

Exit codes: 0 every task ok; 1 some tasks failed or are missing (the summary counts
them by error type); 2 refused (usage, configuration, preflight), nothing run.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Literal

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis
import typer
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.markup import escape

from dicec import keys
from dicec.errors import DicecError, PreflightError
from dicec.records import BatchMeta, LinkRecord, Mode
from dicec.redis_conn import sync_client
from dicec.services import ensure_redis
from dicec.settings import Settings, get_settings
from examples import example_program
from orchestrator.batch.driver import load_meta
from orchestrator.batch.loadsampler import sample_load
from orchestrator.batch.localpools import local_pools
from orchestrator.batch.poolwatch import describe_unserved, watch_pools
from orchestrator.batch.runner import BatchSummary, new_meta
from scripts.batch_progress import print_summary, run_with_progress
from scripts.cli.errors import EXIT_OK, EXIT_TASKS_FAILED, fail
from scripts.preflight import check_batch_program, pools_to_start, refuse_unserved
from worker_models.pools import PoolsFile, load_pools
from worker_models.registry import live_workers

err = Console(stderr=True)
LOG_DIR = Path("var/logs")


class SubmitOptions(BaseModel):
    """What a submission asks for (the command line's options, typed)."""

    model_config = ConfigDict(frozen=True)

    program: Path | None = None
    images: Path | None = None
    tasks: int = 1000
    seed: int = 0
    pools: str | None = None
    concurrency: int | None = None
    resume: str | None = None
    retry_errors: bool = False  # with resume: run the failed tasks again, keep the rest
    cache: bool = True
    local: Literal["auto", "yes", "no"] = "auto"
    # With local "no": pools started by someone else (compose, an autoscaler that scales
    # on queue length) get this long to come up before the batch stops; 0: refuse at once.
    wait_pools_s: float = 0.0
    json_out: bool = False
    export: Path | None = None
    mode: Mode = "distributed"
    nodes: int = 1
    batch_id: str | None = None


def submit(options: SubmitOptions, settings: Settings | None = None) -> BatchSummary:
    """Preflight, then run (or resume) the batch; raises DicecError when refused."""
    settings = settings or get_settings()
    pools_file = load_pools(options.pools)  # a bad pools file is refused before anything is sent
    with ExitStack() as stack:
        url = stack.enter_context(ensure_redis(settings, say=err.print))
        settings = settings.model_copy(update={"redis_url": url})
        r = sync_client(settings)
        meta = _meta(options, settings, pools_file)
        run_settings = settings.model_copy(update={"cache_enabled": options.cache and meta.cache})
        needed = _preflight(options, meta, r, pools_file, stack)
        if settings.checkpoints == "small":
            err.print(
                "[bold yellow]Using SMALL OFFLINE CHECKPOINTS[/] (random weights): the "
                "answers mean nothing; the code path is the real one."
            )
        err.print(
            f"batch {meta.batch_id}: {meta.tasks} tasks of {escape(meta.program_name)} "
            f"over {len(set(meta.images))} images"
        )
        waiting = options.local == "no" and options.wait_pools_s > 0
        give_up = (options.wait_pools_s, _stopper(r, meta.batch_id, options.wait_pools_s))
        give_up = give_up if waiting else None
        with sample_load(r, meta.batch_id):  # CPU/GPU load for the report's plot
            summary = run_with_progress(
                meta,
                run_settings,
                options.concurrency,
                options.json_out,
                lambda say: watch_pools(r, needed, say, give_up=give_up),
            )
        if options.export:
            from scripts.batch_results import write_results

            write_results(settings, meta.batch_id, options.export, "jsonl")
    return summary


def _meta(options: SubmitOptions, settings: Settings, pools_file: PoolsFile) -> BatchMeta:
    if options.resume:
        meta = asyncio.run(load_meta(settings, options.resume))
        if options.retry_errors:
            from scripts.batch_results import drop_failed

            dropped = drop_failed(settings, meta.batch_id)
            err.print(f"batch {meta.batch_id}: running its {dropped} failed task(s) again")
        return meta
    if options.program is None or options.images is None:
        raise DicecError("--program and --images are required (or --resume BATCH_ID)")
    meta = new_meta(
        program_path=options.program,
        images_dir=options.images,
        tasks=options.tasks,
        seed=options.seed,
        pools_file=pools_file.name,
        settings=settings.model_copy(update={"cache_enabled": options.cache}),
        mode=options.mode,
        nodes=options.nodes,
        batch_id=options.batch_id,
    )
    _price_meta(meta, pools_file)
    return meta


def _preflight(
    options: SubmitOptions,
    meta: BatchMeta,
    r: redis.Redis,
    pools_file: PoolsFile,
    stack: ExitStack,
) -> set[str]:
    """Check the program once; make sure every function it calls has a live pool."""
    needed = check_batch_program(meta.program_source, meta.program_name, r)
    if meta.mode == "baseline":
        _baseline_nodes(options, meta, r, stack)
        return set()
    if options.local == "yes":
        start = [p.name for p in pools_file.pools]
    elif options.local == "auto":
        start = pools_to_start(r, needed, pools_file)
    else:
        if options.wait_pools_s <= 0:
            refuse_unserved(r, needed, pools_file)
        start = []
    if start:
        err.print(f"starting pool(s) {', '.join(start)} of {pools_file.name!r} locally …")
        stack.enter_context(local_pools(options.pools, r, log_dir=LOG_DIR, only=start))
    return needed


def _stopper(r: redis.Redis, batch_id: str, wait_s: float) -> Callable[[list[str]], None]:
    """What to do when a function had no live pool for wait_s: stop the batch (resumable)."""

    def stop(functions: list[str]) -> None:
        r.set(keys.batch_cancel_key(batch_id), 1, ex=keys.BATCH_TTL_S)
        err.print(
            f"[bold red]error:[/] no live worker served {escape(describe_unserved(functions))} "
            f"within {wait_s:.0f} s: the batch stops (complete it with --resume {batch_id})"
        )

    return stop


def _baseline_nodes(
    options: SubmitOptions, meta: BatchMeta, r: redis.Redis, stack: ExitStack
) -> None:
    live = [w for w in live_workers(r) if w.pool == "baseline"]
    if live and options.local != "yes":
        return
    if options.local == "no":
        raise PreflightError(
            "no live baseline node serves queue monolith; start `dicec worker --monolith`"
        )
    err.print(f"starting {meta.nodes} baseline node(s) as local worker processes …")
    stack.enter_context(local_pools(options.pools, r, log_dir=LOG_DIR, monolith_nodes=meta.nodes))


def _price_meta(meta: BatchMeta, pools_file: PoolsFile) -> None:
    """What each pool costs per node-hour and how many nodes it has (for the cost report)."""
    if meta.mode == "baseline":
        if pools_file.baseline is None:
            raise DicecError(f"pools file {pools_file.name!r} has no baseline section")
        price = pools_file.gpu_types[pools_file.baseline.gpu_type].price_per_hour
        meta.pool_prices, meta.pool_replicas = {"baseline": price}, {"baseline": meta.nodes}
        return
    meta.pool_prices = {p.name: pools_file.price_per_hour(p) for p in pools_file.pools}
    meta.pool_replicas = {p.name: max(1, p.replicas) for p in pools_file.pools}
    if pools_file.is_multi_site():
        meta.pool_sites = {p.name: p.site for p in pools_file.pools}
        meta.images_at = pools_file.images_at
        meta.broker_at = pools_file.broker_at
        meta.links = [LinkRecord.model_validate(link.model_dump()) for link in pools_file.links]
        meta.remote_functions = pools_file.remote_functions()


def exit_code(summary: BatchSummary) -> int:
    return EXIT_OK if summary.errors == 0 and summary.missing == 0 else EXIT_TASKS_FAILED


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
    local: Annotated[
        str,
        typer.Option(
            help="auto: start the pools the program needs that have no live worker; "
            "yes: start every pool; no: refuse the batch when one is missing"
        ),
    ] = "auto",
    wait_pools: Annotated[
        float,
        typer.Option(
            help="with --local no: seconds the pools of the program's functions may take to "
            "come up (compose, an autoscaler) before the batch stops; 0: refuse at once"
        ),
    ] = 0.0,
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
    """Run N tasks of a program over a folder of images through the worker pools.

    Exit codes: 0 every task ok; 1 some tasks failed or are missing (the summary counts them by error type); 2 refused (usage, configuration, preflight): nothing was run.
    """  # noqa: E501 -- one paragraph, so that --help wraps it as one
    if mode not in ("distributed", "baseline"):
        fail(f"--mode must be distributed or baseline, not {mode!r}")
    if local not in ("auto", "yes", "no"):
        fail(f"--local must be auto, yes or no, not {local!r}")
    options = SubmitOptions(
        program=program,
        images=images,
        tasks=tasks,
        seed=seed,
        pools=pools,
        concurrency=concurrency,
        resume=resume,
        cache=not no_cache,
        local=local,  # type: ignore[arg-type]
        wait_pools_s=wait_pools,
        json_out=json_out,
        export=export,
        mode=mode,  # type: ignore[arg-type]
        nodes=nodes,
        batch_id=batch_id,
    )
    summary = submit_or_fail(options)
    print_summary(summary, json_out)
    raise typer.Exit(exit_code(summary))


def submit_or_fail(options: SubmitOptions) -> BatchSummary:
    """submit(), with every refusal as one line and exit code 2."""
    try:
        return submit(options)
    except Exception as exc:  # noqa: BLE001 - the front door: one line, never a traceback
        fail(exc)


def demo_main(tasks: int = 1000, seed: int = 7, json_out: bool = False) -> int:
    """The README's main job: checkpoints, images, Redis, pools, the claims batch."""
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    settings = get_settings()
    if settings.checkpoints == "small":
        build_small_checkpoints(settings.checkpoint_dir)
    images = Path("var/claims-images")
    generate_claims_images(images)
    export = Path("var/claims-results.jsonl")
    options = SubmitOptions(
        program=example_program("claims_distributed.py"),
        images=images,
        tasks=tasks,
        seed=seed,
        json_out=json_out,
        export=export,
    )
    summary = submit_or_fail(options)
    print_summary(summary, json_out)
    err.print(
        f"results: {export} (one JSON record per task); show them with "
        f"`dicec batch results {summary.batch_id}` and the batch with "
        f"`dicec batch status {summary.batch_id}` (while its Redis keeps it)"
    )
    return exit_code(summary)


if __name__ == "__main__":
    typer.run(main)
