"""`dicec codegen generate | distribute | verify` end to end (fake LLM endpoint)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dicec.settings import get_settings
from scripts.cli.codegen import app
from tests.support.fake_llm import FakeLLM

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference-programs"
OFFLINE = "--offline-catalogue"
runner = CliRunner()


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[callable]:
    """Point the settings at a fake endpoint started with the given replies."""
    servers: list[FakeLLM] = []

    def start(replies: list[str]) -> FakeLLM:
        server = FakeLLM(replies).start()
        servers.append(server)
        monkeypatch.setenv("DICEC_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("DICEC_LLM_MAX_RETRIES", "0")
        monkeypatch.setenv("DICEC_LLM_REPAIR_ROUNDS", "1")
        get_settings.cache_clear()
        return server

    yield start
    for server in servers:
        server.close()
    get_settings.cache_clear()


def test_generate_writes_a_validated_program(tmp_path: Path, llm_env: callable) -> None:
    program = (REFERENCE / "claims_serial.py").read_text()
    server = llm_env(["no code here", f"```python\n{program}```"])
    out = tmp_path / "serial.py"
    result = runner.invoke(app, ["generate", "Describe the cars.", "-o", str(out), OFFLINE])
    assert result.exit_code == 0, result.output
    assert "offline" in result.output and "after 2 attempt(s)" in result.output
    assert out.read_text() == program.strip() + "\n"
    assert len(server.requests) == 2


def test_generate_reports_an_llm_that_never_succeeds(tmp_path: Path, llm_env: callable) -> None:
    llm_env(["no code", "still no code"])
    result = runner.invoke(app, ["generate", "q", "-o", str(tmp_path / "x.py"), OFFLINE])
    assert result.exit_code == 2
    assert "error: the LLM produced no valid program in 2 attempt(s)" in result.output
    assert not (tmp_path / "x.py").exists()


def test_distribute_explain_and_verify(tmp_path: Path) -> None:
    serial = tmp_path / "claims_serial.py"
    serial.write_text((REFERENCE / "claims_serial.py").read_text())
    out = tmp_path / "claims_distributed.py"
    result = runner.invoke(app, ["distribute", str(serial), "-o", str(out), "--explain", OFFLINE])
    assert result.exit_code == 0, result.output
    assert "made by the compiler" in result.output
    assert "distributed: 2 round(s)" in result.output
    assert "round 2, " in result.output and "together" in result.output
    assert "asyncio.gather" in out.read_text()

    result = runner.invoke(app, ["verify", str(serial), str(out), OFFLINE, "--seeds", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("EQUIVALENT")


def test_verify_exits_1_on_a_non_equivalent_program(tmp_path: Path) -> None:
    serial = tmp_path / "serial.py"
    serial.write_text((REFERENCE / "claims_serial.py").read_text())
    wrong = tmp_path / "wrong.py"
    wrong.write_text(serial.read_text().replace("Color - ", "Colour - "))
    result = runner.invoke(app, ["verify", str(serial), str(wrong), OFFLINE, "--seeds", "3"])
    assert result.exit_code == 1
    assert "NOT EQUIVALENT" in result.output and "printed lines differ" in result.output


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("async def execute_query(image_filename)\n    pass\n")
    result = runner.invoke(app, ["distribute", str(broken), "-o", str(tmp_path / "o.py"), OFFLINE])
    assert result.exit_code == 2 and "does not parse" in result.output
    result = runner.invoke(app, ["verify", str(tmp_path / "missing.py"), str(broken), OFFLINE])
    assert result.exit_code == 2 and "cannot read" in result.output
