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


def read_only_view() -> list[str]:
    """In a fresh mount namespace: every mount read-only, scratch dirs empty. Returns the
    mounts that could not be made read-only."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    for directory in EMPTIED_DIRS:
        if Path(directory).is_dir():
            _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0555")
    failed = []
    for point in mount_points():
        try:
            _mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        except OSError as exc:
            failed.append(f"{point} ({exc.strerror})")
    return failed


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
    failed = read_only_view()
    notes.append("mount namespace: read-only, /tmp /var/tmp /dev/shm empty"
                 + (f"; left writable: {', '.join(failed)}" if failed else ""))  # fmt: skip
    return notes
