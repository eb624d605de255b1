"""The pools file: one source of truth for local runs, compose, Kubernetes and cost.

A pool is a set of identical worker replicas bound to one GPU type that consumes the
queues of the functions it hosts. Prices live per GPU type so that a pool can never
run on hardware nobody priced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dicec.config_files import read_yaml_mapping
from dicec.errors import ConfigError
from worker_models.catalogue import CATALOGUE

POOLS_DIR = Path(__file__).parent / "pools_files"
DEFAULT_POOLS = "local"


class GpuType(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_per_hour: float = Field(ge=0.0, description="USD per node-hour, billed for the whole run")
    memory_gb: float | None = None
    product_label: str | None = Field(
        default=None, description="value of nvidia.com/gpu.product on nodes of this type"
    )


class Batching(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_batch_size: int = Field(default=1, ge=1, le=256)
    max_wait_ms: float = Field(default=0.0, ge=0.0, le=10_000.0)


class Pool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    gpu_type: str
    functions: list[str] = Field(min_length=1)
    replicas: int = Field(default=1, ge=0)
    concurrency: int = Field(default=1, ge=1, le=64)
    device: str = "cpu"
    batching: dict[str, Batching] = Field(default_factory=dict)

    def batching_for(self, function: str) -> Batching:
        return self.batching.get(function, Batching())


class Baseline(BaseModel):
    """The paper's monolith: every node hosts all models and runs whole programs."""

    model_config = ConfigDict(extra="forbid")
    gpu_type: str
    nodes: int = Field(default=1, ge=1)
    device: str = "cpu"


class PoolsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "pools"
    gpu_types: dict[str, GpuType]
    pools: list[Pool] = Field(min_length=1)
    baseline: Baseline | None = None
    mode: Literal["distributed"] = "distributed"

    @model_validator(mode="after")
    def _check_consistency(self) -> PoolsFile:
        problems: list[str] = []
        seen: set[str] = set()
        for pool in self.pools:
            if pool.name in seen:
                problems.append(f"duplicate pool name {pool.name!r}")
            seen.add(pool.name)
            if pool.gpu_type not in self.gpu_types:
                problems.append(
                    f"pool {pool.name!r}: GPU type {pool.gpu_type!r} has no price "
                    f"(known: {', '.join(sorted(self.gpu_types))})"
                )
            for fn in pool.functions:
                if fn not in CATALOGUE:
                    problems.append(f"pool {pool.name!r}: unknown function {fn!r}")
            for fn in pool.batching:
                if fn not in pool.functions:
                    problems.append(
                        f"pool {pool.name!r}: batching for {fn!r}, which it does not serve"
                    )
        if self.baseline and self.baseline.gpu_type not in self.gpu_types:
            problems.append(f"baseline: GPU type {self.baseline.gpu_type!r} has no price")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def pool(self, name: str) -> Pool:
        for pool in self.pools:
            if pool.name == name:
                return pool
        known = ", ".join(p.name for p in self.pools)
        raise ConfigError(f"unknown pool {name!r} in pools file {self.name!r}; pools: {known}")

    def pools_serving(self, function: str) -> list[Pool]:
        return [p for p in self.pools if function in p.functions]

    def served_functions(self) -> set[str]:
        return {fn for p in self.pools for fn in p.functions}

    def price_per_hour(self, pool: Pool) -> float:
        return self.gpu_types[pool.gpu_type].price_per_hour


def resolve_pools_path(name_or_path: str | Path | None) -> Path:
    """A path, or the name of a shipped pools file (`local`, `paper`, ...)."""
    if name_or_path is None:
        name_or_path = DEFAULT_POOLS
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = POOLS_DIR / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    known = ", ".join(sorted(p.stem for p in POOLS_DIR.glob("*.yaml")))
    raise ConfigError(f"pools file {str(name_or_path)!r} not found (shipped: {known})")


def load_pools(name_or_path: str | Path | None = None) -> PoolsFile:
    path = resolve_pools_path(name_or_path)
    raw = read_yaml_mapping(path, "pools file")
    try:
        return PoolsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"pools file {path}: {_format_validation(exc)}") from None


def _format_validation(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)
