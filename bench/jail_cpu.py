"""Where a jailed task's CPU goes: the orchestrator, the zygote, the children.

    .venv/bin/python bench/jail_cpu.py [--tasks 600] [--photos N | --fresh] [--no-floor]

The claims program through run_task and the jail, as fast as it goes (sandbox_overhead's
runner, 64 tasks at a time); prints CPU ms per task of each process (the orchestrator's
os.times, the zygote's /proc/<pid>/stat, and the children the zygote reaped) and the page
faults per task of the zygote and per child (in a forked child these are mostly
copy-on-write page copies). Then, in the same run, the kernel's floor
(bench/_zygote_floor.py, in an interpreter the zygote's size): a bare fork and exit, and
one page copy, priced on this machine now; with them, how much of the task's CPU is
the kernel's process machinery and how much the three processes' own work.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sandbox_overhead import PHOTO_SIZE, photos, runner_rate

from orchestrator.program.jail.client import Jail, image_params

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARM_UP_TASKS = 5


def proc_stat(pid: int) -> dict[str, int]:
    """minflt, cminflt, utime, stime, cutime, cstime (ticks) of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    names = ("minflt", "cminflt", "_majflt", "_cmajflt", "ut", "st", "cut", "cst")
    return {name: int(value) for name, value in zip(names, fields[7:15], strict=True)}


def kernel_floor() -> dict[str, float]:
    """bench/_zygote_floor.py's figures (its own process: an interpreter built as the
    zygote's is, without the orchestrator's imports)."""
    script = Path(__file__).resolve().parent / "_zygote_floor.py"
    out = subprocess.run(
        [sys.executable, str(script), image_params()], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


async def measure(tasks: int, photo_count: int, fresh: bool) -> dict[str, float]:
    """Prints the task's CPU and page faults; returns CPU ms per task and copies per child."""
    jail = Jail()
    images = photos(photo_count, PHOTO_SIZE) if photo_count else None
    if fresh:  # a new photo for every measured task: each handed to the jail on its way
        images = photos(tasks, PHOTO_SIZE)
    try:
        await runner_rate(WARM_UP_TASKS, jail, None)
        zygote = jail._zygote.proc.pid  # type: ignore[union-attr]  # started by the warm-up
        before, times_before = proc_stat(zygote), os.times()
        rate = await runner_rate(tasks, jail, None, images, prime=not fresh)
        after, times_after = proc_stat(zygote), os.times()
    finally:
        jail.close()

    def per_task_ms(*keys: str) -> float:
        return 1000 * sum(after[k] - before[k] for k in keys) / CLOCK_TICKS / tasks

    orchestrator = sum(times_after[i] - times_before[i] for i in (0, 1)) * 1000 / tasks
    zygote_ms, children_ms = per_task_ms("ut", "st"), per_task_ms("cut", "cst")
    print(f"{tasks} jailed claims tasks, {rate:.0f} tasks/s; CPU ms per task: orchestrator "
          f"{orchestrator:.2f}, zygote {zygote_ms:.2f}, children {children_ms:.2f} "
          f"(user {per_task_ms('cut'):.2f}, sys {per_task_ms('cst'):.2f}), total "
          f"{orchestrator + zygote_ms + children_ms:.2f}; page faults: zygote "
          f"{(after['minflt'] - before['minflt']) / tasks:.0f} per task, "
          f"{(after['cminflt'] - before['cminflt']) / tasks:.0f} per child")  # fmt: skip
    return {
        "total_ms": orchestrator + zygote_ms + children_ms,
        "child_faults": (after["cminflt"] - before["cminflt"]) / tasks,
        "zygote_faults": (after["minflt"] - before["minflt"]) / tasks,
    }


def print_floor(task: dict[str, float], floor: dict[str, float]) -> None:
    """The kernel's share of the task just measured: a fork and exit, and a page copy per
    fault (the parent's faults after a fork are copies too while children share them)."""
    fork_exit = floor["fork_exit_parent_ms"] + floor["fork_exit_child_ms"]
    copies = (task["child_faults"] + task["zygote_faults"]) * floor["copy_us"] / 1000
    kernel = fork_exit + copies
    print(f"kernel floor, priced now in an interpreter the zygote's size "
          f"({floor['anon_mb']:.1f} MB anonymous, {floor['mappings']:.0f} mappings): fork + "
          f"exit {fork_exit:.2f} ms (parent {floor['fork_exit_parent_ms']:.2f}, child "
          f"{floor['fork_exit_child_ms']:.2f}), a page copy {floor['copy_us']:.2f} us; "
          f"this task: {kernel:.2f} ms of its {task['total_ms']:.2f} ms "
          f"({fork_exit:.2f} fork and exit + {copies:.2f} for its "
          f"{task['child_faults'] + task['zygote_faults']:.0f} faults, each priced as a copy); "
          f"the rest, {task['total_ms'] - kernel:.2f} ms, is the three processes' own work "
          f"(Python, syscalls, a fresh process's cold caches)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=600)
    parser.add_argument(
        "--photos", type=int, default=0, help="distinct 320x240 photos (default: one 64x48)"
    )
    parser.add_argument("--fresh", action="store_true", help="a new 320x240 photo every task")
    parser.add_argument("--no-floor", action="store_true", help="skip the kernel's floor")
    args = parser.parse_args()
    task = asyncio.run(measure(args.tasks, args.photos, args.fresh))
    if not args.no_floor:
        print_floor(task, kernel_floor())


if __name__ == "__main__":
    main()
