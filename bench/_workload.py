"""The realistic-cost workload every runner of bench/throughput.py does: the same 224-px
checkpoints, the same 30 images, the fixed-box claims program (13 calls a task).

The crop boxes are read from the bench program itself, so the peer cannot drift from it.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from _harness import ROOT

from dicec.settings import Settings

PROGRAMS = ROOT / "bench" / "programs"
DISTRIBUTED_PROGRAM = PROGRAMS / "claims_fixed_distributed.py"
SERIAL_PROGRAM = PROGRAMS / "claims_fixed_serial.py"
CHECKPOINT_DIR_224 = ROOT / "var" / "checkpoints-224"
IMAGE_PX = 224
FUNCTIONS = ("glip", "blip", "xvlm")
QUESTIONS = ("What is the color of the car?", "What is the model of the car?")
PROPERTIES = ("damaged", "overturned")
MS_PER_S = 1000.0
JAIL = "program jail (zygote and task children)"
JAIL_MODULE = "orchestrator.program.jail"


def car_boxes() -> list[tuple[int, int, int, int]]:
    """CAR_BOXES as the bench program assigns it."""
    tree = ast.parse(DISTRIBUTED_PROGRAM.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "CAR_BOXES":
            return [tuple(b) for b in ast.literal_eval(node.value)]
    raise SystemExit(f"{DISTRIBUTED_PROGRAM}: no CAR_BOXES")


def calls_per_task() -> dict[str, int]:
    cars = len(car_boxes())
    return {"glip": 1, "blip": len(QUESTIONS) * cars, "xvlm": len(PROPERTIES) * cars}


def settings_224() -> Settings:
    return Settings(checkpoints="small", checkpoint_dir=CHECKPOINT_DIR_224, torch_threads=1)


def ensure_workload(images: Path) -> list[Path]:
    """The 224-px checkpoints and the 30 claims images; returns the image paths."""
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    build_small_checkpoints(CHECKPOINT_DIR_224, FUNCTIONS, image_px=IMAGE_PX)
    return generate_claims_images(images)


def call_params(function: str, ref: str, index: int) -> dict[str, object]:
    """The parameters of the program's `index`-th call of `function` on one image/crop."""
    if function == "glip":
        return {"image": ref, "object_name": "car"}
    if function == "blip":
        return {"image": ref, "question": QUESTIONS[index % len(QUESTIONS)]}
    return {"image": ref, "object_name": "car", "property": PROPERTIES[index % len(PROPERTIES)]}


