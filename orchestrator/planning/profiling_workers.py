"""`dicec profile --through-workers`: service times measured where calls really run.

Timing a model in the profiling process leaves out what a pool worker process adds around
it (its service path: validation, image resolution, the reply; and whatever a Celery
prefork child costs the model itself: on the 2-core test machine BLIP took about 15 %
longer there). Here each GPU type of the pools file gets one real worker process hosting
the functions to profile, with batching up to the largest batch size; each pass is one
message of b identical calls, served as one chunk, and timed by the worker itself (the
replies' started_at/finished_at, the same clock the traces use).
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import yaml
from PIL import Image

from dicec.errors import ConfigError
from dicec.redis_conn import sync_client
from dicec.settings import Settings
from orchestrator.batch.localpools import local_pools
from orchestrator.planning.profiles import FunctionProfile, HardwareProfile, Profile, ServicePoint
from orchestrator.planning.profiling import (
    DEFAULT_BATCH_SIZES,
    DEFAULT_REPEATS,
    SAMPLE_PARAMS,
    WARMUP_PASSES,
    Progress,
    describe_points,
    hardware_profile,
    sample_image,
)
from worker_models.catalogue import get_spec
from worker_models.client import SyncCaller
from worker_models.pools import PoolsFile

PASS_TIMEOUT_S = 120.0


def profiling_pools(pools: PoolsFile, functions: list[str] | None, largest: int) -> PoolsFile:
    """One single-process pool per GPU type, hosting the functions its pools host there."""
    hosted: dict[str, list[str]] = {}
    devices: dict[str, str] = {}
    for pool in pools.pools:
        wanted = [f for f in pool.functions if not functions or f in functions]
        names = hosted.setdefault(pool.gpu_type, [])
        names.extend(f for f in wanted if f not in names)
        devices.setdefault(pool.gpu_type, pool.device)
    hosted = {gpu: fns for gpu, fns in hosted.items() if fns}
    if not hosted:
        raise ConfigError(f"pools file {pools.name!r}: no function selected to profile")
    return PoolsFile(
        name=f"profile-{pools.name}",
        gpu_types=pools.gpu_types,
        pools=[
            {
                "name": f"profile-{i}",
                "gpu_type": gpu,
                "functions": fns,
                "device": devices[gpu],
                "batching": {f: {"max_batch_size": largest, "max_wait_ms": 1} for f in fns},
            }
            for i, (gpu, fns) in enumerate(sorted(hosted.items()))
        ],
    )


def _call_kwargs(function: str, image: Image.Image | None) -> dict[str, object]:
    kwargs: dict[str, object] = dict(SAMPLE_PARAMS.get(function, {}))
    names = get_spec(function).image_params()
    if names:
        kwargs[names[0]] = sample_image(function, image)
    return kwargs


def _pass_s(caller: SyncCaller, function: str, size: int, kwargs: dict[str, object]) -> float:
    replies = caller.call_replies(function, size, PASS_TIMEOUT_S, **kwargs)
    failed = [r for r in replies if not r.ok]
    if failed:
        raise ConfigError(f"profiling {function}: the worker answered {failed[0].error}")
    if any(r.batch_size != size for r in replies):
        raise ConfigError(
            f"profiling {function}: a message of {size} calls was not served as one pass "
            f"(passes of {sorted({r.batch_size for r in replies})})"
        )
    started = min(r.started_at for r in replies if r.started_at is not None)
    finished = max(r.finished_at for r in replies if r.finished_at is not None)
    return max(finished - started, 1e-6)


def _points(
    caller: SyncCaller,
    function: str,
    kwargs: dict[str, object],
    sizes: tuple[int, ...],
    repeats: int,
) -> list[ServicePoint]:
    """Median pass time per batch size. Sizes take turns within each round, so that a
    slow spell of a shared machine spreads over all of them instead of bending one."""
    for size in sizes:
        for _ in range(WARMUP_PASSES):
            _pass_s(caller, function, size, kwargs)
    samples: dict[int, list[float]] = {size: [] for size in sizes}
    for _ in range(repeats):
        for size in sizes:
            samples[size].append(_pass_s(caller, function, size, kwargs))
    return [ServicePoint(batch_size=s, service_s=statistics.median(samples[s])) for s in sizes]


def measure_profile_through_workers(
    pools: PoolsFile,
    settings: Settings,
    sizes: tuple[int, ...] = DEFAULT_BATCH_SIZES,
    repeats: int = DEFAULT_REPEATS,
    functions: list[str] | None = None,
    image: Image.Image | None = None,
    progress: Progress | None = None,
) -> Profile:
    """Needs Redis; starts and stops its own worker processes. Call cache off."""
    settings = settings.model_copy(update={"cache_enabled": False})
    plan = profiling_pools(pools, functions, max(sizes))
    hardware: dict[str, HardwareProfile] = {}
    with tempfile.TemporaryDirectory(prefix="dicec-profile-") as tmp:
        path = Path(tmp) / "pools.yaml"
        path.write_text(yaml.safe_dump(plan.model_dump(mode="json"), sort_keys=False))
        with local_pools(str(path), sync_client(settings)):
            caller = SyncCaller(settings)
            for pool in plan.pools:  # one per GPU type
                hw = hardware[pool.gpu_type] = hardware_profile(plan, pool)
                for function in pool.functions:
                    kwargs = _call_kwargs(function, image)
                    points = _points(caller, function, kwargs, sizes, repeats)
                    hw.functions[function] = FunctionProfile(points=points)
                    if progress:
                        progress(
                            f"{pool.gpu_type} {function} (in a worker): {describe_points(points)}"
                        )
    return Profile(
        name=f"measured-{pools.name}",
        description="measured by `dicec profile --through-workers` here; checkpoints "
        f"{settings.checkpoints!r}",
        measured=True,
        hardware=hardware,
    )
