"""A headless-Chromium screenshot of Flower's workers page while a batch runs.

    python scripts/flower_screenshot.py [--pools local] [--tasks 150] [--out FILE.png]

Starts (or reuses) Redis, the pools as local worker processes, Flower with basic auth,
and the claims batch (scripts/submit_batch.py); once Flower has seen some of the batch's
tasks succeed, Chromium (Debian's `chromium` package) photographs /workers.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

if __package__ in (None, ""):  # run as a file: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer

from dicec.redis_conn import sync_client
from dicec.services import ensure_redis
from dicec.settings import get_settings
from orchestrator.batch.localpools import local_pools

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
WINDOW = "1440,760"
RENDER_BUDGET_MS = 4000  # virtual time for the page's scripts to fill the table
START_TIMEOUT_S = 60.0
TASKS_SEEN_TIMEOUT_S = 300.0
POLL_S = 0.5
SHOT_TIMEOUT_S = 60
USER = "dicec"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowerClient:
    def __init__(self, port: int, password: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        token = base64.b64encode(f"{USER}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def api(self, path: str) -> Any:
        request = urllib.request.Request(self.url + path, headers=self.headers)
        with urllib.request.urlopen(request, timeout=10) as response:  # loopback
            return json.loads(response.read())

    def succeeded(self) -> int:
        tasks = self.api("/api/tasks?state=SUCCESS")
        return len(tasks)


@contextmanager
def flower(port: int, password: str, log: Path) -> Iterator[subprocess.Popen]:
    # No --broker, as deployed: the app takes REDIS_URL/REDIS_PASSWORD from the environment
    # (ensure_redis has set REDIS_URL there when it started an embedded Redis).
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker_models.app",
        "flower",
        f"--port={port}",
        "--address=127.0.0.1",
        f"--basic-auth={USER}:{password}",
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def wait_for(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = check()
        except (urllib.error.URLError, ConnectionError):
            result = None
        if result:
            return result
        time.sleep(POLL_S)
    raise SystemExit(f"timed out waiting for {what}")


def screenshot(url: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="dicec-chromium-") as profile:
        cmd = [
            CHROMIUM,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW}",
            f"--virtual-time-budget={RENDER_BUDGET_MS}",
            f"--screenshot={out.resolve()}",
            url,
        ]
        subprocess.run(cmd, check=True, timeout=SHOT_TIMEOUT_S, capture_output=True)


def batch_command(pools: str, images: Path, tasks: int) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "scripts" / "submit_batch.py"),
        "--program",
        str(ROOT / "examples" / "claims_distributed.py"),
        "--images",
        str(images),
        "--tasks",
        str(tasks),
        "--seed",
        "7",
        "--pools",
        pools,
        "--local",
        "no",
        "--no-cache",
        "--json",
    ]


def main(
    pools: Annotated[str, typer.Option(help="pools file (path or shipped name)")] = "local",
    tasks: Annotated[int, typer.Option(help="tasks in the batch")] = 150,
    after: Annotated[int, typer.Option(help="succeeded tasks before the shot")] = 40,
    out: Annotated[Path, typer.Option(help="PNG to write")] = ROOT / "docs" / "flower-workers.png",
) -> None:
    from orchestrator.batch.claims_images import generate_claims_images
    from worker_models.checkpoints import build_small_checkpoints

    settings = get_settings()
    if settings.checkpoints == "small":
        build_small_checkpoints(settings.checkpoint_dir)
    images = ROOT / "var" / "claims-images"
    generate_claims_images(images)
    logs = ROOT / "var" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    password, port = secrets.token_hex(8), _free_port()
    with ExitStack() as stack:
        stack.enter_context(ensure_redis(settings, say=print))
        settings = get_settings()
        stack.enter_context(flower(port, password, logs / "flower.log"))
        client = FlowerClient(port, password)
        wait_for("Flower", lambda: client.api("/api/workers") is not None, START_TIMEOUT_S)
        stack.enter_context(local_pools(pools, sync_client(settings), log_dir=logs))
        batch = subprocess.Popen(
            batch_command(pools, images, tasks),
            env=dict(os.environ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        stack.callback(batch.wait)
        wait_for(
            f"{after} succeeded tasks", lambda: client.succeeded() >= after, TASKS_SEEN_TIMEOUT_S
        )
        print(f"Flower shows {client.succeeded()} succeeded tasks; taking the screenshot")
        # Basic auth in the URL: Chromium sends it for the page and its same-origin calls.
        screenshot(f"http://{USER}:{password}@127.0.0.1:{port}/workers", out)
        print(f"wrote {out}; letting the batch finish (nothing left queued)")


if __name__ == "__main__":
    typer.run(main)
