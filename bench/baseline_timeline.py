"""Where a baseline task's wall time goes, from the batch's own records. The monolith
node holds several tasks and runs their calls one at a time in its model process, so what
is on the critical path is the time its models sit idle; the rest of each task's own
timeline (its child's start, the wire, its `done`) overlaps the other tasks' calls.

    .venv/bin/python bench/baseline_timeline.py [--tasks 100] [--rounds 2]
        [--runners jail,inprocess]

The realistic-cost workload of bench/throughput.py (224-px checkpoints, the fixed-box
serial claims program, 13 calls a task, cache off), through scripts/submit_batch.py in
baseline mode; `inprocess` is DICEC_PROGRAM_RUNNER=inprocess (the program not jailed),
to show in the same run what the jail adds. Rounds alternate the runners. From each
batch's task records and call traces in Redis (the node's clock for both), over all but
the first WARM_UP tasks:
- models idle: the window from the first counted task's start to the last task's end,
  less the time some call ran on the models, per task (the plain loop's is ~1 ms); split
  into idle with no call waiting (every task in flight between calls or between tasks:
  more tasks in flight shrink it) and idle with the next call already sent (the model
  process's own turnaround: its reply, the next line, the next call's inputs);
- before the first call (median per task): the task's start to its first call (the
  program's set-up; in the jail, the child's spawn);
- the wire: each call's reply to the next call (the program between calls; in the jail,
  the socket both ways), and each call's end on the models to its reply;
- after the last call: its reply to the task's end (the program's `done`);
- model: the calls' time on the models (what the plain loop also spends).
Tasks/s are printed too but move with the VM; the milliseconds move far less.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ["DICEC_CHECKPOINT_DIR"] = str(ROOT / "var" / "checkpoints-224")

from _harness import submit, submit_command  # noqa: E402
from _workload import MS_PER_S, SERIAL_PROGRAM, ensure_workload  # noqa: E402

from dicec import keys  # noqa: E402
from dicec.records import CallTrace, TaskRecord  # noqa: E402
from dicec.redis_conn import sync_client  # noqa: E402
from dicec.services import ensure_redis  # noqa: E402
from dicec.settings import get_settings  # noqa: E402

WARM_UP = 5  # the node's first tasks (its first calls of each model) are left out
IDLE = "models idle"
STARVED = "  no call waiting"
TURNAROUND = "  next call sent"
PARTS = (
    IDLE,
    STARVED,
    TURNAROUND,
    "before the first call",
    "the wire",
    "after the last call",
    "model",
)
LATENCIES = ("before the first call", "the wire", "after the last call")


def batch(runner: str, tasks: int, images: Path) -> tuple[float, dict[str, float]]:
    options = ["--mode", "baseline", "--nodes", "1", "--seed", "3", "--no-cache"]
    command = submit_command(SERIAL_PROGRAM, images, tasks, *options, "--local", "yes")
    previous = os.environ.get("DICEC_PROGRAM_RUNNER")
    os.environ["DICEC_PROGRAM_RUNNER"] = runner
    try:
        summary = submit(command, f"{runner} baseline batch")
    finally:
        os.environ.pop("DICEC_PROGRAM_RUNNER")
        if previous is not None:
            os.environ["DICEC_PROGRAM_RUNNER"] = previous
    if summary["errors"]:
        raise SystemExit(f"{runner}: {summary['errors']} of {tasks} tasks failed")
    return summary["tasks_per_s"], per_task_ms(summary["batch_id"])


def per_task_ms(batch_id: str) -> dict[str, float]:
    """Milliseconds per task of each part, from the batch's records and traces."""
    r = sync_client(get_settings())
    records = sorted(
        (TaskRecord.model_validate_json(x) for x in r.hvals(keys.batch_tasks_key(batch_id))),
        key=lambda t: t.started_at,
    )
    calls: dict[int, list[CallTrace]] = {}
    for raw in r.hvals(keys.batch_calls_key(batch_id)):
        trace = CallTrace.model_validate_json(raw)
        calls.setdefault(trace.task_index or 0, []).append(trace)
    parts: dict[str, list[float]] = {part: [] for part in PARTS}
    counted = records[WARM_UP:]
    for task in counted:
        traces = sorted(calls.get(task.index, []), key=lambda c: c.queued_at)
        if not traces or any(c.replied_at is None or c.finished_at is None for c in traces):
            continue
        parts["before the first call"].append(traces[0].queued_at - task.started_at)
        wire = sum(b.queued_at - a.replied_at for a, b in zip(traces, traces[1:], strict=False))
        wire += sum(c.replied_at - c.finished_at for c in traces)  # type: ignore[operator]
        parts["the wire"].append(wire)
        parts["after the last call"].append(task.finished_at - traces[-1].replied_at)  # type: ignore[operator]
        parts["model"].append(sum(c.finished_at - c.started_at for c in traces))  # type: ignore[operator]
    ms = {part: statistics.median(v) * MS_PER_S for part, v in parts.items() if v}
    start, end = counted[0].started_at, max(t.finished_at for t in counted)
    every_call = [c for cs in calls.values() for c in cs]
    spans = [(c.started_at or 0.0, c.finished_at or 0.0) for c in every_call]
    ms[IDLE] = (end - start - busy_s(spans, start, end)) / len(counted) * MS_PER_S
    starved, turnaround = idle_split(every_call, start, end)
    ms[STARVED] = starved / len(counted) * MS_PER_S
    ms[TURNAROUND] = turnaround / len(counted) * MS_PER_S
    return ms


