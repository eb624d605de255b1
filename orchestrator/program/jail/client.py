"""The orchestrator's side of the jail: one zygote per process, one socket per task.

Tasks of one program (and limits) that start in the same turn of the event loop go to
the zygote as one spawn, up to `tasks_per_child`: one jailed child runs them together
(docs/security.md, "Tasks that share a child"). A task whose shared child died, was
killed, or whose guard tripped (its siblings may have been the cause) runs again, once,
in a child of its own, so its outcome is what it would have been alone.

`Jail.run` has the shape of sandbox.run_program: it returns a ProgramRun or raises the
task's error (with `printed`), so run_task treats both runners alike. Everything is
asyncio: one reader for the zygote's control socket, one TaskSocket per running task, no
threads. The zygote is started lazily and again after it died; on a new event loop
(a monolith node runs each task in its own `asyncio.run`) the control reader moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image

from dicec.errors import (
    JailError,
    ProgramError,
    ProgramFailedError,
    ProgramResourceError,
    ProgramTimeoutError,
)
from dicec.settings import get_settings
from orchestrator.program.hermod import Hermod
from orchestrator.program.jail.image_store import pixels_memfd
from orchestrator.program.jail.limits import ChildLimits
from orchestrator.program.jail.protocol import (
    MAX_LINE_BYTES,
    clean_error_type,
    clean_text,
    decode,
    encode,
)
from orchestrator.program.jail.session import ChildGone, TaskSession
from orchestrator.program.jail.task_socket import TaskSocket
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, ProgramRun
from worker_models.catalogue import CATALOGUE, get_spec
from worker_models.imageref import TrackedImage

log = logging.getLogger(__name__)

ZYGOTE_START_TIMEOUT_S = 60.0
KILL_GRACE_S = 1.0  # past the wall-clock limit, the parent kills (the guard stops it first)
EXIT_REPORT_WAIT_S = 2.0
IMAGES_KEPT = 64
# Pixels the zygote keeps at most: every resident MiB costs each fork and exit about
# 0.03 ms of CPU (page tables copied, then torn down), so a cache of large images would
# slow every task; past this the least recently used are forgotten.
IMAGES_KEPT_BYTES = 32 * 1024 * 1024
PROGRAMS_KEPT = 16
PROJECT_ROOT = Path(__file__).resolve().parents[3]
SPAWN_WINDOW_S = 0.002  # how long a task may wait for others to share its child


def clean_env() -> dict[str, str]:
    """The zygote's whole environment: no Redis URL, no passwords, no DICEC_*."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/nonexistent",
            "PYTHONPATH": str(PROJECT_ROOT), "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip


# A shared child's task that failed in one of these ways may owe it to a sibling (one
# that spun, grew or crashed): it runs again alone. Its own errors are final.
RERUN_ALONE_ERRORS = frozenset({"ProgramTimeoutError", "ProgramResourceError"})


@dataclasses.dataclass
class PendingSpawn:
    task: str
    key: str
    digest: str
    image_path: str
    limits: Limits  # frozen: tasks under equal limits may share
    theirs: socket.socket  # the child's end of the task's socket, until sent
    share: int  # tasks its child may hold at most (1: a child of its own)
    batch: str | None  # only tasks of one batch share (and one program: `key`)


class SharedChildLost(Exception):
    """The task's shared child died or was killed, or its guard tripped: run it alone."""


