"""docker-compose.yml: valid against the Compose Specification, one service per pool."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml

from scripts.deploy.common import POOLS_MOUNT_PATH, WORKER_GRACE_S, load_deploy_pools
from scripts.deploy.compose import compose_files, gpu_ids_variable, service_name
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


def _pools_mount(service: dict) -> str:
    (mount,) = [v for v in service["volumes"] if v.split(":")[1] == POOLS_MOUNT_PATH]
    assert mount.endswith(":ro")
    return mount.split(":")[0]


def test_mounted_pools_files_load_with_the_right_device(compose):
    pools, _ = load_deploy_pools(None)
    for pool in pools.pools:
        for device in ("cuda", "cpu"):
            source = _pools_mount(compose["services"][service_name(pool, device)])
            mounted = load_pools(ROOT / source)
            assert [p.name for p in mounted.pools] == [p.name for p in pools.pools]
            assert {p.device for p in mounted.pools} == {device}


def test_compose_file_works_with_compose_v1_29(compose, tmp_path):
    """Debian's docker-compose (v1.29.2) rejects `name:` and `depends_on.required` and
    ignores `configs`; the file uses none of them, and `docker-compose config` accepts it."""
    assert "name" not in compose and "configs" not in compose
    for service in compose["services"].values():
        assert "configs" not in service
        assert all("required" not in c for c in service.get("depends_on", {}).values())
    _compose_config_ok(COMPOSE)


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
    assert "--wait-pools" in script  # the pools come up beside it; it waits for them
    program = re.search(r"--program (\S+)", script).group(1)
    assert (ROOT / program).exists()
    assert demo["depends_on"] == {"redis": {"condition": "service_healthy"}}


def test_every_dependency_and_volume_is_declared(compose):
    services = compose["services"]
    for service in services.values():
        assert set(service.get("depends_on", {})) <= set(services)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (
                (ROOT / source).is_file()
                if source.startswith("./")
                else (source in compose["volumes"])
            )


def _compose_config_ok(path) -> None:
    """`docker-compose config` (Debian's v1.29.2) accepts the file, where installed."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (v1.29: apt-get install docker-compose) is not installed")
    env = {**os.environ, "REDIS_PASSWORD": "x", "FLOWER_BASIC_AUTH": "a:b"}
    done = subprocess.run(
        [binary, "-f", str(path), "config", "-q"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_a_multi_site_file_gives_each_site_a_network_and_a_placement(tmp_path):
    pools = load_pools("edge-cloud")
    files = compose_files(pools, "edge-cloud")
    files.write(tmp_path)
    document = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())
    schema = json.loads((DATA / "compose-spec.json").read_text())
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(document))
    assert not errors, "; ".join(f"{e.message} at {list(e.path)}" for e in errors)
    services = document["services"]
    assert set(document["networks"]) == {"site-edge", "site-cloud"}
    for pool in pools.pools:
        for device in ("cuda", "cpu"):
            service = services[service_name(pool, device)]
            assert service["networks"] == [f"site-{pool.site}"]
            assert service["labels"] == {"dicec.site": pool.site}
            placement = service["deploy"]["placement"]["constraints"]
            assert placement == [f"node.labels.dicec.site == {pool.site}"]
    # Redis is the hub: every site's pools reach it; the batch starts beside the images.
    assert set(services["redis"]["networks"]) == {"site-edge", "site-cloud"}
    assert services["orchestrator"]["networks"] == [f"site-{pools.images_at}"]
    mounted = load_pools(tmp_path / "docker" / "pools-cpu.yaml")
    assert mounted.pool("edge").site == "edge" and mounted.links
    _compose_config_ok(tmp_path / "docker-compose.yml")


def test_redis_and_the_orchestrator_go_to_the_broker_site(tmp_path):
    pools = load_pools("edge-cloud").model_copy(update={"broker_at": "cloud"})
    compose_files(pools, "edge-cloud").write(tmp_path)
    document = yaml.safe_load((tmp_path / "docker-compose.yml").read_text())
    services = document["services"]
    for name in ("redis", "orchestrator"):
        assert services[name]["labels"] == {"dicec.site": "cloud"}
        assert services[name]["deploy"]["placement"]["constraints"] == [
            "node.labels.dicec.site == cloud"
        ]
    assert services["orchestrator"]["networks"] == ["site-cloud"]
    assert set(services["redis"]["networks"]) == {"site-edge", "site-cloud"}
    _compose_config_ok(tmp_path / "docker-compose.yml")


def test_a_one_site_file_has_no_site_networks(compose):
    assert "networks" not in compose
    assert all("networks" not in s and "labels" not in s for s in compose["services"].values())
