"""docker-compose.yml from the pools file: Redis, Flower, one service per pool, the demo.

Pool services come twice: under the `gpu` profile (the CUDA image, GPU devices
reserved per GPU type) and under the `cpu` profile (`<pool>-cpu`: the CPU image, the
same pools on a laptop). COMPOSE_PROFILES picks one (docker/compose.env.example).

Sites (a multi-site pools file): each site gets a network of its own (`site-<site>`);
a pool's services join only their site's, and Redis and Flower join every site's (the
hub both sides reach), the orchestrator the images' site's. Pool services carry the
label `dicec.site=<site>` and, for a swarm (`docker stack deploy`), the placement
constraint `node.labels.dicec.site == <site>`: label each site's nodes so. Compose does
not shape the link between the networks (the two-site test's proxy does that).
"""

from __future__ import annotations

import re
from typing import Any

from scripts.deploy.common import (
    CPU_DEVICE,
    GPU_DEVICE,
    POOLS_MOUNT_PATH,
    READY_FILE,
    WORKER_GRACE_S,
    GeneratedSet,
    dump_yaml,
    header,
    pools_for_device,
    pools_yaml,
)
from worker_models.pools import Pool, PoolsFile

COMMAND = "compose generate"
COMPOSE_PATH = "docker-compose.yml"
POOLS_PATHS = {CPU_DEVICE: "docker/pools-cpu.yaml", GPU_DEVICE: "docker/pools-gpu.yaml"}
PROFILES = {CPU_DEVICE: "cpu", GPU_DEVICE: "gpu"}
IMAGES = {CPU_DEVICE: "dicec:cpu", GPU_DEVICE: "dicec:cuda"}
VARIANTS = {CPU_DEVICE: "cpu", GPU_DEVICE: "cuda"}
REDIS_IMAGE = "redis:7.2-bookworm"
FLOWER_PORT = 5555
DEMO_TASKS = 100
DEMO_SEED = 7
# How long the batch waits for the pools' models to load before it stops (resumable).
POOL_WAIT_S = 900
SITE_LABEL = "dicec.site"
REQUIRED_SECRET = "${{{name}:?set {name} (see docker/compose.env.example)}}"
REDIS_PASSWORD = REQUIRED_SECRET.format(name="REDIS_PASSWORD")
FLOWER_BASIC_AUTH = REQUIRED_SECRET.format(name="FLOWER_BASIC_AUTH")


def _env() -> dict[str, str]:
    """What every dicec container reads (dicec.settings)."""
    return {
        "REDIS_URL": "${REDIS_URL:-redis://redis:6379/0}",
        "REDIS_PASSWORD": REDIS_PASSWORD,
        "DICEC_REDIS_TLS_CERT_REQS": "${DICEC_REDIS_TLS_CERT_REQS:-required}",
        "DICEC_REDIS_TLS_CA_CERTS": "${DICEC_REDIS_TLS_CA_CERTS:-}",
        "DICEC_CHECKPOINTS": "${DICEC_CHECKPOINTS:-small}",
        "DICEC_CHECKPOINT_DIR": "/models/checkpoints",
        "DICEC_POOLS_FILE": POOLS_MOUNT_PATH,
        "HF_HOME": "/models/hf",
        "DICEC_EMBEDDED_REDIS": "false",  # fail, never run alone, when Redis is unreachable
    }


def _image(device: str) -> dict[str, Any]:
    return {
        "image": IMAGES[device],
        "build": {
            "context": ".",
            "dockerfile": "docker/Dockerfile",
            "args": {"VARIANT": VARIANTS[device]},
        },
    }


def _pools_mount(device: str) -> str:
    """The pools file as a read-only bind mount (Compose v1.29 ignores `configs`)."""
    return f"./{POOLS_PATHS[device]}:{POOLS_MOUNT_PATH}:ro"


