"""Layer 2 of the jail: a seccomp filter, built with libseccomp through ctypes.

A deny list on top of "allow": the Python runtime needs a wide, version-dependent set
of syscalls, and what a program must never do is short. Denied with EPERM: running
programs (execve, execveat), new processes (fork, vfork, clone without CLONE_THREAD;
clone3 answers ENOSYS so that threads fall back to clone), sockets of any kind (the
task's socket is inherited, already connected), opening files for writing or creating
them, changing the file system, signalling other processes, tracing, namespaces,
io_uring (it would open files behind the filter's back), kernel keys and modules.
Signals are denied altogether (a program has no business signalling anything; without
root, `kill` could otherwise reach the orchestrator, which runs as the same user).
The filter is compiled once in the zygote (as a binary tree: cheaper for the kernel to
attach) and each child loads the BPF with one prctl.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
from collections.abc import Iterable
from typing import Any

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO_BASE = 0x00050000
SCMP_FLTATR_CTL_TSYNC = 4
SCMP_FLTATR_CTL_OPTIMIZE = 8  # libseccomp >= 2.5; older ones refuse it and stay linear
OPTIMIZE_BINARY_TREE = 2
SCMP_CMP_MASKED_EQ = 7
NR_UNKNOWN = -1
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
BPF_INSTRUCTION_BYTES = 8  # __NR_SCMP_ERROR: a name this architecture does not have

O_ACCMODE = 0o3
CLONE_THREAD = 0x00010000

DENIED_SYSCALLS = (
    "execve", "execveat", "fork", "vfork",
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    "creat", "openat2", "mknod", "mknodat", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat",
    "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat", "truncate",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "utime", "utimes", "utimensat", "futimesat",
    "kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    "pidfd_open", "pidfd_send_signal", "pidfd_getfd", "ptrace",
    "process_vm_readv", "process_vm_writev", "kcmp",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "fsopen", "fsmount",
    "open_tree", "move_mount", "name_to_handle_at", "open_by_handle_at",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open",
    "userfaultfd", "keyctl", "add_key", "request_key", "personality", "acct", "quotactl",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "sethostname", "setdomainname", "syslog",
)  # fmt: skip
# open(path, flags) has its flags in argument 1, openat(dirfd, path, flags) in 2.
OPEN_FLAG_ARG = {"open": 1, "openat": 2}
WRITE_FLAG_TESTS = ((O_ACCMODE, os.O_WRONLY), (O_ACCMODE, os.O_RDWR), (os.O_CREAT, os.O_CREAT),
                    (os.O_TRUNC, os.O_TRUNC))  # fmt: skip


class ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


SONAME = "libseccomp.so.2"


class SeccompUnavailable(OSError):
    """libseccomp is missing or the kernel refused the filter."""


@functools.cache
def _library() -> ctypes.CDLL:
    """Loaded once, in the zygote, by its usual name; only where that is missing does
    find_library look further (it runs `ldconfig -p`, which a child may not, and its
    module brings shutil, tempfile, bz2 and lzma: ~25 more mappings every fork copies)."""
    try:
        lib = ctypes.CDLL(SONAME, use_errno=True)
    except OSError:
        from ctypes.util import find_library  # the rare platform with another name

        path = find_library("seccomp")
        try:
            lib = ctypes.CDLL(path or SONAME, use_errno=True)
        except OSError as exc:
            raise SeccompUnavailable(f"libseccomp not found ({exc})") from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(ArgCmp)]  # fmt: skip
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def _errno_action(code: int) -> int:
    return SCMP_ACT_ERRNO_BASE | (code & 0xFFFF)


class Filter:
    """One filter under construction; `load()` installs it on the calling process."""

    def __init__(self) -> None:
        self._lib = _library()
        self._ctx = self._lib.seccomp_init(SCMP_ACT_ALLOW)
        if not self._ctx:
            raise SeccompUnavailable("seccomp_init failed")
        self._lib.seccomp_attr_set(self._ctx, SCMP_FLTATR_CTL_TSYNC, 1)
        # The same rules as a binary search over syscall numbers, not a linear list: the
        # kernel runs the filter for every syscall number when a child attaches it (its
        # action cache), 0.13 -> 0.06 ms of each child's CPU on our VM.
        self._lib.seccomp_attr_set(self._ctx, SCMP_FLTATR_CTL_OPTIMIZE, OPTIMIZE_BINARY_TREE)

    def deny(self, name: str, code: int = errno.EPERM, when: Iterable[ArgCmp] = ()) -> None:
        number = self._lib.seccomp_syscall_resolve_name(name.encode())
        if number == NR_UNKNOWN:
            return  # not a syscall on this architecture
        conditions = list(when)
        array = (ArgCmp * len(conditions))(*conditions) if conditions else None
        rc = self._lib.seccomp_rule_add_array(
            self._ctx, _errno_action(code), number, len(conditions), array
        )
        if rc < 0:
            raise SeccompUnavailable(f"seccomp rule for {name}: {os.strerror(-rc)}")

    def export_bpf(self) -> bytes:
        """The compiled BPF program (what the kernel loads), then the context is freed."""
        fd = os.memfd_create("dicec-seccomp")
        try:
            rc = self._lib.seccomp_export_bpf(self._ctx, fd)
            if rc < 0:
                raise SeccompUnavailable(f"seccomp_export_bpf: {os.strerror(-rc)}")
            os.lseek(fd, 0, os.SEEK_SET)
            chunks = []
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        finally:
            os.close(fd)
            self._lib.seccomp_release(self._ctx)
        return b"".join(chunks)


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def program_filter() -> Filter:
    """The filter of a task's process."""
    flt = Filter()
    for name in DENIED_SYSCALLS:
        flt.deny(name)
    flt.deny("clone3", errno.ENOSYS)  # glibc then creates threads with clone()
    flt.deny("clone", when=[ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)])  # a process
    for name, arg in OPEN_FLAG_ARG.items():
        for mask, value in WRITE_FLAG_TESTS:
            flt.deny(name, when=[ArgCmp(arg, SCMP_CMP_MASKED_EQ, mask, value)])
    return flt


@functools.cache
def program_bpf() -> bytes:
    """Compiled once per process (the zygote), loaded by each child in microseconds."""
    return program_filter().export_bpf()


@functools.cache
def loadable() -> tuple[Any, SockFprog, Any]:
    """The filter as the kernel takes it, and a bound prctl: made once in the zygote, so
    that a child's install is one call (building them in each child cost ~50 page copies)."""
    bpf = program_bpf()
    buffer = ctypes.create_string_buffer(bpf, len(bpf))
    prog = SockFprog(len(bpf) // BPF_INSTRUCTION_BYTES, ctypes.cast(buffer, ctypes.c_void_p))
    return buffer, prog, ctypes.CDLL(None, use_errno=True).prctl


def install() -> None:
    """Load the program filter on this process (no_new_privs must be set, or root);
    SeccompUnavailable if the kernel or the platform refuses."""
    _, prog, prctl = loadable()
    if prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise SeccompUnavailable(f"prctl(PR_SET_SECCOMP): {os.strerror(code)}")
