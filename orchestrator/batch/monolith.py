"""The paper's baseline: a monolith node hosts every model and runs whole (serial)
programs. Nodes consume one shared queue, so tasks split over the nodes by themselves;
they are still real Celery workers with late acks.

What a node sets up once, in its start-up hook, is what it would otherwise pay in every
task (or in its first): its models, the program jail's zygote, and one event loop that
every task runs on. The node holds five tasks (worker.MONOLITH_TASKS_IN_FLIGHT): while
one task's call runs on the models, the others arrive, their jailed children start and
their programs run up to their next calls. Each call still runs alone, in the order asked,
on one set of models; what overlaps is the work around the models, which a one-task
node paid between every two calls' worth of model time (bench/baseline_timeline.py).
The models live in a process of their own (worker_models/modelserver.py says why), which
the node starts again if it dies, sending the calls it was running again: a crashed
model costs a reload, not a task. A task's image comes from the node's own decoded-image
cache; its calls' images are read by the model process from Redis, as a pool's are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
from collections.abc import Coroutine
from functools import lru_cache
from typing import Any, Literal, TypeVar

from celery.signals import worker_init, worker_shutdown
from pydantic import BaseModel, Field

from dicec import keys
from dicec.errors import ConfigError, DicecError
from dicec.records import CallTrace, TaskRecord
from dicec.redis_conn import sync_client
from dicec.settings import Settings, get_settings
from orchestrator.batch.task import run_task
from orchestrator.dispatch.local_calls import LocalCalls
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, compile_program
from worker_models.app import app
from worker_models.catalogue import CATALOGUE
from worker_models.imageref import ImageRef, ImageStore, TrackedImage
from worker_models.lifecycle import announce_pool, stop_heartbeat
from worker_models.modelserver import ModelServer
from worker_models.pools import Pool, load_pools
from worker_models.worker import monolith_argv, pools_env

log = logging.getLogger(__name__)

T = TypeVar("T")
MONOLITH_POOL = "baseline"
TASK_NAME = keys.MONOLITH_TASK
_IS_MONOLITH_NODE = False  # set by run_monolith_worker: its start-up hook builds a Node


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


@lru_cache(maxsize=8)
def _program(batch_id: str) -> CompiledProgram:
    from dicec.records import BatchMeta

    raw = _node().redis.get(keys.batch_meta_key(batch_id))
    meta = BatchMeta.model_validate_json(raw)
    return compile_program(
        meta.program_source, meta.program_name, Limits.from_settings(get_settings())
    )


class NodeLoop:
    """One event loop on a thread of its own: the node's Celery threads each hand it a
    task's coroutine and wait, so tasks in flight share one loop, jail and model process."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="dicec-node-loop", daemon=True
        )
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Cancel what still runs, shut the loop down as asyncio.run would, stop it."""
        with contextlib.suppress(RuntimeError):
            self.run(_shut_down())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


async def _shut_down() -> None:
    loop = asyncio.get_running_loop()
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await loop.shutdown_asyncgens()
    await loop.shutdown_default_executor()


class Node:
    """What a baseline node process holds: its loop, jail, model process and Redis."""

    def __init__(self, settings: Settings) -> None:
        pool = monolith_pool(str(settings.pools_file) if settings.pools_file else None)
        self.redis = sync_client(settings)
        self.store = ImageStore(self.redis)  # the tasks' images, and the calls' uploads
        self.loop = NodeLoop()
        self.models = ModelServer(pool)
        self.jail = Jail() if settings.program_runner == "jail" else None

    def start(self) -> None:
        """Models first (a node that cannot load them must not consume), then the jail;
        a jail that cannot start now is tried again per task, and each task says why."""
        self.loop.run(self.models.start())
        if self.jail is None:
            return
        try:
            self.loop.run(self.jail.zygote())
        except (DicecError, OSError, TimeoutError) as exc:
            log.warning("program jail not started at node start (%s): tried again per task", exc)

    def close(self) -> None:
        if self.jail is not None:
            self.jail.close()
        with contextlib.suppress(RuntimeError):
            self.loop.run(self.models.close())
        self.loop.close()
        self.redis.close()


_NODE: list[Node] = []


def _node() -> Node:
    if not _NODE:
        raise ConfigError(
            "this process is no baseline node: start one with `dicec worker --monolith`"
        )
    return _NODE[0]


def _node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def _run(task: MonolithTask, node: Node) -> MonolithReply:
    traces: list[CallTrace] = []
    calls = LocalCalls(node.models, node.store, _node_name(), on_trace=traces.append)

    async def load_image() -> TrackedImage:
        ref = ImageRef(task.image_digest)  # a copy: the cached parent stays as stored
        return TrackedImage.wrap(node.store.resolve(ref).copy(), ref)

    settings = get_settings()
    outcome = await run_task(
        _program(task.batch_id),
        task.image_name,
        load_image,
        calls,
        batch_id=task.batch_id,
        task_index=task.index,
        jail=node.jail,
        max_calls=settings.program_max_calls,
    )
    record = outcome.to_record(task.batch_id, task.index, task.image_name, _node_name())
    return MonolithReply(record=record, traces=traces)


@app.task(name=TASK_NAME, ignore_result=True)
def run_monolith_task(payload: dict[str, Any]) -> None:
    """Run one task's whole program on this node's models; reply to the orchestrator."""
    task = MonolithTask.model_validate(payload)
    node = _node()
    reply = node.loop.run(_run(task, node))
    pipe = node.redis.pipeline(transaction=False)
    pipe.rpush(task.reply_to, reply.model_dump_json())
    pipe.expire(task.reply_to, keys.REPLY_TTL_S)
    pipe.execute()


@worker_init.connect
def _start_node(**_: object) -> None:
    """In the node's process, before it consumes (the threads pool forks nothing)."""
    if _IS_MONOLITH_NODE and not _NODE:
        node = Node(get_settings())
        try:
            node.start()
        except (DicecError, OSError, TimeoutError) as exc:
            # Celery would log a signal handler's error and consume anyway.
            log.critical("baseline node not started: %s", exc)
            node.close()
            raise SystemExit(1) from None
        _NODE.append(node)
        announce_pool(node.redis, node.models.pool, node.models.pool.gpu_type)


@worker_shutdown.connect
def _close_node(**_: object) -> None:
    """Stop the zygote, the model process, then the loop (what still runs cancelled)."""
    stop_heartbeat()
    while _NODE:
        _NODE.pop().close()


def run_monolith_worker(pools_file: str | None, settings: Settings, loglevel: str = "INFO") -> None:
    """Start a baseline node: a Celery worker on the monolith queue, every model loaded."""
    global _IS_MONOLITH_NODE
    load_pools(pools_file)  # refuse a bad pools file before starting
    pools_env(pools_file)
    _IS_MONOLITH_NODE = True
    app.worker_main(monolith_argv(loglevel))
