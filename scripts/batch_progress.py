"""The terminal side of a running batch: the progress line and the closing summary."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dicec.records import BatchMeta, TaskRecord
from dicec.settings import Settings
from orchestrator.batch.driver import run_batch
from orchestrator.batch.poolwatch import SayFn, describe_unserved
from orchestrator.batch.runner import BatchSummary

err = Console(stderr=True)
Watch = Callable[[SayFn], AbstractContextManager[None]]


def print_summary(summary: BatchSummary, json_out: bool) -> None:
    if summary.interrupted:
        err.print(f"[bold red]interrupted:[/] {escape(summary.interrupted)}")
    if json_out:
        print(summary.model_dump_json(indent=2))
        return
    table = Table(title=f"batch {summary.batch_id} ({summary.mode})", show_header=False)
    by_type = ", ".join(f"{k} {v}" for k, v in summary.errors_by_type.items())
    for label, value in [
        ("tasks", summary.tasks),
        ("ok", summary.ok),
        ("errors", f"{summary.errors}" + (f" ({by_type})" if by_type else "")),
        ("missing", summary.missing),
        ("ran in this run", summary.ran_now),
        ("wall time", f"{summary.wall_s:.1f} s"),
        ("tasks/s", f"{summary.tasks_per_s:.1f}"),
        ("calls", summary.calls),
        ("calls/s", f"{summary.calls_per_s:.1f}"),
        ("dispatch", ", ".join(f"{k}={v}" for k, v in summary.dispatch.items())),
    ]:
        table.add_row(label, escape(str(value)))
    Console().print(table)
    for line in summary.first_errors:
        err.print(f"[red]{escape(line)}[/]")
    if summary.missing:
        err.print(
            f"{summary.missing} task(s) have no result: complete them with "
            f"`--resume {summary.batch_id}`"
        )


def run_with_progress(
    meta: BatchMeta, settings: Settings, concurrency: int | None, json_out: bool, watch: Watch
) -> BatchSummary:
    columns = [
        TextColumn("[bold]tasks"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("errors {task.fields[errors]}"),
        TextColumn("[red]{task.fields[unserved]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=json_out) as progress:
        bar = progress.add_task("tasks", total=meta.tasks, errors=0, unserved="")
        errors = 0

        def on_task(record: TaskRecord) -> None:
            nonlocal errors
            errors += record.status == "error"
            progress.update(bar, advance=1, errors=errors)

        def on_unserved(functions: list[str]) -> None:
            text = f"no live pool: {describe_unserved(functions)}" if functions else ""
            progress.update(bar, unserved=text)
            progress.console.print(
                f"[bold red]no live worker serves {escape(describe_unserved(functions))}[/]: "
                "its calls wait until one starts"
                if functions
                else "[green]every function has a live pool again[/]"
            )

        with watch(on_unserved):
            if meta.mode == "baseline":
                from orchestrator.batch.baseline import run_baseline_batch

                return asyncio.run(run_baseline_batch(meta, settings, on_task=on_task))
            return asyncio.run(run_batch(meta, settings, concurrency=concurrency, on_task=on_task))
