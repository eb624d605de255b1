"""The pools file: one source of truth for local runs, compose, Kubernetes and cost.

A pool is a set of identical worker replicas bound to one GPU type that consumes the
queues of the functions it hosts. Prices live per GPU type so that a pool can never
run on hardware nobody priced.

Sites (DiCE-M's edge and cloud): each pool runs at a `site` (default `cloud`); `links`
describe the network between two sites (bandwidth, round-trip time, price per GB) and
`images_at` says where a batch's images originate; `broker_at` where Redis and the
orchestrator run (default: with the images). A pool at another site than the broker talks
to Redis over the link (and its images and crops cross it); images taken away from the
broker are uploaded to it once each. Files without sites are one-site files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dicec.config_files import read_yaml_mapping
from dicec.errors import ConfigError
from worker_models.catalogue import CATALOGUE

POOLS_DIR = Path(__file__).parent / "pools_files"
DEFAULT_POOLS = "local"
DEFAULT_SITE = "cloud"
SITE_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
BITS_PER_BYTE = 8
BITS_PER_MBIT = 1e6
SECONDS_PER_MS = 1e-3
BYTES_PER_GB = 1e9


class GpuType(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_per_hour: float = Field(ge=0.0, description="USD per node-hour, billed for the whole run")
    memory_gb: float | None = None
    product_label: str | None = Field(
        default=None, description="value of nvidia.com/gpu.product on nodes of this type"
    )
    site: str | None = Field(
        default=None, pattern=SITE_PATTERN, description="where this hardware is; None: anywhere"
    )
    max_nodes: int | None = Field(
        default=None, ge=1, description="how many of them there are (an edge site's devices)"
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
    site: str = Field(default=DEFAULT_SITE, pattern=SITE_PATTERN)

    def batching_for(self, function: str) -> Batching:
        return self.batching.get(function, Batching())


class Link(BaseModel):
    """The network between two sites, the same both ways."""

    model_config = ConfigDict(extra="forbid")
    between: tuple[str, str]
    bandwidth_mbps: float = Field(gt=0.0, description="Mbit/s")
    rtt_ms: float = Field(default=0.0, ge=0.0, description="round-trip time, ms")
    price_per_gb: float = Field(default=0.0, ge=0.0, description="USD per GB shipped")

    def transfer_s(self, nbytes: int | float) -> float:
        """Seconds a payload of `nbytes` takes: one round trip plus bytes / bandwidth."""
        wire_s = nbytes * BITS_PER_BYTE / (self.bandwidth_mbps * BITS_PER_MBIT)
        return self.rtt_ms * SECONDS_PER_MS + wire_s

    def price_usd(self, nbytes: int | float) -> float:
        return nbytes / BYTES_PER_GB * self.price_per_gb

    def label(self) -> str:
        return f"{self.between[0]}<->{self.between[1]}"


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
    links: list[Link] = Field(default_factory=list)
    images_at: str = Field(default=DEFAULT_SITE, description="the site a batch's images come from")
    broker_at: str | None = Field(
        default=None,
        pattern=SITE_PATTERN,
        description="the site of Redis and the orchestrator; None: images_at",
    )
    photo_bytes: int | None = Field(
        default=None,
        gt=0,
        description="what one of the batch's photos weighs, for `dicec plan` (crops scale "
        "with it); None: the call mix's own figure",
    )

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
            gpu = self.gpu_types.get(pool.gpu_type)
            if gpu is not None and gpu.site is not None and gpu.site != pool.site:
                problems.append(
                    f"pool {pool.name!r} at site {pool.site!r}: its GPU type "
                    f"{pool.gpu_type!r} is at site {gpu.site!r}"
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
        problems.extend(self._site_problems())
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _site_problems(self) -> list[str]:
        problems = []
        sites = self.sites()
        pairs: set[frozenset[str]] = set()
        for link in self.links:
            a, b = link.between
            if a == b:
                problems.append(f"link {link.label()}: a link joins two different sites")
            if frozenset(link.between) in pairs:
                problems.append(f"link {link.label()}: described twice")
            pairs.add(frozenset(link.between))
        broker = self.broker_site()
        where = "the images are" if broker == self.images_at else "Redis is (broker_at)"
        for site in sorted((sites | {self.images_at}) - {broker}):
            if self.link(site, broker) is None:
                what = "pools" if site in sites else "images"
                problems.append(
                    f"{what} at site {site!r} but no link between {site!r} and "
                    f"{broker!r}, where {where} (add it under links:)"
                )
        return problems

    def broker_site(self) -> str:
        """Where Redis (queues, images, results) and the orchestrator run."""
        return self.broker_at or self.images_at

    def sites(self) -> set[str]:
        return {p.site for p in self.pools}

    def link(self, a: str, b: str) -> Link | None:
        """The link between two sites (None: the same site, or none described)."""
        if a == b:
            return None
        for link in self.links:
            if set(link.between) == {a, b}:
                return link
        return None

    def to_data(self) -> dict[str, Any]:
        """JSON-ready contents; a one-site file leaves its site fields out (as it was)."""
        data = self.model_dump(mode="json", exclude_none=True)
        if self.is_multi_site():
            return data
        for key in ("links", "images_at", "broker_at"):
            data.pop(key, None)
        for pool in data["pools"]:
            pool.pop("site", None)
        return data

    def is_multi_site(self) -> bool:
        return bool(self.links) or self.sites() | {self.broker_site()} != {self.images_at}

    def remote_functions(self) -> list[str]:
        """Functions served only at sites other than the broker's (their images travel)."""
        broker = self.broker_site()
        return sorted(
            f
            for f in self.served_functions()
            if all(p.site != broker for p in self.pools_serving(f))
        )

    def site_of(self, pool_name: str) -> str:
        return self.pool(pool_name).site

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
