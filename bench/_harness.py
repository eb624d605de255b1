"""Shared set-up for benchmarks: Redis (configured or embedded), pools, raw echo workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DICEC_CHECKPOINT_DIR", str(ROOT / "var" / "checkpoints"))

from dicec.redis_conn import sync_client  # noqa: E402
from dicec.services import ensure_redis  # noqa: E402
from dicec.settings import get_settings  # noqa: E402
from orchestrator.batch.localpools import local_pools  # noqa: E402

LOG_DIR = ROOT / "var" / "bench-logs"
SUBMIT = [sys.executable, str(ROOT / "scripts" / "submit_batch.py")]


def submit_command(program: Path, images: Path, tasks: int, *options: str) -> list[str]:
    """`scripts/submit_batch.py` as a user runs it, printing its summary as JSON."""
    return [
        *SUBMIT,
        *("--program", str(program), "--images", str(images), "--tasks", str(tasks)),
        "--json",
        *options,
    ]


def submit(command: list[str], what: str) -> dict:
    """Run a submit_command; its JSON summary, or exit with the end of its stderr."""
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)


@contextmanager
def redis_and_pools(pools_file: str | None, *, monolith_nodes: int = 0) -> Iterator[None]:
    with (
        ensure_redis(get_settings()),
        local_pools(
            pools_file, sync_client(get_settings()), log_dir=LOG_DIR, monolith_nodes=monolith_nodes
        ),
    ):
        yield


@contextmanager
def echo_worker(concurrency: int = 1) -> Iterator[subprocess.Popen[bytes]]:
    """A plain Celery worker consuming the raw echo queue (the baseline of plain Celery)."""
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker_models.app",
        "worker",
        "-Q",
        "echo",
        "-c",
        str(concurrency),
        "-P",
        "prefork",
        "--prefetch-multiplier",
        "1",
        "-l",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"echo-{os.getpid()}@%h",
    ]
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = open(LOG_DIR / "echo.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT
    )
    try:
        from worker_models.tasks import echo

        echo.delay("warm-up").get(timeout=120)  # returns once the worker consumes
        yield proc
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
