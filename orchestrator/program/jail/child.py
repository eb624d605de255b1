"""The forked child: jail itself, run one task's program, report, exit.

Order matters. Everything that needs a new file descriptor (the event loop's epoll and
eventfd, jail.child_loop; /dev/null is the zygote's) is made first; then the rlimits,
dropping root, no-new-privileges, Landlock and the seccomp filter; only then does program
code run. A checked program's run arrives ready (PreparedTask, made by the zygote before
the fork): the child gives it its image and socket and starts it. The
child ends with os._exit: no finaliser, atexit hook or stray thread runs after `done`,
and the parent kills it at its deadline whatever it does.
"""

from __future__ import annotations

import _signal
import asyncio
import os
import signal
import socket
from dataclasses import dataclass
from typing import Any, NoReturn

from dicec.errors import ProgramResourceError
from orchestrator.program.execute import prepare_on_image
from orchestrator.program.jail import landlock, seccomp
from orchestrator.program.jail import limits as rlimits
from orchestrator.program.jail.child_loop import ChildLoop
from orchestrator.program.jail.image_store import StoredImage
from orchestrator.program.jail.unchecked import UncheckedProgram, run_unchecked
from orchestrator.program.jail.wire_hermod import ImageParams, SocketHermod
from orchestrator.program.sandbox import guards
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, PreparedRun
from orchestrator.program.sandbox.runtime import ImageCopier

EXIT_OK = 0
EXIT_CHILD_FAILED = 70  # the child's own machinery failed (not the program)
FD_SCAN_MAX = 4096


def enter_jail(
    limits: rlimits.ChildLimits,
    ruleset: landlock.Ruleset | None = None,
    *,
    no_new_privs_inherited: bool = False,
    parent: int | None = None,
) -> list[str]:
    """Apply layers 1 and 2 to this process; the lines saying what could not be applied.
    `no_new_privs_inherited`: the zygote set PR_SET_NO_NEW_PRIVS on itself (a fork keeps
    it, and nothing can clear it), so this process need not set it again. Landlock (with
    the zygote's `ruleset`) needs it set first. `parent`: the zygote's pid, for the
    parent-death signal if dropping root here clears it (the zygote drops root itself
    first, so its children have nothing left to drop)."""
    if ruleset is not None:
        guards.keep_statm_open()  # for the rlimits and the memory guard, after /proc closes
    notes = rlimits.apply_rlimits(limits)
    note = rlimits.drop_root()
    if note:
        notes.append(note)
    elif parent is not None:
        rlimits.die_with_parent(parent)  # the credential change cleared it
    if not no_new_privs_inherited:
        note = rlimits.no_new_privileges()
        if note:
            notes.append(note)
    if ruleset is not None:
        try:
            landlock.restrict_self(ruleset)
        except OSError as exc:
            notes.append(f"landlock: {exc.strerror}: reads are not limited")
    try:
        seccomp.install()
    except seccomp.SeccompUnavailable as exc:
        notes.append(f"seccomp: {exc}")
    return notes


def keep_only(null: int, *kept: int) -> None:
    """stdin/stdout/stderr onto `null` (the zygote's /dev/null), every other inherited
    descriptor but those `kept` closed."""
    for std in (0, 1, 2):
        os.dup2(null, std)
    low = 3
    for fd in sorted(kept):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, FD_SCAN_MAX)


def failure(exc: BaseException) -> dict[str, Any]:
    """The `done` message of a failed run (what TaskOutcome needs)."""
    if isinstance(exc, MemoryError):  # RLIMIT_AS refused an allocation
        printed = getattr(exc, "printed", None)
        exc = ProgramResourceError("program ran out of memory (its address-space limit)")
        exc.printed = printed  # type: ignore[attr-defined]
    message = str(exc) or type(exc).__name__
    line = getattr(exc, "program_line", None)
    if isinstance(line, int) and f"line {line}" not in message:
        message += f" (program line {line})"
    printed = getattr(exc, "printed", None)
    printed = [str(p) for p in printed] if isinstance(printed, list) else []
    return {"t": "done", "ok": False, "error": message, "error_type": type(exc).__name__,
            "printed": printed}  # fmt: skip


@dataclass
class PreparedTask:
    """A checked program's run with the hermod and loop it runs on, prepared by the zygote
    once per program and limits (PreparedRun says why); each child starts its own copy."""

    run: PreparedRun
    hermod: SocketHermod
    loop: ChildLoop


Job = PreparedTask | UncheckedProgram | BaseException  # a compile error is the task's error


def prepare_task(
    program: CompiledProgram, image_params: ImageParams, limits: dict[str, Any]
) -> PreparedTask:
    loop = ChildLoop()  # its descriptors are made in each child
    hermod = SocketHermod(image_params)  # its socket too
    return PreparedTask(prepare_on_image(program, hermod, loop, Limits(**limits)), hermod, loop)


