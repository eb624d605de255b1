"""Offline checks of deployment files: Kubernetes schemas, CRD schemas, kustomize builds."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
DATA = ROOT / "tests" / "data"
REFERENCE = ROOT.parent / "shared" / "reference-programs"
# The oldest Kubernetes we claim to support and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
OVERLAYS = ("cpu", "gpu", "cpu-keda", "gpu-keda")
KUSTOMIZE_TIMEOUT_S = 60


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kubectl() -> str:
    """kubectl (it embeds kustomize); part of this project's machine image."""
    found = shutil.which("kubectl")
    if found is None:
        message = "kubectl is needed to build the kustomizations (it embeds kustomize)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR`: the manifests an overlay applies."""
    proc = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=KUSTOMIZE_TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, f"kubectl kustomize {directory} failed:\n{proc.stderr}"
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def validate_k8s(doc: dict[str, Any]) -> None:
    """Strict validation (unknown fields rejected) against the Kubernetes schemas."""
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            name = doc.get("metadata", {}).get("name")
            raise AssertionError(
                f"{doc['kind']}/{name} (k8s {version}): {exc.message} "
                f"at {'.'.join(str(p) for p in exc.path)}"
            ) from None


def _strict(schema: Any) -> Any:
    """An openAPIV3Schema that rejects unknown fields, as the API server's strict field
    validation does (objects with declared properties take no others)."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


class CrdValidator:
    """Validates custom resources against the openAPIV3Schema of their CRD."""

    def __init__(self, crds: list[dict[str, Any]]) -> None:
        self.schemas: dict[tuple[str, str], dict[str, Any]] = {}
        for crd in crds:
            spec = crd["spec"]
            for version in spec["versions"]:
                key = (f"{spec['group']}/{version['name']}", spec["names"]["kind"])
                self.schemas[key] = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))

    def knows(self, doc: dict[str, Any]) -> bool:
        return (doc["apiVersion"], doc["kind"]) in self.schemas

    def validate(self, doc: dict[str, Any]) -> None:
        schema = self.schemas[(doc["apiVersion"], doc["kind"])]
        errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(doc), key=str)
        assert not errors, f"{doc['kind']}/{doc['metadata']['name']}: " + "; ".join(
            f"{e.message} at {'.'.join(str(p) for p in e.path)}" for e in errors
        )


def keda_crds() -> list[dict[str, Any]]:
    """KEDA's own CRDs (vendored from kedacore/keda, Apache-2.0; tests/data/keda)."""
    return [doc for path in sorted((DATA / "keda").glob("*.yaml")) for doc in load_docs(path)]


def all_crds(docs: list[dict[str, Any]]) -> CrdValidator:
    ours = [d for d in docs if d["kind"] == "CustomResourceDefinition"]
    return CrdValidator(ours + keda_crds())


def validate_all(docs: list[dict[str, Any]], crds: CrdValidator) -> None:
    """Every document: custom kinds against their CRD, the rest against Kubernetes."""
    for doc in docs:
        if crds.knows(doc):
            crds.validate(doc)
        else:
            validate_k8s(doc)
