"""What a batch stores in Redis: its metadata, one record per task, one trace per call.

Times are epoch seconds (time.time()); workers and the orchestrator share a clock on one
machine and are NTP-synced in a cluster.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Mode = Literal["distributed", "baseline"]
TaskStatus = Literal["ok", "error"]


class CallTrace(BaseModel):
    """One function call as it went through the system (first reply wins on redelivery)."""

    call_id: str
    batch_id: str | None = None
    task_index: int | None = None
    function: str
    pool: str | None = None
    worker: str | None = None
    group_id: str | None = Field(default=None, description="calls started together (one gather)")
    chain_parent: str | None = Field(
        default=None, description="the call whose result this task had seen last before this one"
    )
    queued_at: float
    started_at: float | None = None
    finished_at: float | None = None
    replied_at: float | None = None
    batch_size: int = Field(default=1, description="calls that shared this forward pass")
    cached: bool = False
    attempts: int = 1
    ok: bool = True
    error: str | None = None
    site: str | None = Field(default=None, description="the site of the pool that served it")
    image_bytes: int = Field(
        default=0, description="what its image inputs weigh: stored bytes, a crop's share"
    )
    transfer_bytes: int = Field(
        default=0,
        description="image bytes its worker read across a link from Redis (the broker's "
        "site; 0 when served beside it, or when its worker already had the pixels)",
    )

    @property
    def service_s(self) -> float:
        """Time the worker spent on this call (its share of a batched pass is not split)."""
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return max(0.0, self.finished_at - self.started_at)


class TaskRecord(BaseModel):
    """The outcome of one task: exactly one per task index, a value or an error."""

    batch_id: str
    index: int
    image: str
    status: TaskStatus
    value: Any = None
    printed: list[str] = Field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    started_at: float
    finished_at: float
    calls: int = 0
    node: str | None = Field(default=None, description="baseline mode: the node that ran it")


class LinkRecord(BaseModel):
    """A link between two sites as the batch was priced (worker_models.pools.Link)."""

    between: tuple[str, str]
    bandwidth_mbps: float
    rtt_ms: float = 0.0
    price_per_gb: float = 0.0


class BatchMeta(BaseModel):
    batch_id: str
    mode: Mode = "distributed"
    program_name: str
    program_sha256: str
    program_source: str
    images_dir: str
    images: list[str] = Field(description="the image of each task, by task index")
    tasks: int
    seed: int
    pools_file: str
    nodes: int = 1
    cache: bool = True
    checkpoints: str = "small"
    created_at: float
    finished_at: float | None = None
    # cancelled: `dicec batch cancel` stopped its dispatch; `--resume` completes it.
    status: Literal["running", "finished", "interrupted", "cancelled"] = "running"
    pool_prices: dict[str, float] = Field(
        default_factory=dict, description="USD per node-hour of each pool (or 'baseline')"
    )
    pool_replicas: dict[str, int] = Field(default_factory=dict)
    pool_sites: dict[str, str] = Field(
        default_factory=dict, description="site of each pool; empty: one site"
    )
    images_at: str = Field(default="cloud", description="the site the batch's images come from")
    broker_at: str | None = Field(
        default=None, description="the site of Redis and the orchestrator; None: images_at"
    )
    links: list[LinkRecord] = Field(default_factory=list)
    remote_functions: list[str] = Field(
        default_factory=list, description="served only away from the broker: crops ship alone"
    )

    def broker_site(self) -> str:
        return self.broker_at or self.images_at


class LoadSample(BaseModel):
    """One sample of a host's load during a batch (stored under keys.batch_load_key)."""

    t: float = Field(description="epoch seconds")
    host: str
    cpu_percent: float = Field(description="all cores together, 0-100")
    gpu_percent: float | None = None
    memory_percent: float | None = None
