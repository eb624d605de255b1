"""Each layer of the program jail on its own, in a forked process of this test.

Layer 1 (rlimits, no-new-privileges, root dropped), layer 2 (seccomp), layer 3
(network and mount namespaces). Each check runs the layer alone and then tries what
the layer must stop; the result comes back over a pipe as JSON.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.program.jail import landlock, limits, namespaces, seccomp

AS_ROOT = os.geteuid() == 0


def in_child(body: Callable[[], Any]) -> Any:
    """Run `body` in a forked child; its JSON result, or the signal that killed it."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            result = {"value": body()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_fd, json.dumps(result).encode())
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status)}
    return json.loads(data)


def attempt(action: Callable[[], Any]) -> str:
    try:
        action()
    except OSError as exc:
        return f"denied: {exc.strerror}"
    except MemoryError:
        return "denied: MemoryError"
    return "allowed"


# -- layer 1: rlimits ------------------------------------------------------------------------
def test_rlimit_as_turns_a_huge_allocation_into_memory_error() -> None:
    def body() -> str:
        assert not limits.apply_rlimits(limits.ChildLimits(wall_s=5, memory_mb=64))
        return attempt(lambda: bytearray(2 * 1024**3))

    assert in_child(body) == {"value": "denied: MemoryError"}


def test_rlimit_cpu_stops_a_loop_in_c() -> None:
    import itertools
    import signal

    def body() -> None:
        limits.apply_rlimits(limits.ChildLimits(wall_s=60, memory_mb=64, cpu_limit_s=1))
        any(itertools.repeat(False))  # never returns: only the kernel can stop it

    assert in_child(body) == {"signal": signal.SIGXCPU}