def best_cpu_s(fn: Callable[[], object], repeats: int) -> float:
    """The least CPU time (this process, torch at one thread) of `repeats` runs of `fn`:
    CPU time, not wall time, so that other load on the machine does not inflate it."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


def compute_floor(images: list[Path], batch: int, repeats: int = 3) -> dict[str, float]:
    """Per-item cost (ms) of each function at `batch` items a pass, in this process, and the
    tasks/s the machine's cores could reach if they did nothing else."""
    from worker_models.catalogue import get_spec
    from worker_models.images import load_image_file
    from worker_models.loading import load_backend

    settings = settings_224()
    parents = [load_image_file(images[k % len(images)]) for k in range(batch)]
    # as in a task: each crop is asked both questions and both properties (the same
    # image object twice, which a backend preprocesses once)
    cars = [parents[k % len(parents)].crop(car_boxes()[k % 3]) for k in range(batch)]
    crops = [cars[i // 2] for i in range(batch)]
    per_item_ms: dict[str, float] = {}
    for function in FUNCTIONS:
        backend = load_backend(function, settings)
        spec = get_spec(function)
        params = [spec.params.model_validate(call_params(function, "x", i)) for i in range(batch)]
        pixels = parents if function == "glip" else crops
        backend.run_batch(params, pixels)  # warm-up
        seconds = best_cpu_s(lambda b=backend, p=params, x=pixels: b.run_batch(p, x), repeats)
        per_item_ms[function] = seconds / batch * MS_PER_S
    task_ms = sum(per_item_ms[f] * n for f, n in calls_per_task().items())
    cores = os.cpu_count() or 1
    return {**per_item_ms, "task_ms": task_ms, "tasks_per_s": cores * MS_PER_S / task_ms}


class TreeCpu:
    """CPU seconds (user + system) used by a process and each of its descendants, sampled
    in a thread, so that the CPU spent inside a timed window can be read afterwards, per
    role. On a machine other people load, CPU per task moves far less than tasks/s.

    The sampler runs on the same two cores as the runner, so it must cost little: with
    psutil's recursive `children()` every 50 ms (a read of every process's stat file on
    the machine, 128 jailed children included, then each one's times and command line) it
    cost the bench 10.2 CPU-ms per distributed task, a fifth of the cores, against a few
    processes for the peer. Now the tree is walked every DISCOVER_S (never into the jail's
    children, counted through their zygote), and in between only the known processes'
    stat files are read."""

    SAMPLE_S = 0.05
    DISCOVER_S = 0.2

    def __init__(self, pid: int) -> None:
        self._root = pid
        self._procs: dict[int, Any] = {}  # the long-lived processes, by pid
        self._seen: dict[int, float] = {}  # the last reading of every process ever seen
        self.roles: dict[int, str] = {}
        self.samples: list[tuple[float, dict[int, float]]] = []  # (wall clock, CPU s by pid)
        self._stop = False

    def _discover(self) -> None:
        """Add the processes of the tree not yet known (one read of each stat file)."""
        parents: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(b")") + 2 :].split(b" ", 2)[1])
            parents.setdefault(ppid, []).append(int(entry))
        todo = [self._root]
        while todo:
            pid = todo.pop()
            if pid not in self.roles:
                try:
                    proc = psutil.Process(pid)
                    self.roles[pid] = _role(proc, self._root)
                except psutil.Error:
                    continue
                self._procs[pid] = proc
            if self.roles[pid] != JAIL:  # its children are counted through it once reaped
                todo.extend(parents.get(pid, ()))

    def _reading(self) -> dict[int, float]:
        for pid, proc in list(self._procs.items()):
            try:
                times = proc.cpu_times()
            except psutil.Error:
                del self._procs[pid]
                continue
            cpu = times.user + times.system
            if self.roles[pid] == JAIL:  # its children live a few ms: too short to
                cpu += times.children_user + times.children_system  # sample, counted once reaped
            self._seen[pid] = cpu
        return dict(self._seen)

    def run(self) -> None:
        discovered = 0.0
        while not self._stop:
            now = time.time()
            if now - discovered >= self.DISCOVER_S:
                self._discover()
                discovered = now
            self.samples.append((now, self._reading()))
            time.sleep(self.SAMPLE_S)

    def stop(self) -> None:
        self._stop = True

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds of each role between two wall-clock instants (nearest samples)."""
        before = [cpu for t, cpu in self.samples if t <= start] or [self.samples[0][1]]
        after = [cpu for t, cpu in self.samples if t >= end] or [self.samples[-1][1]]
        by_role: dict[str, float] = {}
        for pid, cpu in after[0].items():
            role = self.roles.get(pid, "other")
            by_role[role] = by_role.get(role, 0.0) + cpu - before[-1].get(pid, 0.0)
        return by_role


def _role(proc: Any, root_pid: int) -> str:
    """What a process of a runner's tree is: the driver, the program jail (zygote and
    task children), a worker's main process, or a process that runs models (by pool)."""
    if proc.pid == root_pid:
        return "driver/orchestrator"
    command = proc.cmdline()
    if JAIL_MODULE in command:  # python -m orchestrator.program.jail (never its forks)
        return JAIL
    if "worker" in command and "scripts.cli.main" in command:
        parent = proc.parent()
        is_main = parent is not None and parent.pid == root_pid
        if is_main:
            return "celery worker main"
        pool = command[command.index("--pool") + 1] if "--pool" in command else "baseline"
        return f"model processes ({pool})"
    return "model processes"


def measured(
    cmd: list[str], what: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> tuple[dict, TreeCpu]:
    """Run a runner's command (it prints a JSON summary) with its process tree's CPU
    sampled; the summary and the samples."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    cpu = TreeCpu(proc.pid)
    sampler = threading.Thread(target=cpu.run, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    cpu.stop()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed:\n{err[-3000:]}")
    return json.loads(out), cpu


def batch_window(batch_id: str) -> tuple[float, float]:
    """First task start and last task end of a batch, from its task records in Redis."""
    from dicec import keys
    from dicec.records import TaskRecord
    from dicec.redis_conn import sync_client
    from dicec.settings import get_settings

    raw = sync_client(get_settings()).hvals(keys.batch_tasks_key(batch_id))
    records = [TaskRecord.model_validate_json(r) for r in raw]
    return min(r.started_at for r in records), max(r.finished_at for r in records)
