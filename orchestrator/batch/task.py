"""Running one task: the task's image, its own hermod and ImagePatch, the sandboxed program."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from PIL import Image
from redis.exceptions import RedisError

from dicec import keys
from dicec.errors import DicecError
from dicec.records import TaskRecord
from orchestrator.program.execute import run_on_image
from orchestrator.program.hermod import CallBackend, Hermod
from orchestrator.program.jail.client import Jail
from orchestrator.program.sandbox.programs import CompiledProgram, Limits
from worker_models.imageref import ImageRef, TrackedImage, digest_of
from worker_models.images import decode_image

log = logging.getLogger(__name__)

DECODED_IMAGES_KEPT = 64


@dataclass
class TaskOutcome:
    ok: bool
    value: Any
    printed: list[str]
    error: str | None
    error_type: str | None
    calls: int
    started_at: float
    finished_at: float

    def to_record(
        self, batch_id: str, index: int, image: str, node: str | None = None
    ) -> TaskRecord:
        """The task's one stored outcome."""
        return TaskRecord(
            batch_id=batch_id,
            index=index,
            image=image,
            status="ok" if self.ok else "error",
            value=self.value,
            printed=self.printed,
            error=self.error,
            error_type=self.error_type,
            started_at=self.started_at,
            finished_at=self.finished_at,
            calls=self.calls,
            node=node,
        )


class TaskImages:
    """The batch's images: read, decoded and stored in Redis once each, shared by tasks."""

    def __init__(self, aredis: aioredis.Redis | None) -> None:
        self._redis = aredis
        self._cache: OrderedDict[Path, TrackedImage] = OrderedDict()
        self._paths: dict[str, Path] = {}  # digest -> file: to store it again if Redis lost it
        # Loads under way: a batch starts up to max_concurrent_tasks tasks at once over a
        # few dozen photos, and each photo's second task used to decode it again while the
        # first awaited Redis (100 decodes for 30 photos, on the loop, before any spawn).
        self._loading: dict[Path, asyncio.Task[TrackedImage]] = {}

    async def load(self, path: Path) -> TrackedImage:
        cached = self._cache.get(path)
        if cached is not None:
            self._cache.move_to_end(path)
            return cached
        loading = self._loading.get(path)
        if loading is None:
            loading = self._loading[path] = asyncio.ensure_future(self._load(path))
            loading.add_done_callback(lambda _: self._loading.pop(path, None))
        return await asyncio.shield(loading)  # a cancelled task leaves the load to the others

    async def _load(self, path: Path) -> TrackedImage:
        data = path.read_bytes()
        digest = digest_of(data)
        image = TrackedImage.wrap(decode_image(data), ImageRef(digest))
        self._paths[digest] = path
        if self._redis is not None:
            try:
                await self._redis.set(keys.image_key(digest), data, ex=keys.IMAGE_TTL_S, nx=True)
            except RedisError as exc:
                # Redis full, read-only or away: the task goes on; a call whose worker
                # finds no image gets it stored again (restore) and is resent.
                log.warning("image %s not stored yet (%s): stored again when a call needs it",
                            digest[:12], exc)  # fmt: skip
        self._cache[path] = image
        if len(self._cache) > DECODED_IMAGES_KEPT:
            self._cache.popitem(last=False)
        return image

    async def restore(self, digest: str) -> bool:
        """Store a batch image in Redis again (a restart without persistence lost it)."""
        path = self._paths.get(digest)
        if path is None or self._redis is None:
            return False
        try:
            data = path.read_bytes()
        except OSError:
            return False  # gone since: the resent call fails with its clear image error
        if digest_of(data) != digest:  # the file changed since: never store wrong pixels
            return False
        await self._redis.set(keys.image_key(digest), data, ex=keys.IMAGE_TTL_S, nx=True)
        return True


ImageLoader = Callable[[], Awaitable[Image.Image]]


async def run_task(
    program: CompiledProgram,
    image_path: Path | str,
    load_image: ImageLoader,
    backend: CallBackend,
    *,
    batch_id: str | None = None,
    task_index: int | None = None,
    limits: Limits | None = None,
    executor: Executor | None = None,
    jail: Jail | None = None,
    max_calls: int | None = None,
) -> TaskOutcome:
    """Run a program on one image (in a jailed process when `jail` is given, else on
    this event loop); every failure becomes the task's error, never a crash."""
    started = time.time()
    hermod = Hermod(backend, batch_id, task_index, max_calls)
    try:
        image = await load_image()
        if jail is not None:
            label = None if task_index is None else str(task_index)
            run = await jail.run(program, hermod, str(image_path), image, limits, label)
        else:
            run = await run_on_image(program, hermod, image_path, image, limits, executor)
        if hermod.over_budget is not None:  # the program caught the budget error
            raise hermod.over_budget
    except asyncio.CancelledError:
        raise
    except DicecError as exc:
        return _failed(exc, hermod, started)
    except Exception as exc:  # noqa: BLE001 - the program's own exception is the task's error
        return _failed(exc, hermod, started)
    return TaskOutcome(True, run.value, run.printed, None, None, hermod.calls, started, time.time())


def _failed(exc: BaseException, hermod: Hermod, started: float) -> TaskOutcome:
    printed = list(getattr(exc, "printed", []) or [])
    if hermod.over_budget is not None:  # whatever the program did after, this is why
        exc = hermod.over_budget
    message = str(exc) or type(exc).__name__
    line = getattr(exc, "program_line", None)
    if line is not None and f"line {line}" not in message:
        message += f" (program line {line})"
    error_type = getattr(exc, "error_type", None) or type(exc).__name__  # jailed: its own
    calls = hermod.calls
    return TaskOutcome(False, None, printed, message, error_type, calls, started, time.time())
