"""The zygote: a clean interpreter that forks the jailed children that run tasks.

Started by the orchestrator (jail.client) with a scrubbed environment and one
inherited socket, before it could hold any connection or secret. It enters the
namespaces once, warms up the imports a program needs, and then serves the control
socket: programs are cached here (so a fork shares them for free), images too (each
child inherits only its tasks' own: jail.image_store), `spawn` forks one child for the
tasks it names (one program and limits, each task's socket received as SCM_RIGHTS; the
orchestrator decides which share), `finished` notes a task's `done` and kills its child
once every task of it has one, `kill` SIGKILLs a task's child not yet reaped (never a
recycled pid), and every child's exit status is reported for each of its tasks.

    python -m orchestrator.program.jail <control-fd> <events-fd> <image-params-json>

(`__main__` keeps OpenSSL out of the process first.) The orchestrator passes which
parameters of each catalogue function are images, so the zygote never imports the
catalogue and pydantic: what it holds, every fork copies the page tables of.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import dataclasses
import gc
import json
import os
import select
import signal
import socket
from typing import Any

from PIL import Image

from dicec.errors import DicecError
from orchestrator.program.jail import landlock, namespaces, seccomp
from orchestrator.program.jail.child import (
    Job,
    PreparedTask,
    child_main,
    enter_jail,
    prepare_task,
    serve,
)
from orchestrator.program.jail.child_loop import ChildLoop
from orchestrator.program.jail.cpu_yield import YIELD_NICENESS, CpuYield, cpu_s
from orchestrator.program.jail.image_store import ImageStore, StoredImage, pixels_memfd
from orchestrator.program.jail.leanfork import lean_fork
from orchestrator.program.jail.limits import (
    UNPRIVILEGED_USER,
    ChildLimits,
    die_with_parent,
    drop_root,
    has_no_new_privileges,
    no_new_privileges,
    not_dumpable,
    unprivileged_user,
)
from orchestrator.program.jail.linesock import LineSocket
from orchestrator.program.jail.protocol import decode, encode
from orchestrator.program.jail.unchecked import UncheckedProgram, compile_unchecked
from orchestrator.program.jail.wire_hermod import ImageParams
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, compile_program
from worker_models.imageref import ImageRef, TrackedImage, encode_png, image_to_ref

RECV_BYTES = 1 << 20
MAX_FDS_PER_RECV = 64
FDS_SPACE = socket.CMSG_SPACE(MAX_FDS_PER_RECV * 4)  # SCM_RIGHTS of up to 64 ints
SIGKILL = int(signal.SIGKILL)
PROBE_LIMITS = ChildLimits(wall_s=5, memory_mb=64)
WARM_UP_RUNS = 20  # past CPython's warm-up counters: children inherit specialised code

Program = CompiledProgram | UncheckedProgram | BaseException


def warm_up(image_params: ImageParams) -> None:
    """Import now what a child would import lazily (after dropping root it may not read
    the interpreter's files)."""
    encode_png(Image.new("RGB", (2, 2)))
    with contextlib.suppress(seccomp.SeccompUnavailable):
        seccomp.loadable()  # compiled once here; each child loads it
    with contextlib.suppress(KeyError):
        unprivileged_user()
    import concurrent.futures.thread  # noqa: F401

    loop = ChildLoop()  # the children's loop: its code warmed up here too
    try:
        loop.run_until_complete(_warm_run(image_params))
    finally:
        loop.close()


WARM_UP_PROGRAM = """
import asyncio
import hermod
from PIL import Image

async def execute_query(image_filename):
    image = Image.open(image_filename)
    boxes = await hermod.call("glip", image=image, object_name="car")
    crops = [image.crop((b["x"], b["y"], b["x"] + b["width"], b["y"] + b["height"]))
             for b in boxes]
    answers = await asyncio.gather(*[hermod.call("blip", image=c, question="?") for c in crops])
    print(f"{len(answers)} answer(s)")
    return {"answers": answers}
"""


def _warm_up_result(name: str) -> Any:
    return [{"x": 0, "y": 0, "width": 2, "height": 2}] if name == "glip" else {"answer": "a"}


class _WarmUpHermod:
    """Answers the warm-up program's calls in this process (nothing is sent)."""

    async def call(self, name: str, **kwargs: Any) -> Any:
        for value in kwargs.values():
            image_to_ref(value, {})
        return _warm_up_result(name)


async def _warm_run(image_params: ImageParams) -> None:
    """Run a typical program several times through the child's own wire path (its loop,
    SocketHermod, JSON lines), so that what a process builds lazily on first use (caches,
    schemas, stand-ins, the interpreter's specialised bytecode) is built here once and
    shared by every child instead of being rebuilt, page by copied page, in each."""
    from orchestrator.program.execute import run_on_image

    program = compile_program(WARM_UP_PROGRAM, "warm-up.py")
    image = TrackedImage.wrap(Image.new("RGB", (8, 8)), ImageRef("0" * 64))
    await run_on_image(program, _WarmUpHermod(), "warm.jpg", image)
    spawn = {"image_path": "warm.jpg", "limits": dataclasses.asdict(program.limits)}
    store = ImageStore()  # the task's image as a child gets it: from a stored mapping
    store.add(image.dicec_ref.digest, image.mode, image.size, pixels_memfd(image.tobytes()))
    stored = store.get(image.dicec_ref.digest)
    assert stored is not None  # added just above
    for _ in range(WARM_UP_RUNS):
        job = prepare_task(program, image_params, spawn["limits"])  # a run starts once
        await _warm_wire_run(job, stored, spawn)
    store.forget(image.dicec_ref.digest)


async def _warm_wire_run(job: PreparedTask, image: StoredImage, spawn: dict[str, Any]) -> None:
    """One run as a child does it, with this loop playing the orchestrator's end."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    hermod = job.hermod
    hermod.attach(theirs)  # its writes block: messages are small here
    orchestrator_end = LineSocket(ours)

    def answer(line: bytes) -> None:
        message = decode(line)
        if message.get("t") == "call":
            reply = {"t": "reply", "id": message["id"], "ok": True}
            orchestrator_end.write(encode({**reply, "result": _warm_up_result(message["name"])}))

    reading = asyncio.ensure_future(orchestrator_end.read_lines(answer))
    await serve(job, hermod, spawn, image.open)
    await asyncio.sleep(0)  # the cancelled listener lets go of the socket
    theirs.close()
    await reading  # ends with the child's end closed
    ours.close()


def make_ruleset() -> tuple[landlock.Ruleset | None, str]:
    """The Landlock ruleset every child restricts itself with, made once; and the line
    saying what it does (or why there is none)."""
    try:
        ruleset = landlock.build()
    except OSError as exc:
        return None, f"landlock unavailable ({exc.strerror}): reads are limited by the mounts only"
    return ruleset, ruleset.describe()


def probe_layers(ruleset: landlock.Ruleset | None = None) -> list[str]:
    """Fork one child that enters the jail and says what it could not apply."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        notes = enter_jail(PROBE_LIMITS, ruleset)
        os.write(write_fd, encode({"notes": notes}))
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return decode(data)["notes"] if data else ["probe child died before reporting"]


class Zygote:
    def __init__(
        self,
        control: socket.socket,
        events: socket.socket,
        image_params: ImageParams,
        ruleset: landlock.Ruleset | None = None,
        watch_cpu: bool = True,
    ) -> None:
        self.ruleset = ruleset  # every child restricts itself with it (Landlock)
        # Children start at our priority while we can watch their CPU; else lower.
        self.child_niceness = 0 if watch_cpu else YIELD_NICENESS
        self.control = control
        self.events = events
        self.image_params = image_params
        self.null = os.open(os.devnull, os.O_RDWR)  # each child's stdio, opened once here
        self.no_new_privs = has_no_new_privileges()  # set in main: every child inherits it
        self.pid = os.getpid()  # each child dies with it (die_with_parent)
        self.programs: dict[str, Program] = {}
        self.jobs: dict[tuple[str, tuple[Any, ...]], Job] = {}  # by program and limits
        self.images = ImageStore()  # each child inherits its own task's image only
        self.children: dict[int, list[str]] = {}  # pid -> its tasks' ids, until reaped
        self.live: dict[int, set[str]] = {}  # pid -> its tasks without a `done` yet
        self.pids: dict[str, int] = {}
        self.cpu_yield = CpuYield(watch_cpu)  # children that burn CPU give way to the rest
        self.fds: list[int] = []
        self.buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        self.events.sendall(encode(message))

    # -- control messages ----------------------------------------------------------------
    def on_message(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        if op == "program":
            self._forget_jobs(message["key"])
            self.programs[message["key"]] = self._compile(message)
        elif op == "image":
            self._add_image(message, self.fds.pop(0))  # its pixels: a sealed memory file
        elif op == "forget":
            self._forget_jobs(message.get("key", ""))
            self.programs.pop(message.get("key", ""), None)
            self.images.forget(message.get("digest", ""))
        elif op == "spawn":
            count = len(message["tasks"])  # one socket each, in the order of the tasks
            fds, self.fds = self.fds[:count], self.fds[count:]
            self.spawn(message, fds)
        elif op == "finished":
            self.finished(message["task"])
        elif op == "kill":  # the task failed or was cancelled: its child goes, siblings too
            pid = self.pids.get(message["task"])
            if pid is not None and pid in self.children:
                os.kill(pid, SIGKILL)

    @staticmethod
    def _compile(message: dict[str, Any]) -> Program:
        try:
            if not message["rules"]:
                return compile_unchecked(message["source"], message["filename"])
            limits = Limits(**message["limits"])
            return compile_program(message["source"], message["filename"], limits)
        except (DicecError, SyntaxError, ValueError) as exc:
            return exc

    def _add_image(self, message: dict[str, Any], fd: int) -> None:
        self.images.add(message["digest"], message["mode"], tuple(message["size"]), fd)

    def _forget_jobs(self, key: str) -> None:
        for job_key in [k for k in self.jobs if k[0] == key]:
            del self.jobs[job_key]

    def _job(self, key: str, limits: dict[str, Any]) -> Job:
        """What a child of this program runs: a checked program's run is prepared once per
        program and limits, here, and never run here (each child starts its own copy)."""
        job_key = (key, limits_key(limits))
        job = self.jobs.get(job_key)
        if job is None:
            program = self.programs.get(key)
            if program is None:
                return RuntimeError("program not sent to the jail")
            if not isinstance(program, CompiledProgram):
                return program  # unchecked (rules off, tests only) or its compile error
            try:
                job = prepare_task(program, self.image_params, limits)
            except (DicecError, TypeError, ValueError) as exc:
                return exc  # the task's error, once it has a process to fail in
            self.jobs[job_key] = job
        return job

    def spawn(self, message: dict[str, Any], fds: list[int]) -> None:
        """Fork one child for the message's tasks (one program and limits; the
        orchestrator chose them: jail.client), each with its own socket and image."""
        tasks = [entry["task"] for entry in message["tasks"]]
        program = self._job(message["key"], message["limits"])
        images = [self.images.get(entry["digest"]) for entry in message["tasks"]]
        gc.freeze()  # what exists now is shared with the child, never copied by its gc
        for image in images:
            self.images.let_fork(image)
        try:
            pid = lean_fork()
        except OSError as exc:
            pid = -1
            error = f"fork failed: {exc.strerror}"
        if pid == 0:
            child_main(fds, message, program, images, self.null, self.image_params, self.pid,
                       self.ruleset, self.no_new_privs, self.child_niceness)  # fmt: skip
        for image in images:
            self.images.keep_from_forks(image)
        for fd in fds:
            os.close(fd)
        if pid < 0:
            for task in tasks:
                self.send({"op": "exited", "task": task, "error": error})
            return
        self.children[pid] = tasks
        self.live[pid] = set(tasks)
        for task in tasks:
            self.pids[task] = pid
        self.send({"op": "spawned", "tasks": tasks, "pid": pid})
        self.cpu_yield.spawned(pid, len(tasks))

    def finished(self, task: str) -> None:
        """The orchestrator has the task's `done`: once every task of its child has one,
        the child is killed (it is exiting anyway; nothing outlives its tasks)."""
        pid = self.pids.get(task)
        live = self.live.get(pid) if pid is not None else None
        if live is None:
            return
        live.discard(task)
        if not live and pid in self.children:
            os.kill(pid, SIGKILL)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            tasks = self.children.pop(pid, [])
            self.live.pop(pid, None)
            self.cpu_yield.reaped(pid)
            signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            for task in tasks:
                self.pids.pop(task, None)
                self.send({"op": "exited", "task": task, "signal": signum, "code": code})

    # -- the loop ------------------------------------------------------------------------
    def read_control(self) -> bool:
        data, ancillary, _, _ = self.control.recvmsg(RECV_BYTES, FDS_SPACE)  # socket.recv_fds
        if not data:
            return False
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                self.fds.extend(array.array("i", payload[: len(payload) - len(payload) % 4]))
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            self.on_message(decode(line))
        return True

    def serve(self) -> None:
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        poller = select.epoll()  # not selectors: its Python layer is pages copied per spawn
        poller.register(self.control.fileno(), select.EPOLLIN)
        poller.register(wake_r, select.EPOLLIN)
        while True:
            for fd, _ in poller.poll(self.cpu_yield.timeout_s()):
                if fd == wake_r:
                    os.read(wake_r, 4096)
                elif not self.read_control():
                    return  # the orchestrator is gone: the children die with us
            self.reap()
            self.cpu_yield.watch()


def become_unprivileged(orchestrator: int) -> list[str]:
    """After its set-up the zygote drops root itself, so that its children are born as
    `nobody` and never change credentials: the kernel clears a process's parent-death
    signal when they change, and a child that dropped root itself outlived a killed
    zygote. Not dumpable: its children, the same user now, may not read its memory."""
    note = drop_root()
    not_dumpable()
    die_with_parent(orchestrator)  # set again: the credential change cleared it
    if note:
        return [f"zygote: {note}"]
    return [f"zygote and children run as {UNPRIVILEGED_USER}, not dumpable"]


def limits_key(limits: dict[str, Any]) -> tuple[Any, ...]:
    """The limits of a spawn as a key (the orchestrator sends the same few again and
    again, with the fields in Limits' order). One small tuple: what the zygote frees just
    before a fork is where the child's first allocations land, each a page it copies."""
    return tuple(limits.values())


def parse_image_params(text: str) -> ImageParams:
    return {name: frozenset(params) for name, params in json.loads(text).items()}


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    events = socket.socket(fileno=int(argv[2]))
    image_params = parse_image_params(argv[3])
    orchestrator = os.getppid()
    die_with_parent(orchestrator)
    notes = namespaces.isolate()
    warm_up(image_params)
    # The zygote never executes anything: no_new_privs on it costs nothing, and its
    # children inherit it instead of each setting it (a ctypes call: ~90 page copies).
    nnp_note = no_new_privileges()
    notes += [nnp_note] if nnp_note else []
    ruleset, line = make_ruleset()  # after the warm-up: it read what it needed
    notes += [line, *probe_layers(ruleset)]  # a child as root would make it: drops root
    notes += become_unprivileged(orchestrator)
    watch_cpu = cpu_s(os.getpid()) is not None  # /proc readable (as the children's user)
    if not watch_cpu:
        notes.append(f"cpu yield: /proc unreadable: every child starts at niceness "
                     f"{YIELD_NICENESS} instead of only those that burn CPU")  # fmt: skip
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the orchestrator
    events.sendall(encode({"op": "ready", "pid": os.getpid(), "notes": notes}))
    Zygote(control, events, image_params, ruleset, watch_cpu).serve()
