"""Security defaults: JSON only on the wire, the Redis password and TLS honoured by every
client (real redis-server processes with --requirepass and with TLS), secrets never
printed, and shipped compose/Kubernetes configs that take secrets from the environment
or Secrets and never expose Flower without auth."""

from __future__ import annotations

import ast
import asyncio
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from kombu.exceptions import ContentDisallowed
from kombu.serialization import dumps as kombu_dumps
from kombu.serialization import loads as kombu_loads

from dicec.redis_conn import async_client, celery_url, redacted_url, sync_client
from dicec.settings import Settings
from tests.support.manifests import OVERLAYS, kustomize
from tests.support.redis_server import RedisServer, private_redis
from worker_models.app import make_celery
from worker_models.broker import envelope_problem

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("dicec", "worker_models", "orchestrator", "codegen", "scripts")
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "shelve", "marshal"}
# Characters that break a password pasted raw into a URL.
AWKWARD_PASSWORD = "p@ss/w:rd#?%1"
SECRET_ENV = re.compile(r"PASSWORD|BASIC_AUTH|API_KEY|SECRET|TOKEN")


# -- JSON only --------------------------------------------------------------------------
def test_celery_speaks_json_only() -> None:
    conf = make_celery(Settings()).conf
    assert conf.accept_content == ["json"] and conf.result_accept_content == ["json"]
    assert conf.task_serializer == conf.result_serializer == conf.event_serializer == "json"


def test_a_pickled_message_is_refused_not_loaded() -> None:
    accept = make_celery(Settings()).conf.accept_content
    content_type, encoding, body = kombu_dumps({"x": 1}, serializer="pickle")
    with pytest.raises(ContentDisallowed):
        kombu_loads(body, content_type, encoding, accept=accept)


def _imported_modules(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_no_product_module_imports_pickle() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for package in PRODUCT_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in _imported_modules(path)
        if module in UNSAFE_MODULES
    ]
    assert not offenders, offenders


def test_no_shipped_config_enables_pickle() -> None:
    files = [ROOT / "docker-compose.yml", *sorted((ROOT / "k8s").rglob("*.yaml"))]
    files += sorted((ROOT / "docker").iterdir())
    assert not [p.name for p in files if p.is_file() and "pickle" in p.read_text().lower()]


def test_hardened_transport_accepts_real_envelopes_only() -> None:
    """A message as kombu publishes it passes; garbage that could stop a worker does not."""
    with private_redis(appendonly=False) as server:
        app = make_celery(Settings(redis_url=server.url))
        app.send_task("dicec.fn.noop", args=[[]], queue="noop")
        raw = server.client().rpop("noop")
    assert envelope_problem(json.loads(raw)) is None
    for poison in (["a", "list"], "text", {"body": "x"}, {"properties": {"delivery_tag": "t"}}):
        assert envelope_problem(poison) is not None


# -- the Redis password, honoured by every client ---------------------------------------
def _ping_everything(settings: Settings) -> None:
    """Every way this project talks to Redis: sync, asyncio, Celery broker and backend."""
    assert sync_client(settings).ping()

    async def aping() -> bool:
        client = async_client(settings)
        try:
            return bool(await client.ping())
        finally:
            await client.aclose()

    assert asyncio.run(aping())
    app = make_celery(settings)
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        assert conn.default_channel.client.ping()
    assert app.backend.client.ping()


@pytest.fixture(scope="module")
def password_redis() -> Iterator[RedisServer]:
    with private_redis(appendonly=False, password=AWKWARD_PASSWORD) as server:
        yield server


def test_password_from_redis_password_reaches_every_client(password_redis: RedisServer) -> None:
    _ping_everything(Settings(redis_url=password_redis.url, redis_password=AWKWARD_PASSWORD))


def test_without_the_password_redis_refuses(password_redis: RedisServer) -> None:
    with pytest.raises(redis.AuthenticationError):
        sync_client(Settings(redis_url=password_redis.url)).ping()


def test_celery_url_quotes_the_password() -> None:
    url = celery_url(Settings(redis_url="redis://h:6379/0", redis_password=AWKWARD_PASSWORD))
    assert url.startswith("redis://:") and AWKWARD_PASSWORD not in url


# -- TLS ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_redis() -> Iterator[RedisServer]:
    with private_redis(appendonly=False, password=AWKWARD_PASSWORD, tls=True) as server:
        yield server


def test_tls_settings_reach_every_client(tls_redis: RedisServer) -> None:
    assert tls_redis.tls is not None and tls_redis.url.startswith("rediss://")
    settings = Settings(
        redis_url=tls_redis.url,
        redis_password=AWKWARD_PASSWORD,
        redis_tls_ca_certs=str(tls_redis.tls.ca),
    )
    _ping_everything(settings)


def test_tls_verifies_the_server_certificate(tls_redis: RedisServer) -> None:
    """cert_reqs=required (the default) without the CA that signed the server: refused."""
    settings = Settings(redis_url=tls_redis.url, redis_password=AWKWARD_PASSWORD)
    assert settings.redis_tls_cert_reqs == "required"
    with pytest.raises(redis.ConnectionError, match="(?i)certificate"):
        sync_client(settings).ping()


# -- secrets are never printed -------------------------------------------------------------
def test_settings_repr_hides_secrets() -> None:
    settings = Settings(redis_password="hunter2-redis", llm_api_key="hunter2-llm")
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)


