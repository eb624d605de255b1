"""Starting the pools of a pools file as local worker processes (demo, benches, tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis

from dicec.errors import ConfigError
from dicec.settings import env_name
from worker_models.pools import PoolsFile, resolve_pools_path
from worker_models.registry import live_workers

START_TIMEOUT_S = 180.0
START_POLL_S = 0.25
STOP_TIMEOUT_S = 20.0


MONOLITH = "baseline"


@dataclass(frozen=True)
class Launch:
    """How one pool's processes start elsewhere: a command prefix (e.g. `ip netns exec
    NS`, another site on this machine) and environment overrides (its REDIS_URL)."""

    prefix: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def node_name(pool: str, replica: int) -> str:
    """Celery node name of a local replica (unique per orchestrator process)."""
    return f"{pool}-{replica}-{os.getpid()}@{socket.gethostname()}"


def worker_command(pool: str, pools_path: Path, loglevel: str = "WARNING") -> list[str]:
    which = ["--monolith"] if pool == MONOLITH else ["--pool", pool]
    return [
        sys.executable,
        "-m",
        "scripts.cli.main",
        "worker",
        *which,
        "--pools",
        str(pools_path),
        "--loglevel",
        loglevel,
    ]


class LocalPools:
    """Worker subprocesses: one per pool replica (replicas 0 counts as 1 locally)."""

    def __init__(
        self,
        pools: PoolsFile,
        pools_path: Path,
        r: redis.Redis,
        env: dict[str, str] | None = None,
        log_dir: Path | None = None,
        launch: dict[str, Launch] | None = None,
    ) -> None:
        self.pools = pools
        self.pools_path = pools_path
        self.redis = r
        self.env = {**os.environ, **(env or {})}
        self.log_dir = log_dir
        self.procs: dict[str, list[subprocess.Popen[bytes]]] = {}
        self.launch = launch or {}
        # pool -> when its first process was started here: an older heartbeat is some
        # other process's (one killed moments ago stays "live" for REGISTRY_TTL_S)
        self.spawned_at: dict[str, float] = {}

    def start_monolith(self, nodes: int) -> None:
        for node in range(nodes):
            self.spawn(MONOLITH, node)

    def start(self, only: list[str] | None = None) -> None:
        for pool in self.pools.pools:
            if only and pool.name not in only:
                continue
            for replica in range(max(1, pool.replicas)):
                self.spawn(pool.name, replica)

    def spawn(self, pool: str, replica: int = 0) -> subprocess.Popen[bytes]:
        out = subprocess.DEVNULL
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{pool}-{replica}.log", "ab")  # noqa: SIM115
        how = self.launch.get(pool, Launch())
        self.spawned_at.setdefault(pool, time.time())
        env = {**self.env, **dict(how.env), env_name("node_name"): node_name(pool, replica)}
        proc = subprocess.Popen(
            [*how.prefix, *worker_command(pool, self.pools_path)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.setdefault(pool, []).append(proc)
        return proc

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Block until every started pool has all its processes in the registry, counting
        only heartbeats that began after this object started the pool's first process."""
        want = {
            name: len(procs) * (1 if name == MONOLITH else self.pools.pool(name).concurrency)
            for name, procs in self.procs.items()
        }
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            dead = [p.pid for procs in self.procs.values() for p in procs if p.poll() is not None]
            if dead:
                raise ConfigError(
                    f"worker process(es) {dead} exited during start-up; "
                    f"see the worker logs{f' in {self.log_dir}' if self.log_dir else ''}"
                )
            seen: dict[str, int] = {}
            for beat in live_workers(self.redis):
                if beat.started_at >= self.spawned_at.get(beat.pool, float("inf")):
                    seen[beat.pool] = seen.get(beat.pool, 0) + 1
            if all(seen.get(name, 0) >= n for name, n in want.items()):
                return
            time.sleep(START_POLL_S)  # start-up only: models are loading
        raise ConfigError(f"pools did not become ready within {timeout_s:.0f} s")

    def stop(self) -> None:
        procs = [p for ps in self.procs.values() for p in ps]
        for proc in procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


@contextmanager
def local_pools(
    pools_file: str | None,
    r: redis.Redis,
    log_dir: Path | None = None,
    only: list[str] | None = None,
    monolith_nodes: int = 0,
) -> Iterator[LocalPools]:
    """Start the pools (or, with monolith_nodes, that many baseline nodes) until exit."""
    from worker_models.pools import load_pools

    path = resolve_pools_path(pools_file).resolve()
    pools = LocalPools(load_pools(path), path, r, log_dir=log_dir)
    try:
        if monolith_nodes:
            pools.start_monolith(monolith_nodes)
        else:
            pools.start(only)
        pools.wait_ready()
        yield pools
    finally:
        pools.stop()
