"""A batch: N tasks of one program over a folder of images, run with bounded concurrency.

The expansion is seeded (the paper: 1000 tasks, each a random one of 30 images). Every
task ends with exactly one record in Redis, a value or an error; `resume` runs only the
tasks that have none yet.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel, Field

from dicec.errors import BatchError, BatchInterrupted, DicecError, ProgramTimeoutError
from dicec.records import BatchMeta, CallTrace, Mode, TaskRecord
from dicec.settings import Settings
from orchestrator.batch.store import BatchStore
from orchestrator.batch.task import TaskImages, TaskOutcome, run_task
from orchestrator.dispatch.dispatcher import Dispatcher
from orchestrator.program.hermod import CallBackend
from orchestrator.program.jail.client import Jail
from orchestrator.program.jail.unchecked import unchecked_record
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, compile_program

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif", ".tif", ".tiff")

ProgressFn = Callable[[TaskRecord], None]
# A task whose time ran out while Redis was in trouble runs again (at most this often):
# the outage, not the program, used its time.
RERUNS_AFTER_OUTAGE = 2
# A cancel stops new tasks within this long (each lane would otherwise ask Redis per task).
CANCEL_POLL_S = 0.25


class BatchSummary(BaseModel):
    batch_id: str
    mode: Mode
    tasks: int
    ok: int
    errors: int
    missing: int
    ran_now: int
    wall_s: float
    tasks_per_s: float
    calls: int
    calls_per_s: float
    errors_by_type: dict[str, int] = Field(default_factory=dict)
    first_errors: list[str] = Field(default_factory=list)
    dispatch: dict[str, int] = Field(default_factory=dict)
    interrupted: str | None = Field(
        default=None, description="why the run stopped early (resumable), if it did"
    )


def list_images(images_dir: Path) -> list[Path]:
    if not images_dir.is_dir():
        raise BatchError(f"image folder {images_dir} does not exist")
    files = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise BatchError(f"image folder {images_dir} has no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def expand_batch(images_dir: Path, tasks: int, seed: int) -> list[str]:
    """The image of each task, chosen at random (seeded) from the folder."""
    if tasks < 1:
        raise BatchError(f"a batch needs at least one task, got {tasks}")
    files = list_images(images_dir)
    rng = random.Random(seed)
    return [rng.choice(files).name for _ in range(tasks)]


def new_meta(
    *,
    program_path: Path,
    images_dir: Path,
    tasks: int,
    seed: int,
    pools_file: str,
    settings: Settings,
    mode: Mode = "distributed",
    nodes: int = 1,
    batch_id: str | None = None,
) -> BatchMeta:
    try:
        source = program_path.read_text()
    except OSError as exc:
        raise BatchError(f"cannot read program {program_path}: {exc.strerror}") from None
    return BatchMeta(
        batch_id=batch_id or time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6],
        mode=mode,
        program_name=program_path.name,
        program_sha256=hashlib.sha256(source.encode()).hexdigest(),
        program_source=source,
        images_dir=str(images_dir.resolve()),
        images=expand_batch(images_dir, tasks, seed),
        tasks=tasks,
        seed=seed,
        pools_file=pools_file,
        nodes=nodes,
        cache=settings.cache_enabled,
        checkpoints=settings.checkpoints,
        created_at=time.time(),
    )


class BatchRunner:
    """Runs the tasks of a batch that have no record yet, through one dispatcher."""

    def __init__(
        self,
        settings: Settings,
        store: BatchStore,
        backend: CallBackend,
        concurrency: int | None = None,
        on_task: ProgressFn | None = None,
        jail: Jail | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.backend = backend
        self.concurrency = concurrency or settings.max_concurrent_tasks
        self.on_task = on_task
        self.ran_now = 0
        self.restored = 0
        self._given_jail = jail  # a caller's jail is used and left open (tests)
        self.jail: Jail | None = None  # set while a run is in progress, if the runner is "jail"
        self.reruns_after_outage = 0

    def limits(self) -> Limits:
        return Limits.from_settings(self.settings)

    async def run(self, meta: BatchMeta, todo_indices: list[int]) -> int:
        """Run the given tasks (see orchestrator.batch.lifecycle); how many were stored."""
        todo = iter(todo_indices)
        images = TaskImages(self.store.redis)
        if isinstance(self.backend, Dispatcher):
            self.backend.restore_image = images.restore  # resent calls re-store their images
        self.jail = self._given_jail
        if self.jail is None and self.settings.program_runner == "jail":
            self.jail = Jail()
        program = self._compile(meta)
        await self._start_jail()
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="dicec-sync-task") as pool:
                lanes = [
                    self._lane(meta, program, todo, images, pool) for _ in range(self.concurrency)
                ]
                await self._run_lanes(lanes)
        finally:
            if self.jail is not None and self.jail is not self._given_jail:
                self.jail.close()
        await self.store.flush_traces()
        # A Redis that restarted without persistence lost what was stored before: put
        # back this run's records (the traces stored before the restart stay lost).
        self.restored = await self.store.restore_lost_records()
        return self.ran_now

    async def _start_jail(self) -> None:
        """Start the zygote before the first task, as a monolith node does at its start:
        not inside the first tasks, every one of which would wait for it (~0.1 s of a
        100-task batch's ~2 s here). If it cannot start, each task tries again and says why."""
        if self.jail is None:
            return
        try:
            await self.jail.zygote()
        except (DicecError, OSError, TimeoutError) as exc:
            log.warning("program jail not started before the batch (%s): tried again per task", exc)

    def _compile(self, meta: BatchMeta) -> CompiledProgram | DicecError:
        """The batch's program, or the error every task fails with (the batch still ends)."""
        try:
            if self.jail is not None and not self.jail.language_rules:  # the jail-only test
                return unchecked_record(meta.program_source, meta.program_name, self.limits())
            return compile_program(meta.program_source, meta.program_name, self.limits())
        except DicecError as exc:
            return exc

    async def _run_lanes(self, lanes: list) -> None:
        """Run the lanes to the end, or stop them all (their tasks unrecorded, to run on
        --resume) once Redis trouble outlasts its limit: BatchInterrupted."""
        dispatcher = self.backend if isinstance(self.backend, Dispatcher) else None
        try:
            async with asyncio.TaskGroup() as group:
                running = [group.create_task(lane) for lane in lanes]
                if dispatcher is not None:
                    watcher = group.create_task(self._interrupted(dispatcher))
                await asyncio.gather(*running)
                if dispatcher is not None:
                    watcher.cancel()
        except BaseExceptionGroup as failed:  # the first failure, as a plain exception
            stopped = [e for e in failed.exceptions if isinstance(e, BatchInterrupted)]
            raise (stopped or failed.exceptions)[0] from None

    @staticmethod
    async def _interrupted(dispatcher: Dispatcher) -> None:
        await dispatcher.interrupted.wait()
        assert dispatcher.interruption is not None
        raise dispatcher.interruption

    def _hit_by_outage(self, outcome: TaskOutcome) -> bool:
        """Did the task time out while Redis was in trouble?"""
        dispatcher = self.backend if isinstance(self.backend, Dispatcher) else None
        return (
            dispatcher is not None
            and outcome.error_type == ProgramTimeoutError.__name__
            and dispatcher.health.overlaps(outcome.started_at, outcome.finished_at)
        )

    async def _lane(
        self,
        meta: BatchMeta,
        program: CompiledProgram | DicecError,
        todo: Iterator[int],
        images: TaskImages,
        pool: ThreadPoolExecutor,
    ) -> None:
        images_dir = Path(meta.images_dir)
        for index in todo:
            if await self.store.cancel_requested(max_age_s=CANCEL_POLL_S):
                return  # cancelled: start nothing new; the tasks in flight finish
            if isinstance(program, DicecError):
                now = time.time()
                outcome = TaskOutcome(
                    False, None, [], str(program), type(program).__name__, 0, now, now
                )
            else:
                path = images_dir / meta.images[index]
                for _ in range(1 + RERUNS_AFTER_OUTAGE):
                    outcome = await run_task(
                        program,
                        path,
                        lambda p=path: images.load(p),
                        self.backend,
                        batch_id=meta.batch_id,
                        task_index=index,
                        limits=self.limits(),
                        executor=pool,
                        jail=self.jail,
                        max_calls=self.settings.program_max_calls,
                    )
                    if not self._hit_by_outage(outcome):
                        break
                    self.reruns_after_outage += 1
            record = outcome.to_record(meta.batch_id, index, meta.images[index])
            if await self.store.save_task(record):
                self.ran_now += 1
                if self.on_task:
                    self.on_task(record)


def trace_sink(store: BatchStore) -> Callable[[CallTrace], None]:
    """Dispatcher callback: buffer traces, flushing in the background when due."""

    def sink(trace: CallTrace) -> None:
        if store.add_trace(trace):
            asyncio.ensure_future(store.flush_traces())

    return sink


async def summarize(
    store: BatchStore,
    meta: BatchMeta,
    wall_s: float,
    ran_now: int,
    dispatcher: Dispatcher | None = None,
) -> BatchSummary:
    records = await store.load_tasks()
    errors = [r for r in records if r.status == "error"]
    calls = sum(r.calls for r in records)
    by_type = Counter(r.error_type or "Error" for r in errors)
    return BatchSummary(
        batch_id=meta.batch_id,
        mode=meta.mode,
        tasks=meta.tasks,
        ok=len(records) - len(errors),
        errors=len(errors),
        missing=meta.tasks - len(records),
        ran_now=ran_now,
        wall_s=wall_s,
        tasks_per_s=ran_now / wall_s if wall_s else 0.0,
        calls=calls,
        calls_per_s=calls / wall_s if wall_s else 0.0,
        errors_by_type=dict(by_type.most_common(8)),
        first_errors=[f"task {r.index} ({r.image}): {r.error_type}: {r.error}" for r in errors[:5]],
        dispatch=dict(dispatcher.stats) if dispatcher else {},
    )
