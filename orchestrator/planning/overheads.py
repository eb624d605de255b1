"""The system's own cost per call, measured on noop batches through real processes.

A profile's model times leave out what every call costs around the model. This measures
it the way a batch pays it: a one-process noop pool (real Celery worker) serves batches of
examples/noop_fanout.py (ten gathered noop calls per task) that an orchestrator runs in
this process, call cache off. Two batch sizes; the difference over the difference in calls
is the marginal cost per call, so start-up and compilation cancel out:

- orchestrator_call_s: this process's CPU seconds per call (optionally measured on the
  user's own program instead: see measure_overheads);
- call_overhead_s: the worker processes' CPU seconds per call (noop's model costs nothing);
- dispatch_overhead_s: the median round trip of a lone call, less the worker's part;
- broker_call_s: Redis's CPU seconds per call, when Redis is a process on this machine
  (0 otherwise, and said so).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import yaml
from PIL import Image
from pydantic import BaseModel

from dicec.errors import ConfigError
from dicec.redis_conn import sync_client
from dicec.settings import Settings
from examples import example_program
from orchestrator.batch.driver import run_batch
from orchestrator.batch.localpools import LocalPools, local_pools
from orchestrator.batch.runner import new_meta
from orchestrator.planning.profiles import Profile
from worker_models.pools import PoolsFile

NOOP_PROGRAM = example_program("noop_fanout.py")
NOOP_POOLS = {
    "name": "overheads",
    "gpu_types": {"cpu": {"price_per_hour": 0.0}},
    "pools": [{"name": "noop", "gpu_type": "cpu", "functions": ["noop"], "device": "cpu"}],
}
SMALL_TASKS, LARGE_TASKS = 30, 150
NOOP_TASK_COUNTS = (SMALL_TASKS, LARGE_TASKS)
PROGRAM_TASKS = 30
ROUND_TRIPS = 200


class Overheads(BaseModel):
    orchestrator_call_s: float
    call_overhead_s: float
    dispatch_overhead_s: float
    broker_call_s: float = 0.0


def apply_overheads(profile: Profile, measured: Overheads) -> None:
    """Into a profile measured on the same machine (every hardware of it)."""
    profile.dispatch_overhead_s = measured.dispatch_overhead_s
    profile.orchestrator_call_s = measured.orchestrator_call_s
    profile.broker_call_s = measured.broker_call_s
    for hw in profile.hardware.values():
        hw.call_overhead_s = measured.call_overhead_s


def _workers_cpu_s(pools: LocalPools) -> float:
    """CPU of every worker node and its pool processes."""
    nodes = [psutil.Process(proc.pid) for procs in pools.procs.values() for proc in procs]
    return _cpu_s([p for node in nodes for p in (node, *node.children(recursive=True))])


def _batch_calls(settings: Settings, program: Path, images: Path, tasks: int) -> int:
    meta = new_meta(
        program_path=program,
        images_dir=images,
        tasks=tasks,
        seed=0,
        pools_file="overheads",
        settings=settings,
    )
    summary = asyncio.run(run_batch(meta, settings))
    if summary.errors or summary.missing:
        raise ConfigError(
            f"calibration batch {meta.batch_id} of {program.name} failed: {summary.first_errors}"
        )
    return summary.calls


def local_redis_process(settings: Settings) -> psutil.Process | None:
    """The redis-server process behind settings.redis_url, if it runs on this machine and
    listens on TCP (an embedded Redis on a unix socket, or a remote one: None)."""
    kwargs = sync_client(settings).connection_pool.connection_kwargs
    host, port = kwargs.get("host"), kwargs.get("port")
    if host not in ("127.0.0.1", "localhost", "::1") or port is None:
        return None
    for proc in psutil.process_iter(["name"]):
        if "redis-server" not in (proc.info["name"] or ""):
            continue
        try:
            listening = proc.net_connections(kind="inet")
        except psutil.Error:
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in listening):
            return proc
    return None


def _cpu_s(procs: list[psutil.Process]) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in procs))


def _cpu_per_call(
    settings: Settings,
    program: Path,
    images: Path,
    pools: LocalPools,
    redis_procs: list[psutil.Process],
    tasks: tuple[int, int],
) -> tuple[float, float, float]:
    """Marginal (orchestrator, workers, Redis) CPU seconds per call, from two batch sizes."""
    _batch_calls(settings, program, images, tasks[0])  # warm-up
    points = []
    for n in tasks:
        before = (time.process_time(), _workers_cpu_s(pools), _cpu_s(redis_procs))
        calls = _batch_calls(settings, program, images, n)
        after = (time.process_time(), _workers_cpu_s(pools), _cpu_s(redis_procs))
        points.append((calls, *(b - a for a, b in zip(before, after, strict=True))))
    (calls_a, *cost_a), (calls_b, *cost_b) = points
    extra = calls_b - calls_a
    if extra <= 0:
        raise ConfigError(f"{program.name} made no calls to measure (is every task empty?)")
    per_call = [max(0.0, (b - a) / extra) for a, b in zip(cost_a, cost_b, strict=True)]
    return per_call[0], per_call[1], per_call[2]


def noop_round_trip_s(settings: Settings, calls: int = ROUND_TRIPS) -> float:
    """Median issue-to-reply time of lone noop calls through the queues (after a warm-up)."""
    from worker_models.client import SyncCaller

    caller = SyncCaller(settings)
    for i in range(20):  # warm-up
        caller.call_reply("noop", value=i)
    samples = []
    for i in range(calls):
        started = time.perf_counter()
        caller.call_reply("noop", value=i)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def measure_overheads(
    settings: Settings,
    progress: Callable[[str], None] | None = None,
    program: Path | None = None,
    images: Path | None = None,
    pools: PoolsFile | None = None,
) -> Overheads:
    """Needs Redis; starts and stops its own pools.

    With `program`, `images` and `pools`, the orchestrator's CPU per call is measured on
    batches of that program on those pools instead (a program that computes more between
    its calls costs more per call than noop_fanout); the worker's and the dispatch's
    costs still come from noop, whose model costs nothing.
    """
    settings = settings.model_copy(update={"cache_enabled": False})
    with tempfile.TemporaryDirectory(prefix="dicec-overheads-") as tmp:
        root = Path(tmp)
        noop_pools, noop_images = _noop_rig(root)
        r = sync_client(settings)
        redis_procs = [p for p in [local_redis_process(settings)] if p is not None]
        with local_pools(str(noop_pools), r) as running:
            orchestrator, worker, broker = _cpu_per_call(
                settings, NOOP_PROGRAM, noop_images, running, redis_procs, NOOP_TASK_COUNTS
            )
            round_trip = noop_round_trip_s(settings)
        if program is not None and images is not None and pools is not None:
            path = root / "program-pools.yaml"
            path.write_text(yaml.safe_dump(pools.model_dump(mode="json"), sort_keys=False))
            with local_pools(str(path), r) as running:
                orchestrator, _, _ = _cpu_per_call(
                    settings, program, images, running, [], (PROGRAM_TASKS, 3 * PROGRAM_TASKS)
                )
    measured = Overheads(
        orchestrator_call_s=orchestrator,
        call_overhead_s=worker,
        dispatch_overhead_s=max(0.0, round_trip - worker),
        broker_call_s=broker,
    )
    if progress:
        source = program.name if program is not None else NOOP_PROGRAM.name
        progress(_describe(measured, source, redis_counted=bool(redis_procs)))
    return measured


def _noop_rig(root: Path) -> tuple[Path, Path]:
    """A pools file with the noop pool and a folder with one blank image, under `root`."""
    noop_pools = root / "noop-pools.yaml"
    noop_pools.write_text(yaml.safe_dump(NOOP_POOLS, sort_keys=False))
    (root / "images").mkdir()
    Image.new("RGB", (32, 32)).save(root / "images" / "blank.png")
    return noop_pools, root / "images"


def _describe(measured: Overheads, source: str, *, redis_counted: bool) -> str:
    redis_cpu = (
        f"{1000 * measured.broker_call_s:.2f} ms CPU"
        if redis_counted
        else "not a local TCP process: its CPU is not counted"
    )
    return (
        f"per call: orchestrator {1000 * measured.orchestrator_call_s:.2f} ms CPU "
        f"({source}), worker {1000 * measured.call_overhead_s:.2f} ms CPU, "
        f"dispatch latency {1000 * measured.dispatch_overhead_s:.2f} ms, Redis {redis_cpu}"
    )