def test_rlimit_fsize_and_nofile(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"

    def body() -> list[str]:
        limits.apply_rlimits(limits.ChildLimits(wall_s=5, memory_mb=64))
        fd = os.open(target, os.O_WRONLY | os.O_CREAT)  # opening is allowed at this layer
        written = attempt(lambda: os.write(fd, b"x" * 10))
        many = attempt(lambda: [open(os.devnull) for _ in range(200)])  # noqa: SIM115
        return [written, many]

    written, many = in_child(body)["value"]
    assert written.startswith("denied: File too large")
    assert many.startswith("denied: Too many open files")
    assert target.stat().st_size == 0


def test_no_new_privileges_is_set() -> None:
    def body() -> list[Any]:
        return [limits.no_new_privileges(), limits.has_no_new_privileges()]

    assert in_child(body) == {"value": [None, True]}


@pytest.mark.skipif(not AS_ROOT, reason="dropping root needs root")
def test_dropping_root_closes_root_only_files(tmp_path: Path) -> None:
    canary = tmp_path / "canary"
    canary.write_text("CANARY-7f3a")
    canary.chmod(0o400)

    def body() -> list[Any]:
        return [limits.drop_root(), os.geteuid(), attempt(canary.read_text)]

    note, uid, read = in_child(body)["value"]
    assert note is None and uid != 0
    assert read == "denied: Permission denied"


# -- layer 2: seccomp ------------------------------------------------------------------------
def test_seccomp_denies_exec_fork_sockets_writes_and_signals(tmp_path: Path) -> None:
    target = tmp_path / "written"

    def body() -> dict[str, str]:
        limits.no_new_privileges()
        seccomp.install()
        import threading

        ran: list[bool] = []
        thread = threading.Thread(target=lambda: ran.append(True))
        thread.start()
        thread.join()
        return {
            "execve": attempt(lambda: os.execv("/bin/true", ["true"])),
            "fork": attempt(os.fork),
            "socket": attempt(socket.socket),
            "socketpair": attempt(socket.socketpair),
            "open for writing": attempt(lambda: open(target, "w")),
            "open O_CREAT": attempt(lambda: os.open(target, os.O_RDONLY | os.O_CREAT)),
            "kill": attempt(lambda: os.kill(os.getppid(), 0)),
            "read": attempt(lambda: Path("/etc/hostname").read_text()),
            "thread": "allowed" if ran else "denied",
        }

    result = in_child(body)["value"]
    allowed = {"read", "thread"}
    for name, outcome in result.items():
        expected = "allowed" if name in allowed else "denied: Operation not permitted"
        assert outcome == expected, (name, outcome)
    assert not target.exists()


# -- layer 2b: Landlock ------------------------------------------------------------------------
def landlock_abi() -> int:
    try:
        return landlock.abi_version()
    except OSError:
        return 0


@pytest.mark.skipif(not landlock_abi(), reason="this kernel has no Landlock")
def test_landlock_limits_reads_to_the_code_and_denies_writes(tmp_path: Path) -> None:
    readable = tmp_path / "world-readable"
    readable.write_text("CANARY-landlock")
    readable.chmod(0o644)  # no owner check can stop this read: only Landlock does
    target = tmp_path / "written"
    stdlib_file = Path(os.__file__)
    ruleset = landlock.build()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def body() -> dict[str, str]:
        limits.no_new_privileges()
        landlock.restrict_self(ruleset)
        import colorsys  # noqa: F401 - not imported before: read from the stdlib now

        def connect() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass

        return {
            "read stdlib": attempt(stdlib_file.read_bytes),
            "read project": attempt(Path(landlock.__file__).read_bytes),
            "read world-readable file": attempt(readable.read_text),
            "read /etc": attempt(lambda: Path("/etc/hostname").read_text()),
            "list /tmp": attempt(lambda: os.listdir("/tmp")),
            "read /proc of the parent": attempt(
                lambda: Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
            ),
            "write": attempt(lambda: target.write_text("x")),
            "tcp connect": attempt(connect),
            "signal the parent": attempt(lambda: os.kill(os.getppid(), 0)),
        }

    try:
        result = in_child(body)["value"]
    finally:
        listener.close()
        os.close(ruleset.fd)
    allowed = {"read stdlib", "read project"}
    if ruleset.abi < 4:
        allowed.add("tcp connect")
    if ruleset.abi < 6:
        allowed.add("signal the parent")
    for name, outcome in result.items():
        assert (outcome == "allowed") == (name in allowed), (name, outcome)
    assert not target.exists()
    assert any(root.endswith("orchestrator") for root in ruleset.roots)
    assert not any(root in ("/", "/tmp", "/etc", "/run") for root in ruleset.roots)


# -- layer 3: namespaces ---------------------------------------------------------------------
@pytest.mark.skipif(not AS_ROOT, reason="mount and network namespaces need root here")
def test_namespaces_no_network_and_read_only_files(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    (tmp_path / "visible").write_text("x")

    def body() -> dict[str, Any]:
        notes = namespaces.isolate()
        return {
            "notes": notes,
            "connect": attempt(lambda: socket.create_connection(("127.0.0.1", port), 1)),
            "write /": attempt(lambda: open("/dicec-jail-test", "w")),
            "tmp listing": os.listdir("/tmp"),
            "tmp write": attempt(lambda: open("/tmp/x", "w")),
        }

    result = in_child(body)["value"]
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.accept()  # nobody got through
    listener.close()
    assert result["connect"].startswith("denied")
    assert result["write /"] == "denied: Read-only file system"
    if "/tmp" in namespaces.emptied_dirs()[1]:  # this checkout lives under /tmp: kept
        assert any("/tmp kept visible (read-only)" in n for n in result["notes"])
    else:
        assert result["tmp listing"] == []
    assert result["tmp write"].startswith("denied")
    assert any("no network" in n for n in result["notes"])
    assert (tmp_path / "visible").read_text() == "x"  # the host's view is untouched


def test_a_scratch_dir_holding_the_code_is_kept_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    # A checkout or venv under /tmp (a CI clone) must stay importable for the children;
    # emptying /tmp there made every jailed task fail.
    monkeypatch.setattr(namespaces, "needed_paths", lambda: [Path("/tmp/ci/main/.venv")])
    empty, kept = namespaces.emptied_dirs()
    assert kept == ["/tmp"] and "/tmp" not in empty and "/var/tmp" in empty
    monkeypatch.setattr(namespaces, "needed_paths", lambda: [Path("/opt/venv")])
    empty, kept = namespaces.emptied_dirs()
    assert kept == [] and {"/tmp", "/var/tmp"} <= set(empty)
