"""`dicec batch ...`: the batches in Redis — list, status, results, cancel, retry.

Exit codes: 0 ok; 1 (retry) some tasks failed again; 2 refused (unknown batch id, no
Redis, bad option).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import redis
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dicec.errors import BatchError
from dicec.redis_conn import sync_client
from dicec.settings import get_settings
from orchestrator.batch.status import BatchState, batch_state, recent_batches
from scripts.cli.errors import fail

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Batches in Redis: list, status, results, cancel, retry. "
    "Exit codes: 0 ok, 1 some tasks failed, 2 refused (unknown id, no Redis, bad option).",
)
out = Console()
err = Console(stderr=True)


def _when(epoch: float) -> str:
    return time.strftime("%m-%d %H:%M", time.localtime(epoch))


def _cost(r: redis.Redis, batch_id: str) -> str:
    from orchestrator.cost.accounting import batch_cost, load_batch
    from orchestrator.cost.report import usd

    meta, tasks, traces = load_batch(r, batch_id)
    return usd(batch_cost(meta, tasks, traces).cost_usd) if tasks else "-"


@app.command("list")
def list_batches(
    limit: Annotated[int, typer.Option(help="how many, newest first")] = 10,
    cost: Annotated[bool, typer.Option(help="also compute each batch's cost (slower)")] = True,
) -> None:
    """Recent batches with their status, counts and cost."""
    r = sync_client()
    table = Table("batch", "status", "tasks", "ok", "errors", "missing", "cache", "created")
    table.columns[0].no_wrap = True  # full batch ids, always
    if cost:
        table.add_column("cost $")
    for batch_id in recent_batches(r, limit):
        try:
            s = batch_state(r, batch_id, with_queues=False)
        except BatchError:  # an expired batch still in the index: skip it
            continue
        m = s.meta
        row = [batch_id, m.status, str(m.tasks), str(s.ok), str(s.errors), str(s.missing)]
        row += ["on" if m.cache else "off", _when(m.created_at)]
        table.add_row(*row, *([_cost(r, batch_id)] if cost else []))
    out.print(table)


def _print_state(s: BatchState) -> None:
    m = s.meta
    eta = "-" if s.eta_s is None else f"{s.eta_s:.0f} s"
    out.print(
        f"batch {m.batch_id}: {m.status}, {s.done}/{m.tasks} done ({s.ok} ok, {s.errors} "
        f"errors, {s.missing} missing), {s.tasks_per_s:.1f} tasks/s, ETA {eta}"
    )
    out.print(
        f"program {escape(m.program_name)}, mode {m.mode}, cache {'on' if m.cache else 'off'}"
    )
    if s.errors_by_type:
        out.print("errors by type: " + ", ".join(f"{k} {v}" for k, v in s.errors_by_type.items()))
    table = Table("function", "queue", "waiting", "pools", "workers", title="queues")
    for q in s.queues:
        workers = str(q.workers) if q.workers else "[bold red]0 (no live pool)[/]"
        table.add_row(q.function, q.queue, str(q.depth), ", ".join(q.pools) or "-", workers)
    out.print(table)


@app.command()
def status(batch_id: str, json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Progress, per-function queue depth and workers, errors by type, ETA."""
    state = batch_state(sync_client(), batch_id)
    if json_out:
        typer.echo(state.model_dump_json(indent=2, exclude={"meta": {"program_source", "images"}}))
        return
    _print_state(state)


@app.command()
def results(
    batch_id: str,
    fmt: Annotated[str, typer.Option("--format", help="jsonl | csv | parquet")] = "jsonl",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="file to write")] = None,
) -> None:
    """Every task's record as a file (default: BATCH_ID.FORMAT in this folder)."""
    from scripts.batch_results import write_results

    path = output or Path(f"{batch_id}.{fmt}")
    count = write_results(get_settings(), batch_id, path, fmt)
    out.print(f"wrote {count} task record(s) to {path}")


@app.command()
def cancel(batch_id: str) -> None:
    """Stop starting the batch's tasks (calls in flight finish); `--resume ID` completes it."""
    from orchestrator.batch.status import load_meta
    from scripts.batch_results import request_cancel

    meta = load_meta(sync_client(), batch_id)  # an unknown id is refused
    if meta.mode == "baseline":
        fail(f"batch {batch_id} is a baseline batch: its tasks were all queued at its start")
    if meta.status == "finished":
        fail(f"batch {batch_id} has finished: nothing to cancel")
    request_cancel(get_settings(), batch_id)
    out.print(
        f"batch {batch_id}: cancel requested; its running tasks finish. Complete it later "
        f"with `python scripts/submit_batch.py --resume {batch_id}` "
        f"or `dicec batch retry {batch_id}`"
    )


@app.command()
def retry(
    batch_id: str,
    errors: Annotated[bool, typer.Option("--errors", help="run the failed tasks again")] = False,
    pools: Annotated[str | None, typer.Option(help="pools file (path or shipped name)")] = None,
    local: Annotated[str, typer.Option(help="auto | yes | no (as submit_batch.py)")] = "auto",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Run the batch's missing tasks (and with --errors its failed ones); keep the rest."""
    from scripts.batch_progress import print_summary
    from scripts.submit_batch import SubmitOptions, exit_code, submit_or_fail

    if local not in ("auto", "yes", "no"):
        fail(f"--local must be auto, yes or no, not {local!r}")
    options = SubmitOptions(
        resume=batch_id,
        retry_errors=errors,
        pools=pools,
        local=local,
        json_out=json_out,  # type: ignore[arg-type]
    )
    summary = submit_or_fail(options)
    print_summary(summary, json_out)
    raise typer.Exit(exit_code(summary))