def test_urls_in_messages_are_redacted() -> None:
    assert "hunter2" not in redacted_url("redis://:hunter2@redis:6379/0")
    assert redacted_url("redis://:hunter2@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redacted_url("rediss://user:hunter2@h/1") == "rediss://user:***@h/1"
    assert redacted_url("redis://redis:6379/0") == "redis://redis:6379/0"


def test_unreachable_redis_message_does_not_show_the_password() -> None:
    from dicec.errors import ConfigError
    from dicec.services import ensure_redis

    settings = Settings(redis_url="redis://:hunter2@127.0.0.1:1/0", embedded_redis=False)
    with pytest.raises(ConfigError) as caught, ensure_redis(settings):
        pass
    assert "hunter2" not in str(caught.value)


# -- shipped configs -----------------------------------------------------------------------
def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _is_env_reference(value: Any, name: str) -> bool:
    return isinstance(value, str) and value.startswith("${" + name)


def test_compose_takes_every_secret_from_the_environment() -> None:
    services = _compose()["services"]
    for name, service in services.items():
        env = service.get("environment") or {}
        if "REDIS_URL" in env:
            assert _is_env_reference(env.get("REDIS_PASSWORD"), "REDIS_PASSWORD"), name
            assert "@" not in env["REDIS_URL"], f"{name}: a password inside REDIS_URL"
        for key, value in env.items():
            if SECRET_ENV.search(key):
                assert _is_env_reference(value, key), f"{name}: {key} is written literally"
    redis_args = services["redis"]["command"]
    assert redis_args[redis_args.index("--requirepass") + 1].startswith("${REDIS_PASSWORD")
    assert redis_args[redis_args.index("--appendonly") + 1] == "yes"


def test_compose_flower_requires_basic_auth() -> None:
    flower = _compose()["services"]["flower"]
    assert _is_env_reference(flower["environment"]["FLOWER_BASIC_AUTH"], "FLOWER_BASIC_AUTH")
    assert ":?" in flower["environment"]["FLOWER_BASIC_AUTH"], "compose must refuse to start"
    assert str(flower["environment"].get("FLOWER_UNAUTHENTICATED_API", "false")) == "false"


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc.get("spec", {})
    pod = spec.get("jobTemplate", {}).get("spec", spec).get("template", {}).get("spec", {})
    return pod.get("containers", []) + pod.get("initContainers", [])


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_takes_every_secret_from_a_secret(overlay: str) -> None:
    docs = kustomize(ROOT / "k8s" / "overlays" / overlay)
    assert not [d for d in docs if d["kind"] == "Secret"], "Secrets are made out of band"
    for doc in docs:
        for container in _containers(doc):
            env = {e["name"]: e for e in container.get("env", [])}
            where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            if "REDIS_URL" in env:
                assert "secretKeyRef" in env.get("REDIS_PASSWORD", {}).get("valueFrom", {}), where
                assert "@" not in env["REDIS_URL"].get("value", ""), where
            for name, entry in env.items():
                if SECRET_ENV.search(name):
                    assert "value" not in entry, f"{where}: {name} is written literally"
            assert "FLOWER_UNAUTHENTICATED_API" not in env, where


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_flower_requires_auth_and_stays_inside_the_cluster(overlay: str) -> None:
    docs = kustomize(ROOT / "k8s" / "overlays" / overlay)
    flower = next(
        d for d in docs if d["kind"] == "Deployment" and "flower" in d["metadata"]["name"]
    )
    env = {e["name"]: e for e in _containers(flower)[0].get("env", [])}
    assert "secretKeyRef" in env["FLOWER_BASIC_AUTH"]["valueFrom"]
    services = [d for d in docs if d["kind"] == "Service" and "flower" in d["metadata"]["name"]]
    assert services and all(s["spec"].get("type", "ClusterIP") == "ClusterIP" for s in services)
    assert not [d for d in docs if d["kind"] == "Ingress"], "no Ingress exposes Flower"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_k8s_redis_requires_the_password_and_persists(overlay: str) -> None:
    docs = kustomize(ROOT / "k8s" / "overlays" / overlay)
    redis_set = next(
        d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "redis"
    )
    args = _containers(redis_set)[0]["args"]
    assert args[args.index("--requirepass") + 1] == "$(REDIS_PASSWORD)"
    assert args[args.index("--appendonly") + 1] == "yes"


def test_example_secrets_are_placeholders() -> None:
    env_lines = (ROOT / "docker" / "compose.env.example").read_text().splitlines()
    for line in env_lines:
        key, _, value = line.partition("=")
        if SECRET_ENV.search(key) and not line.startswith("#"):
            assert "CHANGE-ME" in value, key
    secret = yaml.safe_load((ROOT / "k8s" / "secret.example.yaml").read_text())
    assert all("CHANGE-ME" in v for v in secret["stringData"].values())
    kustomizations = [p.read_text() for p in (ROOT / "k8s").rglob("kustomization.yaml")]
    assert not any("secret.example" in k for k in kustomizations)


def test_a_pickle_payload_never_reaches_a_task() -> None:
    """What accept_content protects against: loading this would run code."""

    class Boom:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    body = pickle.dumps(Boom())
    with pytest.raises(ContentDisallowed):
        kombu_loads(body, "application/x-python-serialize", "binary", accept=["json"])
