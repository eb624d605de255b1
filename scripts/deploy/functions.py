"""The `Function` CustomResourceDefinition and one `Function` resource per catalogue entry.

`kubectl -n dicec get functions glip -o yaml` then shows what the paper's slide shows
(reference-programs/glip_function.yaml): documentation, parametersSchema, resultSchema.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.deploy.common import GeneratedSet, dump_yaml, header
from worker_models.catalogue import CATALOGUE, FUNCTION_API_VERSION

COMMAND = "k8s functions"
FUNCTIONS_DIR = "k8s/base/functions"
CRD_FILE = "crd.yaml"
GROUP, VERSION = FUNCTION_API_VERSION.split("/")
PLURAL = "functions"

_JSON_TEXT = "JSON Schema (draft 2020-12, as produced by pydantic) serialised as JSON text"


def _string(description: str, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _described() -> dict[str, Any]:
    """The three fields of the paper's Function resource."""
    return {
        "documentation": _string("What the function does, as the code generator reads it", 1),
        "parametersSchema": _string(f"Parameters: {_JSON_TEXT}", 2),
        "resultSchema": _string(f"Result: {_JSON_TEXT}", 2),
    }


def _spec_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The function as the catalogue defines it",
        "required": ["documentation", "parametersSchema", "resultSchema", "queue"],
        "properties": {
            **_described(),
            "queue": _string("Celery queue its calls are sent to (the function's name)", 1),
            "architecture": _string("Model architecture behind the function"),
            "checkpoint": _string("Public checkpoint used with DICEC_CHECKPOINTS=real"),
        },
    }


def _status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The paper's view of the function (and, from `dicec functions show`, "
        "its liveness)",
        "properties": {
            **_described(),
            "online": {"type": "boolean", "description": "Some pool serves it now"},
            "pools": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Pools serving it now",
            },
        },
    }


def _printer_columns() -> list[dict[str, Any]]:
    return [
        {"name": "Queue", "type": "string", "jsonPath": ".spec.queue"},
        {"name": "Architecture", "type": "string", "jsonPath": ".spec.architecture"},
        {
            "name": "Documentation",
            "type": "string",
            "jsonPath": ".spec.documentation",
            "priority": 1,
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]


def function_crd() -> dict[str, Any]:
    # No status subresource on purpose: the status of each Function is written from the
    # catalogue with the resource itself (the paper's slide shows it under status).
    schema = {
        "type": "object",
        "description": "A function of the tool catalogue: documentation and JSON schemas",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": _spec_schema(),
            "status": _status_schema(),
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{PLURAL}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": "Function",
                "listKind": "FunctionList",
                "plural": PLURAL,
                "singular": "function",
                "shortNames": ["fn"],
                "categories": ["dicec"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "additionalPrinterColumns": _printer_columns(),
                }
            ],
        },
    }


def function_files() -> GeneratedSet:
    """The CRD, one Function per catalogue entry, and the kustomization listing them."""
    out = GeneratedSet(owned_dirs=[Path(FUNCTIONS_DIR)])
    source = "the tool catalogue (worker_models/catalogue.py)"
    out.add(f"{FUNCTIONS_DIR}/{CRD_FILE}", header(COMMAND, source) + dump_yaml(function_crd()))
    names = sorted(CATALOGUE)
    for name in names:
        resource = CATALOGUE[name].as_function_resource()
        resource["metadata"]["labels"] = {"app.kubernetes.io/part-of": "dicec"}
        out.add(f"{FUNCTIONS_DIR}/{name}.yaml", header(COMMAND, source) + dump_yaml(resource))
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": [CRD_FILE, *(f"{name}.yaml" for name in names)],
    }
    out.add(
        f"{FUNCTIONS_DIR}/kustomization.yaml", header(COMMAND, source) + dump_yaml(kustomization)
    )
    return out
