"""Every command fails with one clear line (no traceback unless DICEC_DEBUG=1)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer

from scripts.cli.errors import EXIT_REFUSED, describe, fail
from tests.conftest import ROOT
from tests.support.redis_server import free_port

DICEC = [sys.executable, "-m", "scripts.cli.main"]


def _dicec(*args: str, **env: str) -> subprocess.CompletedProcess:
    closed = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "REDIS_URL": closed}
    full_env.update(DICEC_EMBEDDED_REDIS="false", **env)
    return subprocess.run(
        [*DICEC, *args], env=full_env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    "args",
    [
        ["functions", "list"],
        ["functions", "show", "glip"],
        ["report", "some-batch"],
        ["batch", "list"],
        ["batch", "status", "some-batch"],
        ["batch", "results", "some-batch"],
    ],
    ids=lambda a: " ".join(a),
)
def test_redis_down_is_one_line_exit_2(args: list[str]) -> None:
    done = _dicec(*args)
    assert done.returncode == EXIT_REFUSED
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no Redis answers at redis://")
    assert "Traceback" not in done.stderr


def test_debug_shows_the_traceback() -> None:
    done = _dicec("functions", "list", DICEC_DEBUG="1")
    assert done.returncode == EXIT_REFUSED
    assert done.stderr.startswith("error: no Redis answers") and "Traceback" in done.stderr


def test_bad_pools_file_is_one_line(tmp_path) -> None:
    bad = tmp_path / "pools.yaml"
    bad.write_text("pools: [\n")
    done = _dicec("k8s", "pools", "--pools", str(bad), "--check")
    assert done.returncode == EXIT_REFUSED
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "not valid YAML" in done.stderr


def test_fail_escapes_markup_and_keeps_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as raised:
        fail("a [bold]literal[/bold] bracket\nand a second line")
    assert raised.value.exit_code == EXIT_REFUSED
    assert "error: a [bold]literal[/bold] bracket and a second line" in capsys.readouterr().err


def test_describe_names_unexpected_errors() -> None:
    assert describe(KeyError("x")).startswith("KeyError: 'x' (an unexpected error")