def idle_split(calls: list[CallTrace], start: float, end: float) -> tuple[float, float]:
    """The gaps between consecutive calls on the models within [start, end], in seconds:
    those before a call that was sent only after the models fell idle, and the rest."""
    ran = sorted(
        (c.started_at, c.finished_at, c.queued_at)
        for c in calls
        if c.started_at is not None and c.finished_at is not None and c.started_at >= start
    )
    starved = turnaround = 0.0
    for (_, last_end, _), (nxt_start, _, nxt_sent) in zip(ran, ran[1:], strict=False):
        gap = min(nxt_start, end) - last_end
        if gap > 0:
            if nxt_sent > last_end:
                starved += gap
            else:
                turnaround += gap
    return starved, turnaround


def busy_s(spans: list[tuple[float, float]], start: float, end: float) -> float:
    """How long, within [start, end], at least one of the spans ran."""
    busy, reach = 0.0, start
    for a, b in sorted(spans):
        a, b = max(a, reach), min(b, end)
        if b > a:
            busy += b - a
            reach = b
    return busy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--runners", default="jail,inprocess")
    args = parser.parse_args()
    runners = [r.strip() for r in args.runners.split(",") if r.strip()]
    if not runners or set(runners) - {"jail", "inprocess"}:
        raise SystemExit("--runners: a comma-separated subset of jail,inprocess")
    if args.tasks <= WARM_UP + 1:
        raise SystemExit(f"--tasks: more than {WARM_UP + 1} (the first {WARM_UP} warm up)")
    images = Path(tempfile.mkdtemp(prefix="dicec-baseline-timeline-"))
    ensure_workload(images)
    results: dict[str, list[tuple[float, dict[str, float]]]] = {r: [] for r in runners}
    with ensure_redis(get_settings()):
        for round_no in range(args.rounds):
            for runner in runners:
                results[runner].append(batch(runner, args.tasks, images))
                rate, ms = results[runner][-1]
                print(
                    f"round {round_no + 1}: {runner}: {rate:.2f} tasks/s, model {ms['model']:.1f} "
                    f"ms a task, models idle {ms[IDLE]:.1f}",
                    flush=True,
                )
    print(f"\nms a task, medians of rounds ({args.tasks} tasks, the first {WARM_UP} left out):")
    print(f"{'':24s}" + "".join(f"{r:>12s}" for r in runners))
    for part in (*PARTS, "a task's own latencies"):
        cells = []
        for runner in runners:
            values = [
                sum(ms[k] for k in LATENCIES) if part == "a task's own latencies" else ms[part]
                for _, ms in results[runner]
            ]  # fmt: skip
            cells.append(f"{statistics.median(values):12.2f}")
        print(f"{part:24s}" + "".join(cells))
    print(f"{'tasks/s':24s}" + "".join(
        f"{statistics.median(rate for rate, _ in results[r]):12.2f}" for r in runners))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
