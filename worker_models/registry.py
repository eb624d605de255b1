"""The runtime registry: what functions exist, their docs and schemas, and which pools
serve them right now. Pools publish at start-up and keep a heartbeat; the code
generator and `dicec functions` read it here.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from typing import Any

import redis
from pydantic import BaseModel, Field

from dicec import keys
from dicec.errors import UnknownFunctionError
from worker_models.catalogue import CATALOGUE, FunctionSpec


class FunctionInfo(BaseModel):
    name: str
    documentation: str
    parameters_schema: dict[str, Any]
    result_schema: dict[str, Any]
    unwrap: str | None = None
    pools: list[str] = Field(default_factory=list)
    workers: int = 0
    online: bool = False

    def as_function_resource(self) -> dict[str, Any]:
        """The `Function` form of glip_function.yaml (status part), for `functions show`."""
        return {
            "apiVersion": "hermod.dicec.dev/v1",
            "kind": "Function",
            "metadata": {"name": self.name},
            "status": {
                "documentation": self.documentation,
                "parametersSchema": json.dumps(self.parameters_schema),
                "resultSchema": json.dumps(self.result_schema),
                "online": self.online,
                "pools": self.pools,
            },
        }


class WorkerHeartbeat(BaseModel):
    pool: str
    worker: str
    functions: list[str]
    pid: int
    gpu_type: str
    started_at: float
    beat_at: float


def info_from_spec(spec: FunctionSpec) -> FunctionInfo:
    return FunctionInfo(
        name=spec.name,
        documentation=spec.documentation,
        parameters_schema=spec.parameters_schema(),
        result_schema=spec.result_schema(),
        unwrap=spec.unwrap,
    )


def catalogue_functions() -> list[FunctionInfo]:
    """The catalogue as compiled into this package (offline; no liveness)."""
    return [info_from_spec(spec) for spec in CATALOGUE.values()]


def publish_functions(r: redis.Redis, functions: list[str]) -> None:
    pipe = r.pipeline()
    for name in functions:
        info = info_from_spec(CATALOGUE[name])
        pipe.set(
            keys.registry_function_key(name),
            info.model_dump_json(
                include={"name", "documentation", "parameters_schema", "result_schema", "unwrap"}
            ),
        )
        pipe.sadd(keys.registry_functions_set(), name)
    pipe.execute()


def live_workers(r: redis.Redis) -> list[WorkerHeartbeat]:
    workers = []
    for key in r.scan_iter(match=keys.registry_worker_pattern(), count=500):
        raw = r.get(key)
        if raw:
            workers.append(WorkerHeartbeat.model_validate_json(raw))
    return workers


def list_functions(r: redis.Redis) -> list[FunctionInfo]:
    """Every function ever published, with its live pools (offline when none)."""
    names = sorted(
        n.decode() if isinstance(n, bytes) else n for n in r.smembers(keys.registry_functions_set())
    )
    workers = live_workers(r)
    infos = []
    for name in names:
        raw = r.get(keys.registry_function_key(name))
        if raw is None:
            continue
        info = FunctionInfo.model_validate_json(raw)
        serving = [w for w in workers if name in w.functions]
        info.pools = sorted({w.pool for w in serving})
        info.workers = len(serving)
        info.online = bool(serving)
        infos.append(info)
    return infos


def get_function(r: redis.Redis, name: str) -> FunctionInfo:
    for info in list_functions(r):
        if info.name == name:
            return info
    raise UnknownFunctionError(f"function {name!r} is not in the runtime registry")


class Heartbeat:
    """Keeps a worker's registry entry alive from a daemon thread."""

    def __init__(self, r: redis.Redis, pool: str, gpu_type: str, functions: list[str]) -> None:
        self._redis = r
        self._stop = threading.Event()
        now = time.time()
        self.beat = WorkerHeartbeat(
            pool=pool,
            worker=f"{socket.gethostname()}-{os.getpid()}",
            functions=functions,
            pid=os.getpid(),
            gpu_type=gpu_type,
            started_at=now,
            beat_at=now,
        )
        self._key = keys.registry_worker_key(pool, self.beat.worker)
        self._thread = threading.Thread(target=self._run, name="dicec-heartbeat", daemon=True)

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(redis.RedisError):  # else the key expires on its own
            self._redis.delete(self._key)

    def _write(self) -> None:
        self.beat.beat_at = time.time()
        self._redis.set(self._key, self.beat.model_dump_json(), ex=keys.REGISTRY_TTL_S)

    def _run(self) -> None:
        while not self._stop.wait(keys.REGISTRY_HEARTBEAT_S):
            try:
                self._write()
            except redis.RedisError:
                continue  # Redis restarting: keep beating, the next write re-registers
