"""The Kubernetes manifests: strict schemas, kustomize builds, what each pool gets."""

from __future__ import annotations

import json

import pytest

from dicec import keys
from dicec.settings import DEFAULT_READY_FILE, Settings
from scripts.deploy.common import LIVE_FILE, READY_FILE, WORKER_GRACE_S, load_deploy_pools
from scripts.deploy.functions import function_crd
from scripts.deploy.k8s_pools import deployment_name
from tests.support.manifests import (
    K8S,
    OVERLAYS,
    REFERENCE,
    all_crds,
    kustomize,
    load_docs,
    validate_all,
)
from worker_models.catalogue import CATALOGUE, get_spec
from worker_models.lifecycle import LIVE_SUFFIX
from worker_models.pools import load_pools


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict]]:
    return {overlay: kustomize(K8S / "overlays" / overlay) for overlay in OVERLAYS}


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_committed_manifest_validates_strictly():
    docs = []
    for path in sorted(K8S.rglob("*.yaml")):
        if path.name == "kustomization.yaml" or path.parent.name == "gpu" and path.stem != "pools":
            continue  # kustomizations and patches: checked through the builds below
        if path.name == "pools.yaml":
            load_pools(path)  # the pools files the ConfigMaps carry load as they are
            continue
        docs += load_docs(path)
    assert {
        "StatefulSet",
        "Deployment",
        "Job",
        "CustomResourceDefinition",
        "Function",
        "ScaledObject",
        "TriggerAuthentication",
        "Secret",
    } <= {d["kind"] for d in docs}
    validate_all(docs, all_crds(docs))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_validates(built, overlay):
    docs = built[overlay]
    validate_all(docs, all_crds(docs))
    assert all(
        d["metadata"].get("namespace") == "dicec"
        for d in docs
        if d["kind"] not in ("Namespace", "CustomResourceDefinition")
    )


def test_each_pool_is_a_deployment_that_finishes_its_call(built):
    pools, _ = load_deploy_pools(None)
    deployments = by_kind(built["cpu"], "Deployment")
    for pool in pools.pools:
        spec = deployments[deployment_name(pool)]["spec"]["template"]["spec"]
        worker = spec["containers"][0]
        assert worker["args"] == ["dicec", "worker", "--pool", pool.name]
        assert worker["readinessProbe"]["exec"]["command"] == ["test", "-f", READY_FILE]
        assert str(DEFAULT_READY_FILE) == READY_FILE  # the file the worker writes once loaded
        # Alive: the main process's Celery heartbeat touched the liveness file lately.
        for probe in ("startupProbe", "livenessProbe"):
            command = worker[probe]["exec"]["command"]
            assert command[:2] == ["sh", "-c"] and LIVE_FILE in command[2]
        assert str(DEFAULT_READY_FILE) + LIVE_SUFFIX == LIVE_FILE
        assert worker["lifecycle"]["preStop"]["exec"]["command"] == ["rm", "-f", READY_FILE]
        # Long enough for the longest call a task may make, then Celery's warm shutdown.
        assert spec["terminationGracePeriodSeconds"] == WORKER_GRACE_S
        assert Settings().task_timeout_s < WORKER_GRACE_S
        assert worker["image"] == "dicec:cpu"
        assert "nodeSelector" not in spec


def test_gpu_overlay_pins_each_pool_to_its_gpu_product(built):
    pools, _ = load_deploy_pools(None)
    deployments = by_kind(built["gpu"], "Deployment")
    for pool in pools.pools:
        spec = deployments[deployment_name(pool)]["spec"]["template"]["spec"]
        label = pools.gpu_types[pool.gpu_type].product_label
        assert spec["nodeSelector"] == {"nvidia.com/gpu.product": label}
        worker = spec["containers"][0]
        assert worker["resources"]["limits"] == {"nvidia.com/gpu": 1}
        assert worker["image"] == "dicec:cuda"
        env = {e["name"]: e.get("value") for e in worker["env"]}
        assert env["DICEC_CHECKPOINTS"] == "real"
    flower = by_kind(built["gpu"], "Deployment")["flower"]["spec"]["template"]["spec"]
    assert flower["containers"][0]["image"] == "dicec:cpu"
    gpu_pools = next(iter(by_kind(built["gpu"], "ConfigMap").values()))["data"]["pools.yaml"]
    cpu_pools = next(iter(by_kind(built["cpu"], "ConfigMap").values()))["data"]["pools.yaml"]
    assert "device: cuda" in gpu_pools and "device: cuda" not in cpu_pools