class Zygote:
    """A started zygote process and the orchestrator's end of its control socket."""

    def __init__(
        self, proc: subprocess.Popen[bytes], control: socket.socket, events: socket.socket
    ) -> None:
        self.proc = proc
        self.control = control  # blocking: messages are short, the zygote reads at once
        self.events = events  # read by asyncio (non-blocking): its own socket
        self.exited: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.pids: dict[str, int] = {}  # task id -> pid of its running child
        self.children_started = 0  # (tests, diagnostics)
        self.spawns_delayed = 0  # spawns that waited SPAWN_WINDOW_S for others (the same)
        self.images: OrderedDict[str, int] = OrderedDict()  # digest -> bytes of pixels
        self.programs: OrderedDict[str, int] = OrderedDict()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reader_task: asyncio.Task[None] | None = None
        self.events_writer: asyncio.StreamWriter | None = None
        self.notes: list[str] = []
        self.alive = True
        self.pending: list[PendingSpawn] = []  # sent together at the end of this turn
        self.group_size: dict[str, int] = {}  # task id -> tasks in its child, while it runs
        self.flush_handle: asyncio.Handle | None = None

    def send(self, message: dict[str, Any], fds: list[int] | None = None) -> None:
        if message.get("op") == "forget" and any(
            message.get("digest") == p.digest or message.get("key") == p.key for p in self.pending
        ):
            self.flush_spawns()  # a queued task needs what is forgotten: it goes first
        data = encode(message)
        try:
            if not fds:
                self.control.sendall(data)
            else:
                sent = socket.send_fds(self.control, [data], fds)
                if sent < len(data):
                    self.control.sendall(data[sent:])
        except OSError as exc:
            self.alive = False
            raise JailError(f"the program jail's zygote is gone ({exc.strerror})") from None

    def queue_spawn(self, spawn: PendingSpawn) -> None:
        """Spawn the task at the end of this turn, with the others queued in it; while
        other tasks run, up to SPAWN_WINDOW_S later (or when a child's worth is queued),
        so that tasks arriving one by one share too. A task alone starts at once."""
        loop = asyncio.get_running_loop()
        if not self.pending:
            # Busy: another task's child is running. Not "not yet exited": a baseline
            # node starts its next task ~5 ms after the last one's `done`, before the
            # zygote reports that child's exit, and every task waited out the window.
            busy = bool(self.group_size)
            if busy and spawn.share > 1:
                self.flush_handle = loop.call_later(SPAWN_WINDOW_S, self.flush_spawns)
                self.spawns_delayed += 1
            else:
                self.flush_handle = loop.call_soon(self.flush_spawns)
        self.pending.append(spawn)
        if len(self.pending) >= spawn.share:
            self.flush_spawns()

    def drop_pending(self, task: str) -> None:
        """A task that ended before its spawn went out (cancelled) is not spawned."""
        for spawn in [p for p in self.pending if p.task == task]:
            self.pending.remove(spawn)
            spawn.theirs.close()

    def flush_spawns(self) -> None:
        """Send the queued spawns: one child for each run of up to `share` tasks of the
        same batch, program and limits, in the order they were queued."""
        pending, self.pending = self.pending, []
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        groups: dict[tuple[Any, ...], list[PendingSpawn]] = {}
        for spawn in pending:
            group = (spawn.key, spawn.limits, spawn.share, spawn.batch)
            groups.setdefault(group, []).append(spawn)
        for (key, _, share, _), spawns in groups.items():
            for start in range(0, len(spawns), share):
                self._spawn(key, spawns[start : start + share])

    def _spawn(self, key: str, spawns: list[PendingSpawn]) -> None:
        tasks = [{"task": p.task, "digest": p.digest, "image_path": p.image_path} for p in spawns]
        limits = limits_message(spawns[0].limits)
        message = {"op": "spawn", "key": key, "tasks": tasks, "limits": limits}
        try:
            self.send(message, [p.theirs.fileno() for p in spawns])
        except JailError as exc:
            for spawn in spawns:
                future = self.exited.pop(spawn.task, None)
                if future is not None and not future.done():
                    future.set_result({"error": str(exc)})
        finally:
            for spawn in spawns:
                spawn.theirs.close()
        for spawn in spawns:
            self.group_size[spawn.task] = len(spawns)

    async def read(self, reader: asyncio.StreamReader) -> None:
        """Resolve `exited` futures until the zygote closes its end."""
        while True:
            line = await reader.readline()
            if not line:
                break
            message = decode(line)
            if message.get("op") == "spawned":
                self.children_started += 1
                for task in message.get("tasks", []):
                    self.pids[task] = message.get("pid")
            if message.get("op") == "exited":
                self.pids.pop(message.get("task", ""), None)
                future = self.exited.pop(message.get("task", ""), None)
                if future is not None and not future.done():
                    future.set_result(message)
        self.alive = False
        for future in self.exited.values():
            if not future.done():
                future.set_result({"error": "the jail's zygote process exited"})

    async def attach(self, first: bool) -> None:
        """Read the control socket on the running loop (a dup: an old loop's transport
        may still hold the previous one)."""
        loop = asyncio.get_running_loop()
        # Keep the writer: a collected StreamWriter closes its transport (and the reader).
        reader, self.events_writer = await asyncio.open_unix_connection(
            sock=self.events.dup(), limit=MAX_LINE_BYTES
        )
        if first:
            ready = decode(await asyncio.wait_for(reader.readline(), ZYGOTE_START_TIMEOUT_S))
            self.notes = list(ready.get("notes", []))
        self.loop = loop
        self.exited.clear()
        self.reader_task = asyncio.ensure_future(self.read(reader))

    def stop(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.control.close()
            self.events.close()
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


def image_params() -> str:
    """Which parameters of each catalogue function are images, as JSON for the zygote
    (which does not import the catalogue)."""
    return json.dumps({name: get_spec(name).image_params() for name in CATALOGUE})


def start_zygote() -> Zygote:
    control, control_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    events, events_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fds = [control_theirs.fileno(), events_theirs.fileno()]
    command = [sys.executable, "-m", "orchestrator.program.jail", *map(str, fds), image_params()]
    proc = subprocess.Popen(
        command, pass_fds=fds, env=clean_env(), cwd="/",
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    control_theirs.close()
    events_theirs.close()
    return Zygote(proc, control, events)


@functools.lru_cache(maxsize=64)
def limits_message(limits: Limits) -> dict[str, Any]:
    """Limits as the zygote takes them; made once per Limits (frozen) instead of per
    spawn. Callers only encode it."""
    return dataclasses.asdict(limits)


def program_key(program: CompiledProgram, rules: bool) -> str:
    return _program_key(rules, program.filename, program.source)


@functools.lru_cache(maxsize=PROGRAMS_KEPT)
def _program_key(rules: bool, filename: str, source: str) -> str:
    """Hashed once per program, not once per task (a batch runs one program)."""
    return hashlib.sha256(f"{rules}\0{filename}\0{source}".encode()).hexdigest()


def describe_exit(exit_info: dict[str, Any], limits: Limits) -> Exception:
    """The task's error for a child that died without saying `done`."""
    if "error" in exit_info:
        return JailError(f"program process could not run: {clean_text(exit_info['error'])}")
    signum = exit_info.get("signal")
    if signum == signal.SIGXCPU:
        cpu_s = ChildLimits(limits.wall_s, limits.memory_mb, limits.cpu_s).cpu_s()
        return ProgramResourceError(
            f"program used more than its CPU-time limit of {cpu_s} s "
            f"(its process was killed by SIGXCPU)"
        )
    if signum == signal.SIGKILL:
        return ProgramResourceError(
            "program's process was killed (SIGKILL: its CPU-time hard limit, the kernel's "
            "out-of-memory killer, or from outside)"
        )
    if signum is not None:
        return ProgramResourceError(f"program's process died of {signal.Signals(signum).name}")
    return ProgramError(
        f"program's process exited (status {exit_info.get('code')}) without reporting a result"
    )


def outcome(done: dict[str, Any]) -> ProgramRun:
    """A child's `done` as run_program's result or error."""
    printed = done.get("printed")
    printed = [clean_text(p, MAX_LINE_BYTES) for p in printed] if isinstance(printed, list) else []
    if done.get("ok"):
        return ProgramRun(value=done.get("value"), printed=printed)
    raise ProgramFailedError(
        clean_text(done.get("error")), clean_error_type(done.get("error_type")), printed
    )


class Jail:
    """Runs each task's program in a jailed child of one zygote: its own, or one shared
    with tasks of the same program that started in the same turn."""

    def __init__(self, *, language_rules: bool = True, tasks_per_child: int | None = None) -> None:
        self.language_rules = language_rules  # False only in the test that proves the jail
        if tasks_per_child is None:
            tasks_per_child = get_settings().jail_tasks_per_child
        self.tasks_per_child = max(1, tasks_per_child)
        self._zygote: Zygote | None = None
        self._starting: asyncio.Lock | None = None
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._serials = itertools.count()

    async def zygote(self) -> Zygote:
        loop = asyncio.get_running_loop()
        zygote = self._zygote
        if (
            zygote is not None
            and zygote.alive
            and zygote.loop is loop
            and zygote.proc.poll() is None
        ):
            return zygote  # every task but a zygote's first: no lock to take
        if self._starting is None or self._lock_loop is not loop:
            self._starting, self._lock_loop = asyncio.Lock(), loop
        async with self._starting:
            zygote = self._zygote
            if zygote is None or not zygote.alive or zygote.proc.poll() is not None:
                if zygote is not None:
                    zygote.stop()
                zygote = self._zygote = start_zygote()
                await zygote.attach(first=True)
                for note in zygote.notes:
                    log.info("program jail: %s", note)
            elif zygote.loop is not loop:
                await zygote.attach(first=False)
            return zygote

    def close(self) -> None:
        if self._zygote is not None:
            self._zygote.stop()
            self._zygote = None

    def pid_of(self, label: str) -> int | None:
        """The pid of the running child of the task labelled `label` (tests, diagnostics)."""
        zygote = self._zygote
        if zygote is None:
            return None
        return next((p for t, p in zygote.pids.items() if t.startswith(f"{label}-")), None)

    @property
    def notes(self) -> list[str]:
        return list(self._zygote.notes) if self._zygote else []

    def _define(
        self, zygote: Zygote, program: CompiledProgram, image: Image.Image
    ) -> tuple[str, str]:
        key = program_key(program, self.language_rules)
        if key not in zygote.programs:
            zygote.send({"op": "program", "key": key, "source": program.source,
                         "filename": program.filename, "rules": self.language_rules,
                         "limits": dataclasses.asdict(program.limits)})  # fmt: skip
            _remember(zygote, zygote.programs, key, "key", len(program.source))
        zygote.programs.move_to_end(key)
        digest = image.dicec_ref.digest if isinstance(image, TrackedImage) else None
        if digest is None:
            raise JailError("a jailed task's image must be stored by reference (TrackedImage)")
        if digest not in zygote.images:
            pixels = image.tobytes()
            fd = pixels_memfd(pixels)
            try:
                zygote.send({"op": "image", "digest": digest, "mode": image.mode,
                             "size": list(image.size)}, [fd])  # fmt: skip
            finally:
                os.close(fd)
            _remember(zygote, zygote.images, digest, "digest", len(pixels))
        zygote.images.move_to_end(digest)
        return key, digest

    async def run(
        self,
        program: CompiledProgram,
        hermod: Hermod,
        image_path: str,
        image: Image.Image,
        limits: Limits | None = None,
        label: str | None = None,
    ) -> ProgramRun:
        """Run the program on one image in a jailed process; raise the task's error.
        `label` (the task index) names the task for `pid_of`."""
        limits = limits or program.limits
        calls = hermod.calls
        try:
            return await self._attempt(
                program, hermod, image_path, image, limits, label, self.tasks_per_child
            )
        except SharedChildLost:
            hermod.calls = calls  # the rerun makes its calls again
            return await self._attempt(program, hermod, image_path, image, limits, label, 1)

    async def _attempt(
        self,
        program: CompiledProgram,
        hermod: Hermod,
        image_path: str,
        image: Image.Image,
        limits: Limits,
        label: str | None,
        share: int,
    ) -> ProgramRun:
        zygote = await self.zygote()
        key, digest = self._define(zygote, program, image)
        serial = next(self._serials)  # unique for this Jail's life: its zygotes' keys
        task_id = f"{label}-{serial}" if label is not None else str(serial)
        exited = asyncio.get_running_loop().create_future()
        zygote.exited[task_id] = exited
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        zygote.queue_spawn(
            PendingSpawn(task_id, key, digest, image_path, limits, theirs, share, hermod.batch_id)
        )
        session = TaskSession(hermod, TaskSocket(mine), digest)
        done: dict[str, Any] | None = None
        try:
            try:
                done = await asyncio.wait_for(session.serve(), limits.wall_s + KILL_GRACE_S)
            except (TimeoutError, ChildGone) as exc:
                if zygote.group_size.get(task_id, 1) > 1:
                    raise SharedChildLost from None
                if isinstance(exc, TimeoutError):
                    raise ProgramTimeoutError(
                        f"program ran past its wall-clock limit of {limits.wall_s:g} s "
                        f"(its process was killed)"
                    ) from None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(exited), EXIT_REPORT_WAIT_S)
                info = exited.result() if exited.done() else {"error": "no exit status reported"}
                raise describe_exit(info, limits) from None
            shared = zygote.group_size.get(task_id, 1) > 1
            if shared and not done.get("ok") and done.get("error_type") in RERUN_ALONE_ERRORS:
                raise SharedChildLost
        finally:
            session.close()
            zygote.drop_pending(task_id)
            zygote.group_size.pop(task_id, None)
            if zygote.alive and not exited.done():
                with contextlib.suppress(JailError):  # nothing outlives its tasks
                    zygote.send({"op": "finished" if done is not None else "kill", "task": task_id})
        return outcome(done)


def _remember(
    zygote: Zygote, kept: OrderedDict[str, int], value: str, field: str, size: int
) -> None:
    """Note what the zygote now holds; have it forget the least recently used past the
    limits (the newest entry always stays: its task is about to be spawned)."""
    kept[value] = size
    limit, limit_bytes = (
        (IMAGES_KEPT, IMAGES_KEPT_BYTES) if field == "digest" else (PROGRAMS_KEPT, None)
    )
    while len(kept) > 1 and (
        len(kept) > limit or (limit_bytes is not None and sum(kept.values()) > limit_bytes)
    ):
        old, _ = kept.popitem(last=False)
        zygote.send({"op": "forget", field: old})


def jail_available() -> bool:
    """Linux with fork: the only platform the jail supports."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")
