"""Landlock: a jailed child may read only the code it runs, nothing else on disk.

Linux's unprivileged access control (5.13+; this kernel answers ABI 7). The zygote
builds one ruleset at start-up: every file-system right handled, and read access
(files, directory listings, execute) granted beneath the interpreter's prefixes, the
project's own packages and the system's library directories, the only files a child may
still need (a lazily imported module, a shared library). Each child restricts itself
with it after dropping root and setting no-new-privileges, before seccomp: from then on
it cannot open `/etc`, `/root`, `/home`, `/tmp`, `/run`, `/proc`, the project's `var/`
or anything else outside those trees, nor write or create anything anywhere. Where the
ABI has them (4+), TCP bind and connect are denied; (6+) signals to processes outside
the child's domain and connections to abstract unix sockets.

This is the file-system layer that needs no root: on a laptop without mount namespaces
it is what closes reads. The rules hold whatever the language-level rules allow. Used
through ctypes (Python 3.11 has no binding), like seccomp.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

# Syscall numbers: the same on x86_64 and aarch64 (the unified table of new syscalls).
SYS_CREATE_RULESET = 444
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_ABI1 = (1 << 13) - 1  # execute, write, read, read dir, remove, make (char ... sym)
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6
READ_ONLY = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR

# System library trees: public files, and where a lazily loaded shared library lives.
SYSTEM_ROOTS = ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/usr/share/zoneinfo")
PROJECT_PACKAGES = ("orchestrator", "worker_models", "dicec", "examples")

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockUnavailable(OSError):
    """The kernel (or the container's seccomp profile) does not offer Landlock."""


@dataclass(frozen=True)
class Ruleset:
    fd: int
    abi: int
    roots: tuple[str, ...]

    def describe(self) -> str:
        return f"landlock ABI {self.abi}: reads only beneath {len(self.roots)} code directories"


def _syscall(number: int, *args: object) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        errno = ctypes.get_errno()
        raise LandlockUnavailable(errno, os.strerror(errno))
    return int(result)


def abi_version() -> int:
    """The kernel's Landlock ABI (LandlockUnavailable when it has none)."""
    return _syscall(SYS_CREATE_RULESET, None, ctypes.c_size_t(0), CREATE_RULESET_VERSION)


def handled_access(abi: int) -> tuple[int, int, int]:
    """What the ruleset governs at this ABI: file-system rights, network rights, scopes."""
    fs = FS_ABI1 | (FS_REFER if abi >= 2 else 0) | (FS_TRUNCATE if abi >= 3 else 0)
    fs |= FS_IOCTL_DEV if abi >= 5 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scoped


def code_roots() -> tuple[str, ...]:
    """The trees a child may read: the interpreter (base and venv), the project's
    packages (not the checkout around them: its var/, .env, logs), system libraries."""
    package_root = Path(__file__).resolve().parents[3]
    candidates = [
        sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
        *(str(package_root / name) for name in PROJECT_PACKAGES), *SYSTEM_ROOTS,
    ]  # fmt: skip
    roots: list[str] = []
    for candidate in candidates:
        real = os.path.realpath(candidate)
        if os.path.isdir(real) and real not in roots:
            roots.append(real)
    return tuple(roots)


def build(roots: tuple[str, ...] | None = None) -> Ruleset:
    """The ruleset, made once (in the zygote): every right handled, read beneath `roots`."""
    abi = abi_version()
    fs, net, scoped = handled_access(abi)
    attr = struct.pack("=QQQ", fs, net, scoped)[: 8 if abi < 4 else 16 if abi < 6 else 24]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    fd = _syscall(SYS_CREATE_RULESET, buffer, ctypes.c_size_t(len(attr)), 0)
    os.set_inheritable(fd, False)  # a child gets it through fork, not through exec
    granted = []
    for root in roots if roots is not None else code_roots():
        try:
            parent = os.open(root, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            rule = ctypes.create_string_buffer(struct.pack("=Qi", READ_ONLY & fs, parent), 12)
            _syscall(SYS_ADD_RULE, fd, RULE_PATH_BENEATH, rule, 0)
            granted.append(root)
        finally:
            os.close(parent)
    return Ruleset(fd, abi, tuple(granted))


def restrict_self(ruleset: Ruleset) -> None:
    """Enforce the ruleset on this process and every thread it starts (needs
    no-new-privileges, or CAP_SYS_ADMIN). Irreversible; the fd is closed after."""
    try:
        _syscall(SYS_RESTRICT_SELF, ruleset.fd, 0)
    finally:
        os.close(ruleset.fd)
