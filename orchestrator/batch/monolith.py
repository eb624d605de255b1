"""The paper's baseline: a monolith node hosts every model in one process and runs whole
(serial) programs, one task at a time. Nodes consume one shared queue, so tasks split
over the nodes by themselves; they are still real Celery workers with late acks.

What a node sets up once, in its start-up hook, is what it would otherwise pay in every
task (or in its first): the models, the program jail's zygote, and one event loop that
every task runs on (a fresh loop per task would move the jail's reader each time). A
task's image comes from the node's decoded-image cache, the one its calls crop from.
Its models run on the service's model thread, as a pool worker's do: called from deep
under Celery, the event loop and the jail session, a BLIP call can cost up to 29 % more
CPU than in a plain loop (worker_models/modelthread.py says why).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from functools import lru_cache
from typing import Any, Literal

from celery.signals import worker_process_init, worker_process_shutdown
from pydantic import BaseModel, Field

from dicec import keys
from dicec.errors import DicecError
from dicec.records import CallTrace, TaskRecord
from dicec.settings import Settings, get_settings
from orchestrator.batch.task import run_task
from orchestrator.dispatch.local_calls import LocalCalls
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, compile_program
from worker_models.app import app
from worker_models.catalogue import CATALOGUE
from worker_models.imageref import ImageRef, TrackedImage
from worker_models.lifecycle import announce
from worker_models.pools import Pool, load_pools
from worker_models.service import FunctionService, current_service, set_service
from worker_models.worker import monolith_argv, pools_env

log = logging.getLogger(__name__)

MONOLITH_POOL = "baseline"
TASK_NAME = keys.MONOLITH_TASK
_IS_MONOLITH_NODE = False  # set in the node's main process before its children fork


class MonolithTask(BaseModel):
    v: Literal[1] = keys.WIRE_SCHEMA_VERSION
    batch_id: str
    index: int
    image_name: str
    image_digest: str
    reply_to: str


class MonolithReply(BaseModel):
    v: Literal[1] = keys.WIRE_SCHEMA_VERSION
    record: TaskRecord
    traces: list[CallTrace] = Field(default_factory=list)


def monolith_pool(pools_file: str | None) -> Pool:
    """The baseline node as a pool: every catalogue function, on the baseline GPU type."""
    pools = load_pools(pools_file)
    gpu_type = pools.baseline.gpu_type if pools.baseline else pools.pools[0].gpu_type
    device = pools.baseline.device if pools.baseline else "cpu"
    return Pool(name=MONOLITH_POOL, gpu_type=gpu_type, functions=list(CATALOGUE), device=device)


def build_monolith_service() -> FunctionService:
    from worker_models.service import build_service_for_pool

    settings = get_settings()
    pool = monolith_pool(str(settings.pools_file) if settings.pools_file else None)
    return build_service_for_pool(pool, settings)


@lru_cache(maxsize=8)
def _program(batch_id: str) -> CompiledProgram:
    import redis as _redis  # noqa: F401 - typing only

    from dicec.records import BatchMeta

    service = current_service()
    raw = service.redis.get(keys.batch_meta_key(batch_id))
    meta = BatchMeta.model_validate_json(raw)
    return compile_program(
        meta.program_source, meta.program_name, Limits.from_settings(get_settings())
    )


_JAIL: list[Jail] = []  # one zygote per node process, started by its start-up hook
_RUNNER: list[asyncio.Runner] = []  # the node process's one event loop, for every task


def _jail(settings: Settings) -> Jail | None:
    if settings.program_runner != "jail":
        return None
    if not _JAIL:
        _JAIL.append(Jail())
    return _JAIL[0]


def _runner() -> asyncio.Runner:
    """Runs every task of this process on one event loop (made on first use)."""
    if not _RUNNER:
        _RUNNER.append(asyncio.Runner())
    return _RUNNER[0]


def _start_jail(settings: Settings) -> None:
    """Start the zygote now, not in the first task; if it cannot start, each task says why."""
    jail = _jail(settings)
    if jail is None:
        return
    try:
        _runner().run(jail.zygote())
    except (DicecError, OSError, TimeoutError) as exc:
        log.warning("program jail not started at node start (%s): tried again per task", exc)


def _node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def _run(task: MonolithTask, service: FunctionService) -> MonolithReply:
    traces: list[CallTrace] = []
    calls = LocalCalls(service, _node_name(), on_trace=traces.append)

    async def load_image() -> TrackedImage:
        ref = ImageRef(task.image_digest)  # a copy: the cached parent stays as stored
        return TrackedImage.wrap(service.store.resolve(ref).copy(), ref)

    settings = get_settings()
    outcome = await run_task(
        _program(task.batch_id),
        task.image_name,
        load_image,
        calls,
        batch_id=task.batch_id,
        task_index=task.index,
        jail=_jail(settings),
        max_calls=settings.program_max_calls,
    )
    record = outcome.to_record(task.batch_id, task.index, task.image_name, _node_name())
    return MonolithReply(record=record, traces=traces)


@app.task(name=TASK_NAME, ignore_result=True)
def run_monolith_task(payload: dict[str, Any]) -> None:
    """Run one task's whole program on this node's models; reply to the orchestrator."""
    task = MonolithTask.model_validate(payload)
    service = current_service()
    reply = _runner().run(_run(task, service))
    pipe = service.redis.pipeline(transaction=False)
    pipe.rpush(task.reply_to, reply.model_dump_json())
    pipe.expire(task.reply_to, keys.REPLY_TTL_S)
    pipe.execute()


@worker_process_init.connect
def _load_models(**_: object) -> None:
    if _IS_MONOLITH_NODE:
        service = build_monolith_service()
        set_service(service)
        _start_jail(get_settings())
        announce(service)


@worker_process_shutdown.connect
def _close_node(**_: object) -> None:
    """Stop the zygote; close the loop as asyncio.run would (tasks cancelled, async
    generators and the default executor shut down)."""
    for jail in _JAIL:
        jail.close()
    while _RUNNER:
        _RUNNER.pop().close()


def run_monolith_worker(pools_file: str | None, settings: Settings, loglevel: str = "INFO") -> None:
    """Start a baseline node: a Celery worker on the monolith queue, every model loaded."""
    global _IS_MONOLITH_NODE
    load_pools(pools_file)  # refuse a bad pools file before starting
    pools_env(pools_file)
    _IS_MONOLITH_NODE = True
    app.worker_main(monolith_argv(loglevel))
