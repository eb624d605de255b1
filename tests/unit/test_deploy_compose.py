"""docker-compose.yml: valid against the Compose Specification, one service per pool."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
import yaml

from scripts.deploy.common import POOLS_MOUNT_PATH, WORKER_GRACE_S, load_deploy_pools
from scripts.deploy.compose import gpu_ids_variable, service_name
from tests.support.manifests import DATA, ROOT
from worker_models.pools import load_pools

COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / "docker" / "compose.env.example"
# ${NAME}, ${NAME:-default}, ${NAME:?message}
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_validates_against_the_compose_spec(compose):
    # Vendored from compose-spec/compose-spec (Apache-2.0), see tests/data/VENDORED.md.
    schema = json.loads((DATA / "compose-spec.json").read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(compose))
    assert not errors, "; ".join(f"{e.message} at {list(e.path)}" for e in errors)


def test_every_interpolation_is_well_formed_and_documented():
    text = COMPOSE.read_text()
    used = set(INTERPOLATION.findall(text))
    # Anything with a $ that is not a well-formed ${...} would reach the container verbatim.
    assert text.count("${") == len(INTERPOLATION.findall(text))
    documented = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert used <= documented, f"not in {ENV_EXAMPLE.name}: {sorted(used - documented)}"
    required = set(re.findall(r"\$\{([A-Z_]+):\?", text))
    assert required == {"REDIS_PASSWORD", "FLOWER_BASIC_AUTH"}


def test_each_pool_runs_with_gpus_or_in_the_cpu_profile(compose):
    pools, _ = load_deploy_pools(None)
    services = compose["services"]
    for pool in pools.pools:
        gpu, cpu = services[service_name(pool, "cuda")], services[service_name(pool, "cpu")]
        for service in (gpu, cpu):
            assert service["command"] == ["dicec", "worker", "--pool", pool.name]
            assert service["stop_grace_period"] == f"{WORKER_GRACE_S}s"
            assert service["environment"]["DICEC_POOLS_FILE"] == POOLS_MOUNT_PATH
        assert gpu["profiles"] == ["gpu"] and cpu["profiles"] == ["cpu"]
        device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        assert device["device_ids"][0].startswith(f"${{{gpu_ids_variable(pool.gpu_type)}:-")
        assert "resources" not in cpu["deploy"]
        assert gpu["image"] == "dicec:cuda" and cpu["image"] == "dicec:cpu"


def test_mounted_pools_files_load_with_the_right_device(compose):
    pools, _ = load_deploy_pools(None)
    for name, device in (("pools-gpu", "cuda"), ("pools-cpu", "cpu")):
        mounted = load_pools(ROOT / compose["configs"][name]["file"])
        assert [p.name for p in mounted.pools] == [p.name for p in pools.pools]
        assert {p.device for p in mounted.pools} == {device}


def test_redis_flower_and_the_demo(compose):
    services = compose["services"]
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert redis[redis.index("--requirepass") + 1].startswith("${REDIS_PASSWORD:?")
    flower = services["flower"]
    # The broker comes from the environment, as for every other service; the password
    # and the scheme (rediss:// for TLS) never sit on the command line.
    assert not any("REDIS" in arg or "--broker" in arg for arg in flower["command"])
    env = flower["environment"]
    assert env["REDIS_URL"].startswith("${REDIS_URL:-redis://redis:6379")
    assert env["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert {"DICEC_REDIS_TLS_CERT_REQS", "DICEC_REDIS_TLS_CA_CERTS"} <= set(env)
    assert "FLOWER_BASIC_AUTH" in env
    demo = services["orchestrator"]
    script = demo["command"][-1]
    assert "scripts/submit_batch.py" in script and "--local no" in script
    program = re.search(r"--program (\S+)", script).group(1)
    assert (ROOT / program).exists()
    for name, condition in demo["depends_on"].items():
        assert name in services
        if name != "redis":
            assert condition == {"condition": "service_healthy", "required": False}


def test_every_dependency_and_volume_is_declared(compose):
    services = compose["services"]
    for service in services.values():
        assert set(service.get("depends_on", {})) <= set(services)
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"]
        for config in service.get("configs", []):
            assert config["source"] in compose["configs"]
