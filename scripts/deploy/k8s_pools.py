"""Kubernetes pool workloads from the pools file: Deployments, GPU overlay, KEDA scaling.

- k8s/base/pools/: one Deployment per pool (CPU-neutral) and the pools ConfigMap.
- k8s/overlays/gpu/: per pool, the GPU product nodeSelector and `nvidia.com/gpu` limits;
  the pools file with device cuda.
- k8s/components/keda/: per pool, a ScaledObject with one Redis list trigger per queue
  (scale to zero); optional, added by an overlay (overlays/gpu-keda).
- k8s/base/broker-site/: a kustomize Component the base always includes; for a
  multi-site file it pins Redis and the orchestrator Job to the broker's site
  (`broker_at`, default the images'), for a one-site file it is empty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dicec import keys
from scripts.deploy.common import (
    CPU_DEVICE,
    GPU_DEVICE,
    LIVE_FILE,
    NAMESPACE,
    POOLS_MOUNT_PATH,
    READY_FILE,
    WORKER_GRACE_S,
    GeneratedSet,
    dump_yaml,
    gpu_product,
    header,
    pools_for_device,
    pools_yaml,
)
from worker_models.pools import Pool, PoolsFile

COMMAND = "k8s pools"
BASE_DIR = Path("k8s/base/pools")
GPU_DIR = Path("k8s/overlays/gpu")
KEDA_DIR = Path("k8s/components/keda")
BROKER_DIR = Path("k8s/base/broker-site")
# What runs at the broker's site: the static k8s/base/redis.yaml and orchestrator-job.yaml.
BROKER_WORKLOADS = (("StatefulSet", "redis"), ("Job", "claims-demo"))
POOL_IMAGE = "dicec-pool"  # overlays map it to dicec:cpu or dicec:cuda
APP_IMAGE = "dicec-app"  # Flower and the orchestrator: always the CPU image
IMAGE_REPO = "dicec"
SECRET = "dicec-secrets"
POOLS_CONFIGMAP = "dicec-pools"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
# Multi-site pools files: each pool's pods go to nodes labelled with its site.
SITE_LABEL = "topology.dicec.dev/site"
REDIS_ADDRESS = f"redis.{NAMESPACE}.svc.cluster.local:6379"
KEDA_POLL_S = 5
# After the queues empty, KEDA waits this long before scaling a pool to zero; the pods
# then get SIGTERM (Celery warm shutdown) and WORKER_GRACE_S to finish their calls.
KEDA_COOLDOWN_S = 300
READY_PERIOD_S = 5
# Alive: the main process's Celery heartbeat (every 2 s) touched LIVE_FILE this recently.
LIVE_MAX_AGE_MIN = 1
LIVE_PERIOD_S = 20
LIVE_FAILURES = 3
# Models load before the first heartbeat: up to app.WORKER_PROC_ALIVE_TIMEOUT_S (300 s).
STARTUP_PERIOD_S = 10
STARTUP_FAILURES = 31
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"


def deployment_name(pool: Pool) -> str:
    return f"pool-{pool.name}"


def _labels(pool: Pool) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "dicec",
        "app.kubernetes.io/component": "pool",
        "dicec.dev/pool": pool.name,
    }


def secret_env(name: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": SECRET, "key": key}}}


def dicec_env() -> list[dict[str, Any]]:
    """What every dicec container reads (dicec.settings); the password from the Secret."""
    return [
        {"name": "REDIS_URL", "value": "redis://redis:6379/0"},
        secret_env("REDIS_PASSWORD", "redis-password"),
        {"name": "DICEC_CHECKPOINTS", "value": "small"},
        {"name": "DICEC_EMBEDDED_REDIS", "value": "false"},
        {"name": "DICEC_CHECKPOINT_DIR", "value": "/models/checkpoints"},
        {"name": "DICEC_POOLS_FILE", "value": POOLS_MOUNT_PATH},
        {"name": "HF_HOME", "value": "/models/hf"},
    ]


def _mounts() -> list[dict[str, Any]]:
    return [
        {"name": "pools", "mountPath": str(Path(POOLS_MOUNT_PATH).parent), "readOnly": True},
        {"name": "models", "mountPath": "/models"},
    ]


def _worker_container(pool: Pool) -> dict[str, Any]:
    return {
        "name": "worker",
        "image": POOL_IMAGE,
        # `dicec worker` runs Celery with -E (task events) so Flower sees every call.
        "args": ["dicec", "worker", "--pool", pool.name],
        "env": dicec_env(),
        "volumeMounts": _mounts(),
        # Ready only once this pod's models are loaded (the worker writes the file then).
        "readinessProbe": {
            "exec": {"command": ["test", "-f", READY_FILE]},
            "periodSeconds": READY_PERIOD_S,
            "failureThreshold": 1,
        },
        # Restarted when its main process stops heart-beating (hung, not just busy): a
        # call in progress runs in a child process and does not stop the heartbeat.
        "startupProbe": _live_probe(STARTUP_PERIOD_S, STARTUP_FAILURES),
        "livenessProbe": _live_probe(LIVE_PERIOD_S, LIVE_FAILURES),
        # Unready first; then SIGTERM = Celery warm shutdown: no new calls are taken and
        # the current one finishes (unstarted prefetched messages go back to the queue).
        "lifecycle": {"preStop": {"exec": {"command": ["rm", "-f", READY_FILE]}}},
        "resources": {"requests": {"cpu": "1", "memory": "2Gi"}},
    }


def _live_probe(period_s: int, failures: int) -> dict[str, Any]:
    fresh = f'test -n "$(find {LIVE_FILE} -mmin -{LIVE_MAX_AGE_MIN} 2>/dev/null)"'
    return {
        "exec": {"command": ["sh", "-c", fresh]},
        "periodSeconds": period_s,
        "failureThreshold": failures,
    }


def _checkpoints_init() -> dict[str, Any]:
    build = '[ "$DICEC_CHECKPOINTS" = real ] || exec dicec checkpoints build'
    return {
        "name": "checkpoints",
        "image": POOL_IMAGE,
        "args": ["sh", "-c", build],
        "env": dicec_env(),
        "volumeMounts": _mounts(),
    }


def pool_deployment(pool: Pool, multi_site: bool = False) -> dict[str, Any]:
    deployment = _deployment(pool)
    if multi_site:
        deployment["spec"]["template"]["spec"]["nodeSelector"] = {SITE_LABEL: pool.site}
        deployment["metadata"]["annotations"]["dicec.dev/site"] = pool.site
    return deployment


def _deployment(pool: Pool) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(pool),
            "labels": _labels(pool),
            "annotations": {
                "dicec.dev/functions": ",".join(pool.functions),
                "dicec.dev/gpu-type": pool.gpu_type,
            },
        },
        "spec": {
            "replicas": max(1, pool.replicas),
            "selector": {"matchLabels": {"dicec.dev/pool": pool.name}},
            "template": {
                "metadata": {"labels": _labels(pool)},
                "spec": {
                    "terminationGracePeriodSeconds": WORKER_GRACE_S,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "fsGroup": 10001},
                    "initContainers": [_checkpoints_init()],
                    "containers": [_worker_container(pool)],
                    "volumes": [
                        {"name": "pools", "configMap": {"name": POOLS_CONFIGMAP}},
                        # A per-pod cache; point it at a ReadWriteMany PVC to share
                        # downloaded checkpoints between pods (docs/deployment.md).
                        {"name": "models", "emptyDir": {}},
                    ],
                },
            },
        },
    }


def _kustomization(kind: str = "Kustomization", **fields: Any) -> dict[str, Any]:
    api = "kustomize.config.k8s.io/v1alpha1" if kind == "Component" else KUSTOMIZE_API
    return {"apiVersion": api, "kind": kind, **fields}


def base_files(pools: PoolsFile, source: str) -> GeneratedSet:
    out = GeneratedSet(owned_dirs=[BASE_DIR])
    top = header(COMMAND, source)
    names = []
    multi_site = pools.is_multi_site()
    for pool in pools.pools:
        names.append(f"{deployment_name(pool)}.yaml")
        out.add(BASE_DIR / names[-1], top + dump_yaml(pool_deployment(pool, multi_site)))
    out.add(
        BASE_DIR / "pools.yaml", pools_yaml(pools_for_device(pools, CPU_DEVICE), COMMAND, source)
    )
    generator = [{"name": POOLS_CONFIGMAP, "files": ["pools.yaml"]}]
    out.add(
        BASE_DIR / "kustomization.yaml",
        top + dump_yaml(_kustomization(resources=names, configMapGenerator=generator)),
    )
    return out


def gpu_patch(pools: PoolsFile, pool: Pool) -> dict[str, Any]:
    container = {
        "name": "worker",
        "env": [{"name": "DICEC_CHECKPOINTS", "value": "real"}],
        "resources": {"limits": {GPU_RESOURCE: 1}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": deployment_name(pool)},
        "spec": {
            "template": {
                "spec": {
                    "nodeSelector": {GPU_PRODUCT_LABEL: gpu_product(pools, pool.gpu_type)},
                    "tolerations": [
                        {"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"}
                    ],
                    "initContainers": [
                        {
                            "name": "checkpoints",
                            "env": [{"name": "DICEC_CHECKPOINTS", "value": "real"}],
                        }
                    ],
                    "containers": [container],
                }
            }
        },
    }


def gpu_overlay_files(pools: PoolsFile, source: str) -> GeneratedSet:
    out = GeneratedSet(owned_dirs=[GPU_DIR])
    top = header(COMMAND, source)
    patches = []
    for pool in pools.pools:
        patches.append({"path": f"gpu-{pool.name}.yaml"})
        out.add(GPU_DIR / patches[-1]["path"], top + dump_yaml(gpu_patch(pools, pool)))
    out.add(
        GPU_DIR / "pools.yaml", pools_yaml(pools_for_device(pools, GPU_DEVICE), COMMAND, source)
    )
    kustomization = _kustomization(
        resources=["../../base"],
        images=[
            {"name": POOL_IMAGE, "newName": IMAGE_REPO, "newTag": "cuda"},
            {"name": APP_IMAGE, "newName": IMAGE_REPO, "newTag": "cpu"},
        ],
        patches=patches,
        configMapGenerator=[
            {"name": POOLS_CONFIGMAP, "behavior": "replace", "files": ["pools.yaml"]}
        ],
    )
    out.add(GPU_DIR / "kustomization.yaml", top + dump_yaml(kustomization))
    return out


def scaled_object(pool: Pool) -> dict[str, Any]:
    triggers = [
        {
            "type": "redis",
            "metadata": {
                "address": REDIS_ADDRESS,
                "listName": keys.queue_for(fn),
                "listLength": str(pool.concurrency),
                "activationListLength": "0",
                "databaseIndex": "0",
            },
            "authenticationRef": {"name": "dicec-redis"},
        }
        for fn in pool.functions
    ]
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": deployment_name(pool),
            "namespace": NAMESPACE,
            "labels": _labels(pool),
        },
        "spec": {
            "scaleTargetRef": {"name": deployment_name(pool)},
            "minReplicaCount": 0,
            "maxReplicaCount": max(1, pool.replicas),
            "pollingInterval": KEDA_POLL_S,
            "cooldownPeriod": KEDA_COOLDOWN_S,
            "advanced": {
                "horizontalPodAutoscalerConfig": {
                    "behavior": {
                        "scaleDown": {
                            "stabilizationWindowSeconds": KEDA_COOLDOWN_S,
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
                        }
                    }
                }
            },
            "triggers": triggers,
        },
    }


def trigger_authentication() -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "dicec-redis", "namespace": NAMESPACE},
        "spec": {
            "secretTargetRef": [{"parameter": "password", "name": SECRET, "key": "redis-password"}]
        },
    }


def keda_files(pools: PoolsFile, source: str) -> GeneratedSet:
    out = GeneratedSet(owned_dirs=[KEDA_DIR])
    top = header(COMMAND, source)
    resources = ["trigger-authentication.yaml"]
    out.add(KEDA_DIR / resources[0], top + dump_yaml(trigger_authentication()))
    # KEDA owns the replica count: drop the Deployments' own so an apply never fights it.
    patches = []
    for pool in pools.pools:
        resources.append(f"scaledobject-{pool.name}.yaml")
        out.add(KEDA_DIR / resources[-1], top + dump_yaml(scaled_object(pool)))
        patches.append(
            {
                "target": {"kind": "Deployment", "name": deployment_name(pool)},
                "patch": '[{"op": "remove", "path": "/spec/replicas"}]',
            }
        )
    out.add(
        KEDA_DIR / "kustomization.yaml",
        top + dump_yaml(_kustomization("Component", resources=resources, patches=patches)),
    )
    return out


def broker_site_files(pools: PoolsFile, source: str) -> GeneratedSet:
    """The Component pinning Redis and the orchestrator to the broker's site."""
    out = GeneratedSet(owned_dirs=[BROKER_DIR])
    top = header(COMMAND, source)
    patches = []
    if pools.is_multi_site():
        site = pools.broker_site()
        top += f"# Redis and the orchestrator run at the broker's site, {site!r}.\n"
        for kind, name in BROKER_WORKLOADS:
            patch = {
                "apiVersion": "batch/v1" if kind == "Job" else "apps/v1",
                "kind": kind,
                "metadata": {"name": name},
                "spec": {"template": {"spec": {"nodeSelector": {SITE_LABEL: site}}}},
            }
            patches.append({"patch": dump_yaml(patch)})
    else:
        top += "# One site: nothing to pin.\n"
    # kustomize refuses a kustomization with no field but its kind: the name is one
    component = _kustomization("Component", metadata={"name": "broker-site"}, patches=patches)
    out.add(BROKER_DIR / "kustomization.yaml", top + dump_yaml(component))
    return out


def pool_files(pools: PoolsFile, source: str) -> GeneratedSet:
    out = base_files(pools, source)
    out.extend(broker_site_files(pools, source))
    out.extend(gpu_overlay_files(pools, source))
    out.extend(keda_files(pools, source))
    return out
