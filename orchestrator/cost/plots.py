"""The report's PNG plots (matplotlib, Agg: Figure objects, no pyplot global state)."""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from dicec.records import CallTrace, LoadSample, TaskRecord
from orchestrator.cost.timeline import computed

GANTT_TASKS = 50
DPI = 110
WAIT_COLOUR = "#dddddd"
CACHED_COLOUR = "#999999"
TRANSFER_COLOUR = "#d62728"


def _colours(functions: list[str]) -> dict[str, str]:
    palette = [f"C{i}" for i in range(10)]
    return {fn: palette[i % len(palette)] for i, fn in enumerate(sorted(functions))}


def gantt(
    tasks: list[TaskRecord],
    traces: list[CallTrace],
    t0: float,
    path: Path,
    first: int = GANTT_TASKS,
    transfer_s: dict[str, float] | None = None,
    link: str | None = None,
) -> Path:
    """The execution pattern of the first tasks: one row per task, calls by function.

    With a link modelled, `transfer_s` (call id -> seconds) draws each shipped call's
    transfer (rtt + bytes / bandwidth) hatched over the start of the call: a worker fetches
    the pixels it needs when it starts a call."""
    transfer_s = transfer_s or {}
    shown = [t for t in tasks if t.index < first]
    fig = Figure(figsize=(11, max(3.0, 0.18 * len(shown) + 1.5)))
    ax = fig.add_subplot()
    for task in shown:
        ax.hlines(task.index, task.started_at - t0, task.finished_at - t0, color="black", lw=0.6)
    drawn = _draw_calls(
        ax, [t for t in traces if t.task_index is not None and t.task_index < first], t0, transfer_s
    )
    if not drawn["computed"]:
        _say(ax, "no call of these tasks was computed: every one was served from the cache")
    handles = [Patch(color=c, label=fn) for fn, c in drawn["computed"].items()]
    if drawn["computed"]:
        handles.append(Patch(color=WAIT_COLOUR, label="queued"))
    if drawn["cached"]:
        handles.append(Patch(color=CACHED_COLOUR, label="served from the cache"))
    if link is not None and drawn["transfer"]:
        handles.append(Patch(label=f"transfer over {link}", **_transfer_style()))
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8, ncols=min(4, len(handles)))
    ax.set_xlabel("seconds since the batch started")
    ax.set_ylabel("task index")
    ax.invert_yaxis()
    title = f"Execution pattern of the first {min(first, len(tasks))} tasks"
    ax.set_title(title + (f" (link {link} modelled)" if link else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _draw_calls(
    ax: Axes, traces: list[CallTrace], t0: float, transfer_s: dict[str, float]
) -> dict[str, dict[str, str]]:
    """Computed calls as bars (queued part grey, transfer hatched), cached ones as ticks;
    what was drawn."""
    colours = _colours(sorted({t.function for t in traces}))
    drawn: dict[str, dict[str, str]] = {"computed": {}, "cached": {}, "transfer": {}}
    for trace in traces:
        y = trace.task_index
        if computed(trace):
            start, end = (trace.started_at or 0.0) - t0, (trace.finished_at or 0.0) - t0
            queued = trace.queued_at - t0
            ax.barh(y, max(0.0, start - queued), left=queued, height=0.5, color=WAIT_COLOUR)
            colour = colours[trace.function]
            ax.barh(y, max(end - start, 1e-4), left=start, height=0.7, color=colour)
            drawn["computed"][trace.function] = colour
            shipped = transfer_s.get(trace.call_id, 0.0)
            if shipped > 0:
                ax.barh(y, shipped, left=start, height=0.7, **_transfer_style())
                drawn["transfer"]["link"] = TRANSFER_COLOUR
        elif trace.replied_at is not None:
            ax.plot([trace.replied_at - t0], [y], marker="|", color=CACHED_COLOUR)
            drawn["cached"][trace.function] = CACHED_COLOUR
    drawn["computed"] = dict(sorted(drawn["computed"].items()))
    return drawn


def _say(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


def side_by_side(
    panels: list[tuple[str, dict[str, list[tuple[float, float]]], float]], path: Path
) -> Path:
    """Busy workers per pool of each batch (title, series, makespan), one panel per batch
    on one shared time axis, so that the two runs compare at a glance."""
    fig = Figure(figsize=(11, 2.8 * len(panels) + 0.8))
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    longest = max((makespan for _, _, makespan in panels), default=1.0)
    for ax, (title, series, makespan) in zip(axes, panels, strict=True):
        for pool, steps in series.items():
            xs, ys = zip(*steps, strict=True)
            ax.step(xs, ys, where="post", label=pool)
        if series:
            ax.legend(fontsize=8, loc="upper right")
        else:
            _say(ax, "no call was computed: every call was served from the cache")
        ax.axvline(makespan, color="black", ls="--", lw=0.8)
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("busy workers")
    axes[-1].set_xlim(0, longest * 1.02)
    axes[-1].set_xlabel("seconds since each batch started")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def _transfer_style() -> dict[str, object]:
    return {"facecolor": "none", "edgecolor": TRANSFER_COLOUR, "hatch": "////"}


def pool_load(
    series: dict[str, list[tuple[float, float]]],
    replicas: dict[str, int],
    samples: list[LoadSample],
    t0: float,
    path: Path,
) -> Path:
    """Busy workers per pool over time; the host's CPU (and GPU) load when sampled."""
    fig = Figure(figsize=(11, 5.5))
    ax, ax_cpu = fig.subplots(2, 1, sharex=True)
    for pool, steps in series.items():
        xs, ys = zip(*steps, strict=True)
        ax.step(xs, ys, where="post", label=f"{pool} ({replicas.get(pool, '?')} replicas)")
    ax.set_ylabel("busy workers (mean per bin)")
    ax.set_title("Pool load over time")
    if series:
        ax.legend(fontsize=8)
    else:
        _say(ax, "no call was computed: every call was served from the cache")
    if samples:
        xs = [s.t - t0 for s in samples]
        ax_cpu.plot(xs, [s.cpu_percent for s in samples], label="CPU %")
        gpu = [
            (x, s.gpu_percent)
            for x, s in zip(xs, samples, strict=True)
            if s.gpu_percent is not None
        ]
        if gpu:
            ax_cpu.plot(*zip(*gpu, strict=True), label="GPU %")
        ax_cpu.set_ylim(0, 105)
        ax_cpu.legend(fontsize=8)
    else:
        ax_cpu.text(
            0.5,
            0.5,
            "CPU / GPU load: not sampled",
            ha="center",
            va="center",
            transform=ax_cpu.transAxes,
        )
    ax_cpu.set_ylabel("host load %")
    ax_cpu.set_xlabel("seconds since the batch started")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path


def latency(traces: list[CallTrace], path: Path) -> Path:
    """Per function: call latency (queued to replied) and service time on the worker."""
    done = [t for t in traces if computed(t) and t.replied_at is not None]
    functions = sorted({t.function for t in done})
    fig = Figure(figsize=(11, 4.5))
    ax_lat, ax_svc = fig.subplots(1, 2)
    if functions:
        lat = [
            [(t.replied_at or 0.0) - t.queued_at for t in done if t.function == f]
            for f in functions
        ]
        svc = [[t.service_s for t in done if t.function == f] for f in functions]
        ax_lat.boxplot(lat, tick_labels=functions, showfliers=True)
        ax_svc.boxplot(svc, tick_labels=functions, showfliers=True)
    else:
        for ax in (ax_lat, ax_svc):
            _say(ax, "no computed calls: every call was served from the cache")
    ax_lat.set_title("latency per call (queued to replied)")
    ax_svc.set_title("service time per call (on the worker)")
    for ax in (ax_lat, ax_svc):
        ax.set_ylabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    return path
