"""Settings are the one reader of the environment: worker variables, overrides, limits."""

from __future__ import annotations

from pathlib import Path

import pytest

from dicec.settings import DEFAULT_READY_FILE, Settings, env_name
from orchestrator.program.sandbox.programs import Limits


def test_worker_variables_are_settings_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DICEC_POOL", "DICEC_NODE_NAME", "DICEC_READY_FILE"):
        monkeypatch.delenv(name, raising=False)
    plain = Settings()
    assert (plain.pool, plain.node_name, plain.ready_file) == (None, None, DEFAULT_READY_FILE)
    monkeypatch.setenv(env_name("pool"), "vqa")
    monkeypatch.setenv(env_name("node_name"), "vqa-0@host")
    monkeypatch.setenv(env_name("ready_file"), "/tmp/elsewhere")
    given = Settings()
    assert (given.pool, given.node_name, given.ready_file) == (
        "vqa",
        "vqa-0@host",
        Path("/tmp/elsewhere"),
    )


def test_env_name_refuses_a_field_that_does_not_exist() -> None:
    assert env_name("pools_file") == "DICEC_POOLS_FILE"
    with pytest.raises(AssertionError):
        env_name("no_such_field")


def test_checkpoint_overrides_skip_the_fields_that_share_the_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DICEC_CHECKPOINT_DIR", str(tmp_path))
    monkeypatch.setenv("DICEC_CHECKPOINT_GLIP", "org/owlv2")
    monkeypatch.setenv("DICEC_CHECKPOINT_DEPTH", "")  # empty: no override
    settings = Settings()
    assert settings.checkpoint_dir == tmp_path
    assert settings.checkpoint_overrides.get("glip") == "org/owlv2"
    assert "dir" not in settings.checkpoint_overrides
    assert "depth" not in settings.checkpoint_overrides


def test_limits_default_to_the_settings_defaults_and_follow_settings() -> None:
    defaults = Settings.model_construct()
    assert Limits() == Limits.from_settings(defaults)
    custom = Settings(task_timeout_s=7.5, program_memory_mb=128, program_max_output_chars=99)
    assert Limits.from_settings(custom) == Limits(
        wall_s=7.5, memory_mb=128, max_output_chars=99, max_recursion=Limits().max_recursion
    )
