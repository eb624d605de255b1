"""docker/Dockerfile, read by BuildKit's own parser (no engine here to build it)."""

from __future__ import annotations

import re

import dockerfile
import pytest

from tests.support.manifests import ROOT

DOCKERFILE = ROOT / "docker" / "Dockerfile"
IGNORE = ROOT / "docker" / "Dockerfile.dockerignore"
VARIANTS = ("cpu", "cuda")


@pytest.fixture(scope="module")
def commands() -> tuple[dockerfile.Command, ...]:
    return dockerfile.parse_file(str(DOCKERFILE))


def stages(commands) -> dict[str, str]:
    """Stage name -> its base (FROM x AS name)."""
    return {c.value[2]: c.value[0] for c in commands if c.cmd == "FROM" and len(c.value) == 3}


def test_both_variants_have_a_torch_stage_and_one_runtime(commands):
    found = stages(commands)
    for variant in VARIANTS:
        assert f"torch-{variant}" in found
    assert found["build"] == "torch-${VARIANT}"
    default = next(
        c.value[0] for c in commands if c.cmd == "ARG" and c.value[0].startswith("VARIANT=")
    )
    assert default.split("=")[1] in VARIANTS
    assert list(found)[-1] == "runtime"


def test_runtime_is_non_root_with_a_model_volume_and_an_init(commands):
    runtime = commands[max(i for i, c in enumerate(commands) if c.cmd == "FROM") :]
    user = [c.value[0] for c in runtime if c.cmd == "USER"]
    assert user and not user[-1].startswith(("0", "root"))
    assert any(c.cmd == "VOLUME" and "/models" in c.value for c in runtime)
    entrypoint = next(c for c in runtime if c.cmd == "ENTRYPOINT")
    assert entrypoint.json and entrypoint.value[0] == "tini"  # SIGTERM reaches Celery
    env = " ".join(" ".join(c.value) for c in runtime if c.cmd == "ENV")
    assert "DICEC_CHECKPOINT_DIR /models/" in env or "DICEC_CHECKPOINT_DIR=/models/" in env


def test_every_copied_path_exists_and_is_not_ignored(commands):
    ignored = {
        line.strip()
        for line in IGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for c in commands:
        if c.cmd != "COPY" or any(f.startswith("--from") for f in c.flags):
            continue
        for source in c.value[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert source not in ignored, f"COPY {source}: excluded by {IGNORE.name}"


def test_images_run_the_commands_compose_and_kubernetes_give_them():
    # Every compose/k8s command starts with a program the image has on PATH.
    text = (ROOT / "docker-compose.yml").read_text()
    programs = set(re.findall(r"command:\n\s+- (\S+)", text))
    assert programs <= {"dicec", "celery", "redis-server", "sh"}
