"""Layer 1 of the jail: resource limits, no new privileges, no root.

The rlimits are applied in each child after the fork, before the program runs; no new
privileges and no root once in the zygote, whose children inherit both (a child drops
root itself only if the zygote could not). Each step reports what it could not do
instead of failing the task: the caller logs the line once.
"""

from __future__ import annotations

import _signal
import ctypes
import functools
import math
import os
import pwd
import resource
import signal
from dataclasses import dataclass

from orchestrator.program.sandbox.guards import STATM_SIZE, statm_bytes

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
MIB = 1024 * 1024
ADDRESS_SPACE_SLACK_MB = 512  # thread stacks and malloc arenas reserve address space
OPEN_FILES_MAX = 64
CPU_SLACK_S = 1  # the hard CPU limit (SIGKILL) this long after the soft one (SIGXCPU)
CPU_SHARE_OF_WALL = 0.5  # a task mostly waits for its calls: CPU past half its wall is a loop
MIN_CPU_S = 1
UNPRIVILEGED_USER = "nobody"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
_libc.prctl.restype = ctypes.c_int


@dataclass(frozen=True)
class ChildLimits:
    """The budgets of one child process."""

    wall_s: float
    memory_mb: int
    cpu_limit_s: float | None = None

    def cpu_s(self) -> int:
        if self.cpu_limit_s is not None:
            return max(MIN_CPU_S, math.ceil(self.cpu_limit_s))
        return max(MIN_CPU_S, math.ceil(self.wall_s * CPU_SHARE_OF_WALL))


def _prctl(option: int, arg: int) -> None:
    if _libc.prctl(option, arg, 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def die_with_parent(parent: int | None = None) -> None:
    """SIGKILL this process when its parent goes. With `parent` (the pid it had), a parent
    gone already kills it now. The kernel clears this on any change of credentials:
    after drop_root it must be set again."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def not_dumpable() -> None:
    """No core dump, and no ptrace or /proc/<pid>/mem of this process by its own user;
    forked children inherit it. The zygote runs as `nobody`, as its children do, and
    holds every task's cached program and image."""
    _prctl(PR_SET_DUMPABLE, 0)


def current_address_space_bytes() -> int:
    return statm_bytes(STATM_SIZE)


def apply_rlimits(limits: ChildLimits) -> list[str]:
    """RLIMIT_AS (what is mapped now + the program's memory), RLIMIT_CPU, RLIMIT_FSIZE 0,
    RLIMIT_NOFILE, no core dumps. Returns the limits that could not be set."""
    address_space = (
        current_address_space_bytes() + (limits.memory_mb + ADDRESS_SPACE_SLACK_MB) * MIB
    )
    wanted = {
        "RLIMIT_AS": (resource.RLIMIT_AS, address_space),
        "RLIMIT_CPU": (resource.RLIMIT_CPU, limits.cpu_s()),
        "RLIMIT_FSIZE": (resource.RLIMIT_FSIZE, 0),
        "RLIMIT_NOFILE": (resource.RLIMIT_NOFILE, OPEN_FILES_MAX),
        "RLIMIT_CORE": (resource.RLIMIT_CORE, 0),
    }
    # A write past FSIZE fails with EFBIG (not killed). `_signal`: signal.signal's enum
    # conversions are Python code that a forked child would copy ~30 pages to run.
    _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)
    failed = []
    for name, (which, value) in wanted.items():
        soft = hard = value
        if which == resource.RLIMIT_CPU:
            hard = value + CPU_SLACK_S  # SIGXCPU at soft, SIGKILL at hard
        try:
            resource.setrlimit(which, (soft, hard))
        except (ValueError, OSError) as exc:
            failed.append(f"{name}: {exc}")
    return failed


def no_new_privileges() -> str | None:
    """PR_SET_NO_NEW_PRIVS: no setuid binary or file capability ever raises privileges."""
    try:
        _prctl(PR_SET_NO_NEW_PRIVS, 1)
    except OSError as exc:
        return f"PR_SET_NO_NEW_PRIVS: {exc}"
    return None


def has_no_new_privileges() -> bool:
    return _libc.prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1


@functools.cache
def unprivileged_user() -> pwd.struct_passwd:
    """Looked up once, in the zygote (a child may no longer read /etc/passwd)."""
    return pwd.getpwnam(UNPRIVILEGED_USER)


def drop_root() -> str | None:
    """As root: become `nobody` (no supplementary groups), so root-only files are closed.
    Not root: nothing to drop (the process keeps the orchestrator's user)."""
    if os.geteuid() != 0:
        return "not root: the program runs as the orchestrator's user"
    try:
        user = unprivileged_user()
        os.setgroups([])
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)
    except (KeyError, OSError) as exc:
        return f"could not become {UNPRIVILEGED_USER}: {exc}"
    return None
