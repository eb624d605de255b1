"""Layer 3 of the jail: no network and a read-only file system, where the kernel allows.

Done once, in the zygote, before it forks any child (children inherit the namespaces;
creating a network namespace per task would cost milliseconds each). As root:
a new mount namespace in which every mount is read-only and the scratch directories
(/tmp, /var/tmp, /dev/shm) are empty read-only tmpfs, and a new network namespace with
only a loopback device that is down. Without root, a user namespace may still give the
network namespace (laptops with unprivileged user namespaces); else nothing, said once.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
EMPTIED_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
SKIPPED_MOUNTS = ("/proc", "/sys", "/dev")  # pseudo file systems: left as they are

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]  # fmt: skip


def _check(rc: int, what: str) -> None:
    if rc != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), flags, data.encode()),
           f"mount {target}")  # fmt: skip


def mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if not point.startswith(SKIPPED_MOUNTS) or point == "/dev/shm":
            points.append(point)
    return points


def needed_paths() -> list[Path]:
    """What the children still import from: the interpreter, the venv, the project."""
    paths = [sys.prefix, sys.base_prefix, sys.exec_prefix, *sys.path]
    return [Path(p).resolve() for p in paths if p and Path(p).exists()]


def emptied_dirs() -> tuple[list[str], list[str]]:
    """The scratch dirs to empty, and those kept (read-only) because code lives there: a
    checkout or venv under /tmp must stay importable."""
    needed = needed_paths()
    empty, kept = [], []
    for directory in EMPTIED_DIRS:
        if not Path(directory).is_dir():
            continue
        root = Path(directory).resolve()
        holds_code = any(p == root or root in p.parents for p in needed)
        (kept if holds_code else empty).append(directory)
    return empty, kept


def read_only_view() -> tuple[list[str], list[str]]:
    """In a fresh mount namespace: every mount read-only, scratch dirs empty (those that
    hold no code). Returns the mounts that could not be made read-only, and the scratch
    dirs kept visible."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    empty, kept = emptied_dirs()
    for directory in empty:
        _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0555")
    failed = []
    for point in mount_points():
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except OSError as exc:
            failed.append(f"{point} ({exc.strerror})")
    return failed, kept


def isolate() -> list[str]:
    """Enter the namespaces this kernel allows; the lines to log, one per layer."""
    notes = []
    try:
        unshare(CLONE_NEWNS | CLONE_NEWNET)
    except OSError as exc:
        notes.append(f"mount namespace unavailable ({exc.strerror}): the file system view is "
                     f"the host's; seccomp still refuses writes")  # fmt: skip
        try:
            unshare(CLONE_NEWUSER | CLONE_NEWNET)
            notes.append("network namespace: in a user namespace (no network)")
        except OSError as exc2:
            notes.append(f"network namespace unavailable ({exc2.strerror}): seccomp still "
                         f"refuses sockets")  # fmt: skip
        return notes
    notes.append("network namespace: no network (loopback down)")
    failed, kept = read_only_view()
    emptied = [d for d in EMPTIED_DIRS if d not in kept]
    notes.append("mount namespace: read-only" + (f", {' '.join(emptied)} empty" if emptied else "")
                 + (f"; {' '.join(kept)} kept visible (read-only): the interpreter or the "
                    "project lives there" if kept else "")
                 + (f"; left writable: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return notes