def test_keda_scales_each_pool_on_its_queues_down_to_zero(built):
    pools, _ = load_deploy_pools(None)
    objects = by_kind(built["gpu-keda"], "ScaledObject")
    deployments = by_kind(built["gpu-keda"], "Deployment")
    for pool in pools.pools:
        spec = objects[deployment_name(pool)]["spec"]
        assert spec["scaleTargetRef"]["name"] == deployment_name(pool)
        assert spec["minReplicaCount"] == 0
        queues = [t["metadata"]["listName"] for t in spec["triggers"]]
        assert queues == [keys.queue_for(fn) for fn in pool.functions]
        assert all(t["type"] == "redis" for t in spec["triggers"])
        # KEDA owns the replica count once the component is in.
        assert "replicas" not in deployments[deployment_name(pool)]["spec"]
    assert not by_kind(built["gpu"], "ScaledObject")


def test_redis_is_persistent_and_password_protected(built):
    redis = by_kind(built["cpu"], "StatefulSet")["redis"]["spec"]
    args = redis["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert redis["volumeClaimTemplates"][0]["metadata"]["name"] == "data"
    assert not by_kind(built["cpu"], "Secret"), "secrets are created by the operator"


def test_flower_has_basic_auth_and_a_service(built):
    flower = by_kind(built["cpu"], "Deployment")["flower"]["spec"]["template"]
    env = {e["name"]: e for e in flower["spec"]["containers"][0]["env"]}
    assert env["FLOWER_BASIC_AUTH"]["valueFrom"]["secretKeyRef"]["name"] == "dicec-secrets"
    # The broker comes from REDIS_URL/REDIS_PASSWORD: no password on the command line.
    assert env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "dicec-secrets"
    assert not any("REDIS" in a for a in flower["spec"]["containers"][0]["args"])
    assert flower["metadata"]["annotations"]["prometheus.io/path"] == "/metrics"
    assert by_kind(built["cpu"], "Service")["flower"]["spec"]["ports"][0]["port"] == 5555


def test_function_resources_show_what_the_papers_slide_shows():
    reference = load_docs(REFERENCE / "glip_function.yaml")[0]
    ours = load_docs(K8S / "base" / "functions" / "glip.yaml")[0]
    assert ours["kind"] == reference["kind"] == "Function"
    assert ours["apiVersion"].split("/")[1] == reference["apiVersion"].split("/")[1]
    assert set(ours["status"]) == set(reference["status"])
    spec = get_spec("glip")
    assert json.loads(ours["status"]["parametersSchema"]) == spec.parameters_schema()
    assert json.loads(ours["status"]["resultSchema"]) == spec.result_schema()
    # The same parameter names and required fields as the paper's glip.
    theirs = json.loads(reference["status"]["parametersSchema"])
    assert json.loads(ours["status"]["parametersSchema"])["required"] == theirs["required"]


def test_one_function_resource_per_catalogue_function(built):
    functions = by_kind(built["cpu"], "Function")
    assert set(functions) == set(CATALOGUE)
    for name, resource in functions.items():
        assert resource["spec"]["queue"] == keys.queue_for(name)
        assert resource["spec"]["documentation"] == CATALOGUE[name].documentation


def test_crd_schema_rejects_a_function_without_its_schemas():
    validator = all_crds([function_crd()])
    bad = get_spec("blip").as_function_resource()
    del bad["spec"]["resultSchema"]
    with pytest.raises(AssertionError, match="resultSchema"):
        validator.validate(bad)
    extra = get_spec("blip").as_function_resource()
    extra["spec"]["colour"] = "red"
    with pytest.raises(AssertionError, match="colour"):
        validator.validate(extra)