async def serve(
    job: Job, hermod: SocketHermod, spawn: dict[str, Any], fresh: ImageCopier | None
) -> None:
    """Run the program while listening for call replies; send `done`."""
    listener = asyncio.ensure_future(hermod.listen())
    run = asyncio.ensure_future(_run(job, hermod, spawn, fresh))
    await asyncio.wait({listener, run}, return_when=asyncio.FIRST_COMPLETED)
    if not run.done():
        return  # the orchestrator went away: nobody to tell
    listener.cancel()
    try:
        value = run.result()
    except BaseException as exc:  # noqa: BLE001 - every failure is the task's error
        hermod.send(failure(exc))
    else:
        try:  # only the sending: a program's own ValueError/TypeError is its error above
            hermod.send({"t": "done", "ok": True, "value": value.value, "printed": value.printed})
        except (TypeError, ValueError) as exc:  # a value json cannot carry (rules off only)
            hermod.send(failure(TypeError(f"result is not JSON data: {exc}")))
    await hermod.drain()


async def _run(
    job: Job, hermod: SocketHermod, spawn: dict[str, Any], fresh: ImageCopier | None
) -> Any:
    if isinstance(job, BaseException):
        raise job
    if fresh is None:
        raise RuntimeError("the task's image was not sent to the jail")
    if isinstance(job, UncheckedProgram):
        return await run_unchecked(job, hermod, spawn["image_path"], fresh())
    job.run.start(spawn["image_path"], fresh=fresh)
    return await job.run.run()


def child_main(
    fds: list[int], spawn: dict[str, Any], job: Job, images: list[StoredImage | None],
    null: int, image_params: ImageParams, parent: int, ruleset: landlock.Ruleset | None = None,
    no_new_privs_inherited: bool = False, niceness: int = 0,
) -> NoReturn:  # fmt: skip
    """The whole life of a child, from fork to os._exit: the spawn's tasks (one program,
    each with its own socket and image), run together on one loop."""
    code = EXIT_OK
    try:
        signal.set_wakeup_fd(-1)  # the zygote's: not this process's business
        for signum in (_signal.SIGCHLD, _signal.SIGINT):
            _signal.signal(signum, _signal.SIG_DFL)  # the C function: no enum conversions
        keep_only(null, *fds, *([ruleset.fd] if ruleset else []))
        rlimits.die_with_parent(parent)
        if niceness:  # the zygote cannot watch its children's CPU (jail.cpu_yield)
            os.nice(niceness)
        loop = job.loop if isinstance(job, PreparedTask) else ChildLoop()
        loop.open()  # its epoll and eventfd: before seccomp
        lim, n = spawn["limits"], len(fds)
        runs = [_task_job(job, image_params, lim, first=i == 0) for i in range(n)]
        for (_, hermod), fd in zip(runs, fds, strict=True):
            hermod.attach(socket.socket(fileno=fd))  # inherited: no new socket in the jail
        loop.threads = n  # a serial program runs in a thread: one each
        one = rlimits.ChildLimits(lim["wall_s"], lim["memory_mb"], lim.get("cpu_s"))
        enter_jail(  # a child of n tasks gets what n children would: no more in all
            rlimits.ChildLimits(one.wall_s, one.memory_mb * n, one.cpu_s() * n),
            ruleset,
            no_new_privs_inherited=no_new_privs_inherited,
            parent=parent,
        )
        served = [
            serve(task_job, hermod, {**entry, "limits": lim}, _fresh(image))
            for (task_job, hermod), entry, image in zip(runs, spawn["tasks"], images, strict=True)
        ]
        loop.run_until_complete(_together(served))  # the whole of every task, one run
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = EXIT_CHILD_FAILED
    os._exit(code)


def _task_job(
    job: Job, image_params: ImageParams, limits: dict[str, Any], *, first: bool
) -> tuple[Job, SocketHermod]:
    """A task's job and hermod. The first task of a child takes the zygote's prepared run;
    each other task of a shared child prepares its own here (a run starts once)."""
    if isinstance(job, PreparedTask):
        if first:
            return job, job.hermod
        hermod = SocketHermod(image_params)
        run = prepare_on_image(job.run.program, hermod, job.loop, Limits(**limits))
        return PreparedTask(run, hermod, job.loop), hermod
    return job, SocketHermod(image_params)


def _fresh(image: StoredImage | None) -> ImageCopier | None:
    return image.open if image is not None else None  # from this task's own pixels


async def _together(served: list[Any]) -> None:
    if len(served) == 1:  # alone: a failure of the child's own machinery is its exit code
        await served[0]
        return
    await asyncio.gather(*served, return_exceptions=True)  # one task's end is not another's