def gpu_ids_variable(gpu_type: str) -> str:
    """The environment variable naming the host GPUs of a GPU type (`DICEC_GPUS_A6000`)."""
    return "DICEC_GPUS_" + re.sub(r"[^A-Z0-9]+", "_", gpu_type.upper()).strip("_")


def _gpu_reservation(pools: PoolsFile, gpu_type: str) -> dict[str, Any]:
    # Compose cannot select GPUs by product: each GPU type maps to host device ids.
    default = sorted({p.gpu_type for p in pools.pools}).index(gpu_type)
    ids = f"${{{gpu_ids_variable(gpu_type)}:-{default}}}"
    return {
        "resources": {
            "reservations": {
                "devices": [
                    {"driver": "nvidia", "device_ids": [ids], "capabilities": ["gpu"]},
                ]
            }
        }
    }


def service_name(pool: Pool, device: str) -> str:
    return pool.name if device == GPU_DEVICE else f"{pool.name}-cpu"


def _pool_service(pools: PoolsFile, pool: Pool, device: str) -> dict[str, Any]:
    service: dict[str, Any] = {
        **_image(device),
        "profiles": [PROFILES[device]],
        # -E (task events) is part of every `dicec worker`: Flower sees each call.
        "command": ["dicec", "worker", "--pool", pool.name],
        "environment": _env(),
        "volumes": [_pools_mount(device), "models:/models"],
        "depends_on": {
            "redis": {"condition": "service_healthy"},
            "checkpoints": {"condition": "service_completed_successfully"},
        },
        "healthcheck": {
            "test": ["CMD", "test", "-f", READY_FILE],
            "interval": "5s",
            "timeout": "3s",
            "retries": 3,
            "start_period": "600s",
        },
        # SIGTERM is Celery's warm shutdown: the current call finishes within this.
        "stop_grace_period": f"{WORKER_GRACE_S}s",
        "restart": "unless-stopped",
        "deploy": {"replicas": max(1, pool.replicas)},
    }
    if device == GPU_DEVICE:
        service["deploy"].update(_gpu_reservation(pools, pool.gpu_type))
    if pools.is_multi_site():
        service["networks"] = [site_network(pool.site)]
        service["labels"] = {SITE_LABEL: pool.site}
        constraint = f"node.labels.{SITE_LABEL} == {pool.site}"
        service["deploy"]["placement"] = {"constraints": [constraint]}
    return service


def site_network(site: str) -> str:
    return f"site-{site}"


def _join_sites(services: dict[str, Any], pools: PoolsFile) -> dict[str, Any]:
    """A multi-site file's networks: Redis and Flower on every site's (the pools of both
    sides reach them), the orchestrator and the checkpoint builder at the broker's site
    (`broker_at`, default the images'), where a swarm also places Redis."""
    broker = pools.broker_site()
    sites = sorted(pools.sites() | {pools.images_at, broker})
    for name in ("redis", "flower"):
        services[name]["networks"] = [site_network(site) for site in sites]
    for name in ("orchestrator", "checkpoints"):
        services[name]["networks"] = [site_network(broker)]
    for name in ("redis", "orchestrator"):
        services[name]["labels"] = {SITE_LABEL: broker}
        constraint = f"node.labels.{SITE_LABEL} == {broker}"
        services[name].setdefault("deploy", {})["placement"] = {"constraints": [constraint]}
    return {site_network(site): {"labels": {SITE_LABEL: site}} for site in sites}


def _redis() -> dict[str, Any]:
    return {
        "image": REDIS_IMAGE,
        # AOF: queued calls and batch state survive a restart of the container.
        "command": ["redis-server", "--appendonly", "yes", "--requirepass", REDIS_PASSWORD],
        "environment": {"REDISCLI_AUTH": REDIS_PASSWORD},
        "volumes": ["redis-data:/data"],
        "healthcheck": {
            "test": ["CMD", "redis-cli", "ping"],
            "interval": "5s",
            "timeout": "3s",
            "retries": 10,
        },
        "restart": "unless-stopped",
    }


