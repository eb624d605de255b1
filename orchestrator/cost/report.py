"""`dicec report BATCH_ID [--vs BASELINE_ID] -o DIR`: a batch's cost, from Redis.

Terminal tables (rich) and DIR/index.html with PNG plots: the paper-style table (time,
cost, cost per task, reduction versus the baseline batch), pools and functions, the
execution pattern of the first 50 tasks, pool load over time, latency per function.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import redis
from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dicec.errors import ComparisonError
from dicec.records import BatchMeta, CallTrace, TaskRecord
from orchestrator.batch.loadsampler import load_samples
from orchestrator.cost import plots as report_plots
from orchestrator.cost.accounting import BatchCost, Comparison, batch_cost, compare, load_batch
from orchestrator.cost.likeness import Work, batch_work, differences
from orchestrator.cost.timeline import busy_by_worker, busy_workers_binned, dedupe
from orchestrator.cost.transfer import call_transfer_s

LOAD_BINS = 200

TEMPLATE = Path(__file__).parent / "templates" / "report.html"


class Report(BaseModel):
    batch_id: str
    cost: BatchCost
    comparison: Comparison | None = None
    index: Path
    images: list[Path]
    load_sampled: bool
    headline: list[str] = []


def make_report(
    r: redis.Redis,
    batch_id: str,
    out_dir: Path,
    vs: str | None = None,
    console: Console | None = None,
    allow_unlike: bool = False,
) -> Report:
    meta, tasks, traces = load_batch(r, batch_id)
    traces = dedupe(traces)
    cost = batch_cost(meta, tasks, traces)
    work = [batch_work(meta, traces)]
    comparison, base = None, None
    if vs:
        base = load_batch(r, vs)
        work.insert(0, batch_work(base[0], base[2]))
        comparison = compare(batch_cost(*base), cost)
    headline = _headline(work, allow_unlike)
    samples = load_samples(r, batch_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    images = _plots(meta, cost, tasks, traces, samples, out_dir)
    if base is not None:
        images.append(_comparison_plot(base, batch_cost(*base), meta, traces, cost, out_dir))
    tables = [paper_table(cost, comparison), pools_table(cost), functions_table(cost)]
    if cost.transfers:
        tables.append(transfers_table(cost))
    if console is not None:
        for line in headline:
            console.print(escape(line), soft_wrap=True)
        for table in tables:
            console.print(table.rich())
        if not samples:
            console.print("CPU / GPU load: not sampled for this batch")
    index = out_dir / "index.html"
    index.write_text(_html(meta, cost, tables, images, bool(samples), headline))
    return Report(
        batch_id=batch_id,
        cost=cost,
        comparison=comparison,
        index=index,
        images=images,
        load_sampled=bool(samples),
        headline=headline,
    )


def _headline(work: list[Work], allow_unlike: bool) -> list[str]:
    """First lines of the report: what each batch computed; unlike batches refused."""
    lines = [f"work of {w.line()}" for w in work]
    if len(work) == 1:
        return lines
    found = differences(*work)
    if not found:
        return ["Both batches did the same work (comparable):", *lines]
    why = "; ".join(found)
    if not allow_unlike:
        raise ComparisonError(
            f"refusing to compare the cost of unlike batches ({why}): {' | '.join(lines)}. "
            "Rerun the cached batch with --no-cache, or pass --allow-unlike"
        )
    return [f"UNLIKE BATCHES (--allow-unlike): {why}; the comparison below misleads", *lines]


def _plots(
    meta: BatchMeta, cost: BatchCost, tasks: list, traces: list, samples: list, out_dir: Path
) -> list[Path]:
    t0 = cost.started_at
    replicas = {p.pool: p.replicas for p in cost.pools}
    return [
        _gantt(meta, cost, tasks, traces, out_dir / "gantt.png"),
        report_plots.pool_load(
            busy_workers_binned(busy_by_worker(traces), t0, cost.finished_at, LOAD_BINS),
            replicas,
            samples,
            t0,
            out_dir / "pool_load.png",
        ),
        report_plots.latency(traces, out_dir / "latency.png"),
    ]


def _comparison_plot(
    base: tuple, base_cost: BatchCost, meta: BatchMeta, traces: list, cost: BatchCost, out: Path
) -> Path:
    panels = []
    for label, m, tr, c in (
        ("baseline", base[0], dedupe(base[2]), base_cost),
        ("batch", meta, traces, cost),
    ):
        series = busy_workers_binned(busy_by_worker(tr), c.started_at, c.finished_at, LOAD_BINS)
        title = f"{label} {m.batch_id} ({m.mode}): {c.makespan_s:.1f} s, ${usd(c.cost_usd)}"
        panels.append((title, series, c.makespan_s))
    return report_plots.side_by_side(panels, out / "comparison.png")


def _gantt(
    meta: BatchMeta,
    cost: BatchCost,
    tasks: list[TaskRecord],
    traces: list[CallTrace],
    path: Path,
) -> Path:
    """The Gantt chart, with each shipped call's transfer when the batch had a link."""
    return report_plots.gantt(
        tasks,
        traces,
        cost.started_at,
        path,
        transfer_s={t.call_id: call_transfer_s(meta, t) for t in traces if t.transfer_bytes},
        link=", ".join(x.link for x in cost.transfers) or None,
    )


