"""A real Flower process against the test Redis, and a small client for its HTTP API."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

START_TIMEOUT_S = 60.0
POLL_S = 0.25
HTTP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Flower:
    url: str
    auth: tuple[str, str]
    proc: subprocess.Popen[bytes]

    def get(self, path: str, auth: bool = True, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url}{path}",
            params=params,
            timeout=HTTP_TIMEOUT_S,
            auth=self.auth if auth else None,
        )

    def api(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        response.raise_for_status()
        return response.json()

    def alive_workers(self) -> list[str]:
        """Workers Flower sees online (from their heartbeat events)."""
        return sorted(
            name for name, alive in self.api("/api/workers", status="true").items() if alive
        )

    def tasks(self, task_name: str | None = None) -> dict[str, dict[str, Any]]:
        params = {"taskname": task_name} if task_name else {}
        return self.api("/api/tasks", **params)

    def wait_until(self, what: str, check: Any, timeout_s: float = START_TIMEOUT_S) -> Any:
        """Poll `check()` until it returns something truthy (events arrive asynchronously)."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = check()
            if result:
                return result
            if self.proc.poll() is not None:
                raise AssertionError(f"Flower exited ({self.proc.returncode}) waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"Flower did not show {what} within {timeout_s:.0f} s")
            time.sleep(POLL_S)


def flower_command(port: int, basic_auth: str) -> list[str]:
    """How compose and Kubernetes run Flower: the Celery app (its broker from REDIS_URL in
    the environment), basic auth."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "worker_models.app",
        "flower",
        f"--port={port}",
        "--address=127.0.0.1",
        f"--basic-auth={basic_auth}",
    ]


@contextmanager
def running_flower(
    broker_url: str, log: Path, user: str = "dicec", password: str = "test-only-password"
) -> Iterator[Flower]:
    port = free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            flower_command(port, f"{user}:{password}"),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "REDIS_URL": broker_url},
            start_new_session=True,
        )
    flower = Flower(f"http://127.0.0.1:{port}", (user, password), proc)
    try:
        flower.wait_until("its health check", lambda: _healthy(flower))
        yield flower
    finally:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _healthy(flower: Flower) -> bool:
    try:
        return flower.get("/healthcheck", auth=False).status_code == 200
    except httpx.TransportError:
        return False
