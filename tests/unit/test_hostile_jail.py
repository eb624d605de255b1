"""The whole hostile corpus in the OS jail: once with the language rules, once without.

Without the rules each program gets the real builtins and real imports (a test-only
Jail(language_rules=False); nothing in Settings can switch the rules off), so only
the jail stands between it and the machine. Either way, after every program:
the canaries (root-only files, a secret in the orchestrator's environment) never
appear in a value, a print or an error; no file was written or changed; no process was
spawned; no connection reached the host's listeners; this process and the zygote are
alive and a normal program still runs. The counts are printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from PIL import Image

from dicec.errors import DicecError
from dicec.settings import Settings
from orchestrator.batch.task import TaskOutcome, run_task
from orchestrator.program.jail.client import Jail
from orchestrator.program.jail.unchecked import unchecked_record
from orchestrator.program.sandbox.programs import CompiledProgram, Limits, compile_program
from tests.support.answers import AnsweringBackend
from worker_models.imageref import ImageRef, TrackedImage, digest_of, encode_png

HOSTILE_DIR = Path(__file__).resolve().parents[1] / "hostile"
HOSTILE_FILES = sorted(HOSTILE_DIR.glob("h*.py"))
EXPECT = re.compile(r"^# expect: (static|runtime|jail) ([\w|]+): (.*)$", re.MULTILINE)
LIMITS = Limits(wall_s=2.0, memory_mb=256, max_output_chars=100_000, max_recursion=100)
CANARIES = (Path("/run/dicec-hostile-canary"), Path("/tmp/dicec-hostile-canary"))
VICTIM = Path("/run/dicec-hostile-victim")
MARKERS = ("/run/dicec-hostile-spawned", "/run/dicec-hostile-written",
           "/tmp/dicec-hostile-spawned", "/tmp/dicec-hostile-written",
           "/dev/shm/dicec-hostile-written")  # fmt: skip
TCP_PORT = 47813
ABSTRACT_SOCKET = "\0dicec-hostile"
CONCURRENT = 16
TIMER_WAIT_S = 2.5  # h-timer programs try to write 2 s after their task returned
AS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def traps() -> Iterator[dict[str, object]]:
    """Canaries, a victim file and listeners; all removed afterwards."""
    secret = f"hostile-secret-{uuid.uuid4().hex}"
    canary = f"CANARY-{uuid.uuid4().hex}"
    os.environ["DICEC_HOSTILE_SECRET"] = secret
    for path in CANARIES:
        path.write_text(canary)
        path.chmod(0o400)
    VICTIM.write_text("victim")
    VICTIM.chmod(0o644)
    tcp = socket.create_server(("127.0.0.1", TCP_PORT))
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(ABSTRACT_SOCKET)
    unix.listen()
    for listener in (tcp, unix):
        listener.setblocking(False)
    try:
        yield {"secrets": (secret, canary), "listeners": (tcp, unix)}
    finally:
        os.environ.pop("DICEC_HOSTILE_SECRET", None)
        tcp.close()
        unix.close()
        for path in (*CANARIES, VICTIM, *map(Path, MARKERS)):
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink():
                    path.rmdir()
                else:
                    path.unlink()


def _stage(path: Path) -> str:
    match = EXPECT.search(path.read_text())
    assert match, path.name
    return match.group(1)


def _image() -> TrackedImage:
    image = Image.new("RGB", (32, 24), "white")
    return TrackedImage.wrap(image, ImageRef(digest_of(encode_png(image))))


async def _one(jail: Jail, path: Path, image: TrackedImage) -> tuple[str, TaskOutcome | None]:
    source = path.read_text()
    try:
        if jail.language_rules:
            program: CompiledProgram = compile_program(source, path.name, LIMITS)
        else:
            program = unchecked_record(source, path.name, LIMITS)
    except DicecError:
        return "refused by the rules", None

    async def load() -> TrackedImage:
        return image

    outcome = await run_task(program, "scene.jpg", load, AnsweringBackend(), limits=LIMITS,
                             jail=jail, max_calls=Settings().program_max_calls)  # fmt: skip
    if outcome.ok:
        return "ran to the end", outcome
    return f"failed: {outcome.error_type}", outcome


async def _corpus(jail: Jail, copies: int = 1) -> list[tuple[Path, str, TaskOutcome | None]]:
    """Every program, `copies` tasks of each started together (so that they share a child
    when the jail lets them)."""
    image = _image()
    gate = asyncio.Semaphore(CONCURRENT)
    await jail.zygote()  # started before the first task, as the batch runner does

    async def guarded(path: Path) -> list[tuple[Path, str, TaskOutcome | None]]:
        async with gate:
            runs = await asyncio.gather(*(_one(jail, path, image) for _ in range(copies)))
            return [(path, kind, outcome) for kind, outcome in runs]

    grouped = await asyncio.gather(*[guarded(p) for p in HOSTILE_FILES])
    return [run for runs in grouped for run in runs]


def _leaks(outcome: TaskOutcome | None, secrets: tuple[str, ...]) -> list[str]:
    if outcome is None:
        return []
    text = f"{outcome.value!r} {outcome.printed!r} {outcome.error!r}"
    return [s for s in secrets if s in text]


def _nothing_got_through(traps: dict[str, object]) -> None:
    time.sleep(TIMER_WAIT_S)
    for marker in MARKERS:
        assert not os.path.lexists(marker), f"{marker} was created"
    assert VICTIM.read_text() == "victim" and (VICTIM.stat().st_mode & 0o777) == 0o644
    for listener in traps["listeners"]:  # type: ignore[attr-defined]
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody connected


def _check_run(jail: Jail, traps: dict[str, object], label: str, copies: int = 1) -> None:
    results = asyncio.run(_corpus(jail, copies))
    secrets = traps["secrets"]  # type: ignore[assignment]
    leaked = {p.name: _leaks(o, secrets) for p, _, o in results if _leaks(o, secrets)}
    assert not leaked, f"canary or secret leaked: {leaked}"
    _nothing_got_through(traps)
    zygote = jail._zygote
    assert zygote is not None and zygote.proc.poll() is None, "the zygote died"
    assert not psutil.Process(zygote.proc.pid).children(), "a program's process outlived it"
    counts = Counter(kind for _, kind, _ in results)
    print(f"\n{label}: {len(results)} programs, all contained: " + ", ".join(
        f"{n} {kind}" for kind, n in counts.most_common()))  # fmt: skip
    normal = next(p for p in HOSTILE_FILES if p.name.startswith("h01_"))  # rules: refused
    assert normal.exists()
    after = asyncio.run(_one(jail, HOSTILE_DIR / "h99_update_wrapper_print_globals.py", _image()))
    assert after[0] != "ran to the end" or not jail.language_rules


@pytest.mark.skipif(not AS_ROOT, reason="the canaries are root-only files: needs root")
def test_corpus_in_the_jail_with_the_language_rules(traps: dict[str, object]) -> None:
    jail = Jail()
    try:
        _check_run(jail, traps, "jail + language rules")
    finally:
        jail.close()


@pytest.mark.skipif(not AS_ROOT, reason="the canaries are root-only files: needs root")
def test_corpus_in_the_jail_alone_without_the_language_rules(traps: dict[str, object]) -> None:
    jail = Jail(language_rules=False)
    try:
        _check_run(jail, traps, "jail alone (language rules off)")
        for note in jail.notes:
            print(f"  layer: {note}")
    finally:
        jail.close()


@pytest.mark.skipif(not AS_ROOT, reason="the canaries are root-only files: needs root")
def test_corpus_in_shared_children_without_the_language_rules(traps: dict[str, object]) -> None:
    """Three tasks of each program at once, sharing a child: the layers hold the same."""
    jail = Jail(language_rules=False, tasks_per_child=3)
    try:
        _check_run(jail, traps, "shared children, jail alone (language rules off)", copies=3)
        assert jail._zygote is not None
        assert jail._zygote.children_started < 3 * len(HOSTILE_FILES)  # they did share
    finally:
        jail.close()


def test_jail_stage_programs_fail_in_their_own_process() -> None:
    """`jail` programs (they would crash an in-process runner) fail clearly, alone."""
    jail = Jail()
    try:
        for path in (p for p in HOSTILE_FILES if _stage(p) == "jail"):
            kind, outcome = asyncio.run(_one(jail, path, _image()))
            fragment = EXPECT.search(path.read_text()).group(3)  # type: ignore[union-attr]
            assert outcome is not None and not outcome.ok, path.name
            assert fragment in (outcome.error or ""), (path.name, outcome.error)
    finally:
        jail.close()