def usd(value: float) -> str:
    return f"{value:.2f}" if value >= 1 else f"{value:.4f}" if value >= 1e-4 else f"{value:.2e}"


def _row(cost: BatchCost, reduction: str) -> list[str]:
    return [
        cost.batch_id,
        cost.mode,
        ", ".join(f"{p.pool} x{p.replicas}" for p in cost.pools),
        str(cost.tasks),
        f"{cost.makespan_s:.1f} s ({cost.makespan_min:.2f} min)",
        usd(cost.cost_usd),
        usd(cost.cost_per_task_usd),
        reduction,
    ]


@dataclass
class TableData:
    """A table once, rendered twice: rich in the terminal, HTML in the page."""

    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)

    def rich(self) -> Table:
        table = Table(*self.columns, title=self.title)
        # Full batch ids, never cut: the first column is as wide as its longest cell.
        table.columns[0].no_wrap = True
        table.columns[0].min_width = max((len(row[0]) for row in self.rows), default=0)
        for row in self.rows:
            table.add_row(*row)
        return table

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
            for row in self.rows
        )
        return f"<h2>{html.escape(self.title)}</h2><table><tr>{head}</tr>{body}</table>"


def paper_table(cost: BatchCost, comparison: Comparison | None) -> TableData:
    table = TableData(
        "Time and cost (nodes billed for the whole run)",
        ["batch", "mode", "nodes", "tasks", "time", "cost $", "$ / task", "reduction vs baseline"],
    )
    if comparison is None:
        table.rows.append(_row(cost, "-"))
        return table
    table.rows.append(_row(comparison.baseline, "(baseline)"))
    reduction = (
        f"cost {100 * comparison.cost_reduction:.1f} %, "
        f"time {100 * comparison.time_reduction:.1f} %"
    )
    table.rows.append(_row(cost, reduction))
    return table


def pools_table(cost: BatchCost) -> TableData:
    table = TableData(
        "Pools",
        ["pool", "$/h", "replicas", "calls", "busy s", "billed s", "util", "cost $", "idle $"],
    )
    for p in cost.pools:
        table.rows.append(
            [
                p.pool,
                f"{p.price_per_hour:.2f}" if p.priced else "unpriced",
                str(p.replicas),
                str(p.calls),
                f"{p.busy_s:.1f}",
                f"{p.provisioned_s:.1f}",
                f"{100 * p.utilisation:.0f} %",
                usd(p.cost_usd),
                usd(p.idle_cost_usd),
            ]
        )
    return table


def functions_table(cost: BatchCost) -> TableData:
    table = TableData(
        "Functions (cost: their pools' cost by share of busy time)",
        ["function", "calls", "computed", "errors", "busy s", "mean latency s", "cost $"],
    )
    for f in cost.functions:
        table.rows.append(
            [
                f.function,
                str(f.calls),
                str(f.computed),
                str(f.errors),
                f"{f.busy_s:.1f}",
                f"{f.mean_latency_s:.3f}",
                usd(f.cost_usd),
            ]
        )
    if cost.unattributed_usd > 0:
        table.rows.append(
            ["(pools that ran no call)", "", "", "", "", "", usd(cost.unattributed_usd)]
        )
    return table


def transfers_table(cost: BatchCost) -> TableData:
    table = TableData(
        "Transfers between sites (images and crops shipped to calls at another site than "
        "Redis; photos uploaded to a Redis away from the camera)",
        ["link", "calls", "uploads", "bytes", "MB", "$/GB", "transfer s", "cost $"],
    )
    for x in cost.transfers:
        table.rows.append(
            [
                x.link,
                str(x.calls),
                str(x.uploads),
                str(x.bytes),
                f"{x.bytes / 1e6:.3f}",
                f"{x.price_per_gb:.3f}",
                f"{x.transfer_s:.2f}",
                usd(x.cost_usd),
            ]
        )
    return table


def _html(
    meta: BatchMeta,
    cost: BatchCost,
    tables: list[TableData],
    images: list[Path],
    sampled: bool,
    headline: list[str],
) -> str:
    facts = {
        "program": meta.program_name,
        "mode": meta.mode,
        "tasks": f"{meta.tasks} ({cost.ok} ok, {cost.errors} errors)",
        "images": f"{len(set(meta.images))} distinct, from {meta.images_dir}",
        "pools file": meta.pools_file,
        "checkpoints": meta.checkpoints,
        "status": meta.status,
    }
    facts_html = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in facts.items()
    )
    head = "".join(f"<p class='warn'>{html.escape(line)}</p>" for line in headline)
    warning = head + (
        "<p class='warn'>Small offline checkpoints (random weights): times are this "
        "machine's, answers mean nothing.</p>"
        if meta.checkpoints == "small"
        else ""
    )
    load_note = "" if sampled else "<p>CPU / GPU load: not sampled for this batch.</p>"
    figures = "".join(
        f"<figure><img src='{html.escape(p.name)}' alt='{html.escape(p.stem)}'></figure>"
        for p in images
    )
    return TEMPLATE.read_text().format(
        title=html.escape(f"Batch {meta.batch_id}"),
        warning=warning,
        facts=facts_html,
        tables="".join(t.html() for t in tables),
        load_note=load_note,
        figures=figures,
    )
