"""A private redis-server process for tests that must restart (or lose) their Redis, or
that need a password or TLS.

The shared Redis at 127.0.0.1:6379 is never restarted by a test; the fault suite starts
its own server on a free loopback port with Debian's `redis-server`, with or without
AOF persistence, and can restart it on the same port mid-batch.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
POLL_S = 0.05
AOF_DIR = "appendonlydir"  # redis 7's multi-part AOF folder under --dir
CERT_DAYS = 2


@dataclass(frozen=True)
class TlsFiles:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it."""

    ca: Path
    cert: Path
    key: Path


def make_test_ca(folder: Path) -> TlsFiles:
    """Self-signed CA + server cert (SAN IP:127.0.0.1), made with the openssl CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ext = folder / "san.cnf"
    ext.write_text("subjectAltName=IP:127.0.0.1\n")
    steps = [
        ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
         "-out", str(files.ca), "-days", str(CERT_DAYS), "-subj", "/CN=dicec-test-ca"],
        ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(files.key),
         "-out", str(folder / "server.csr"), "-subj", "/CN=127.0.0.1"],
        ["x509", "-req", "-in", str(folder / "server.csr"), "-CA", str(files.ca),
         "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(files.cert),
         "-days", str(CERT_DAYS), "-extfile", str(ext)],
    ]  # fmt: skip
    for argv in steps:
        subprocess.run([OPENSSL, *argv], check=True, capture_output=True)
    return files


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One redis-server on 127.0.0.1:port; `restart()` keeps the port and the data folder."""

    def __init__(
        self,
        folder: Path,
        appendonly: bool,
        password: str | None = None,
        tls: TlsFiles | None = None,
    ) -> None:
        self.folder = folder
        self.appendonly = appendonly
        self.password = password
        self.tls = tls
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        """The URL without the password (that travels in REDIS_PASSWORD)."""
        return f"{'rediss' if self.tls else 'redis'}://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        extra = {"ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        return redis.Redis.from_url(self.url, password=self.password, **extra)

    def command(self) -> list[str]:
        argv = [
            REDIS_SERVER,
            "--bind", "127.0.0.1",
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--dir", str(self.folder),
            "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        if self.tls:
            argv += [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(self.tls.cert),
                "--tls-key-file", str(self.tls.key),
                "--tls-ca-cert-file", str(self.tls.ca),
                "--tls-auth-clients", "no",
            ]  # fmt: skip
        else:
            argv += ["--port", str(self.port)]
        if self.password:
            argv += ["--requirepass", self.password]
        return argv

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        client = self.client()
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"redis-server exited; see {self.folder / 'redis.log'}")
                with suppress(redis.ConnectionError, redis.BusyLoadingError):
                    if client.ping():
                        return
                time.sleep(POLL_S)  # start-up of a child process: nothing to wait on
        finally:
            client.close()
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT_S:.0f} s")

    def stop(self) -> None:
        """SIGTERM: with AOF on, the server fsyncs its log before it exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, down_s: float = 0.0, persistence: bool | None = None) -> None:
        """Stop, stay down `down_s` seconds (clients see refused connections), start again.

        `persistence=False` restarts it as a server without persistence that has lost
        everything (its AOF is deleted); True turns AOF on for the new process.
        """
        self.stop()
        if persistence is not None:
            self.appendonly = persistence
        if persistence is False:
            shutil.rmtree(self.folder / AOF_DIR, ignore_errors=True)
        time.sleep(down_s)  # the outage itself is what the test is about
        self.start()
        self.restarts += 1


@contextmanager
def private_redis(
    appendonly: bool = True, password: str | None = None, tls: bool = False
) -> Iterator[RedisServer]:
    """A started RedisServer in its own temporary folder, stopped and removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="dicec-private-redis-"))
    try:
        files = make_test_ca(folder / "tls") if tls else None
        server = RedisServer(folder, appendonly, password, files)
        try:
            server.start()
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