def _flower() -> dict[str, Any]:
    return {
        **_image(CPU_DEVICE),
        "command": [
            "celery",
            "-A",
            "worker_models.app",
            # No --broker: the app reads REDIS_URL and REDIS_PASSWORD from the environment
            # (TLS options too), and the password stays off the command line.
            "flower",
            f"--port={FLOWER_PORT}",
            "--persistent=True",
            "--db=/data/flower.db",
        ],
        # Basic auth (user:password) for the UI and /api; /metrics stays open for Prometheus.
        "environment": {**_env(), "FLOWER_BASIC_AUTH": FLOWER_BASIC_AUTH},
        "volumes": [_pools_mount(CPU_DEVICE), "flower-data:/data"],
        "ports": [f"{FLOWER_PORT}:{FLOWER_PORT}"],
        "depends_on": {"redis": {"condition": "service_healthy"}},
        "healthcheck": {
            "test": [
                "CMD",
                "python",
                "-c",
                "import urllib.request as u; "
                f"u.urlopen('http://127.0.0.1:{FLOWER_PORT}/healthcheck')",
            ],
            "interval": "10s",
            "timeout": "5s",
            "retries": 5,
        },
        "restart": "unless-stopped",
    }


def _checkpoints() -> dict[str, Any]:
    return {
        **_image(CPU_DEVICE),
        "command": ["dicec", "checkpoints", "build"],
        "environment": _env(),
        "volumes": [_pools_mount(CPU_DEVICE), "models:/models"],
        "restart": "no",
    }


def _orchestrator(pools: PoolsFile) -> dict[str, Any]:
    batch = (
        f"dicec images generate -o /tmp/claims-images && exec python scripts/submit_batch.py "
        f"--program examples/claims_distributed.py --images /tmp/claims-images "
        f"--tasks ${{DICEC_DEMO_TASKS:-{DEMO_TASKS}}} --seed {DEMO_SEED} "
        f"--pools {POOLS_MOUNT_PATH} --local no --wait-pools {POOL_WAIT_S} "
        f"--export /results/claims-results.jsonl"
    )
    return {
        **_image(CPU_DEVICE),
        "command": ["sh", "-c", batch],
        "environment": _env(),
        "volumes": [_pools_mount(CPU_DEVICE), "results:/results"],
        # Only Redis: the pools of whichever profile is up come when their models are
        # loaded, and the batch waits for them (--wait-pools). Compose v1.29 (Debian's)
        # has no optional dependencies on services of another profile.
        "depends_on": {"redis": {"condition": "service_healthy"}},
        "restart": "no",
    }


def compose_document(pools: PoolsFile) -> dict[str, Any]:
    services: dict[str, Any] = {
        "redis": _redis(),
        "flower": _flower(),
        "checkpoints": _checkpoints(),
    }
    for device in (GPU_DEVICE, CPU_DEVICE):
        for pool in pools.pools:
            services[service_name(pool, device)] = _pool_service(pools, pool, device)
    services["orchestrator"] = _orchestrator(pools)
    # No top-level `name:` (Compose v1.29 rejects it): the project is named after the
    # folder, or `docker-compose -p dicec`.
    document: dict[str, Any] = {
        "services": services,
        "volumes": {"redis-data": {}, "models": {}, "flower-data": {}, "results": {}},
    }
    if pools.is_multi_site():
        document["networks"] = _join_sites(services, pools)
    return document


def compose_files(pools: PoolsFile, source: str) -> GeneratedSet:
    """docker-compose.yml and the per-variant pools files it mounts."""
    out = GeneratedSet()
    out.add(COMPOSE_PATH, header(COMMAND, source) + dump_yaml(compose_document(pools)))
    for device, path in POOLS_PATHS.items():
        out.add(path, pools_yaml(pools_for_device(pools, device), COMMAND, source))
    return out
