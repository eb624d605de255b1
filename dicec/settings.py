"""Settings from the environment (prefix DICEC_), one pydantic model, no silent globals."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from dicec import program_defaults

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL_ENV = "REDIS_URL"  # no prefix: what the tests and compose set
DEFAULT_CHECKPOINT_DIR = Path("var/checkpoints")
# A worker touches this file once its models are loaded (the readiness probe tests it).
DEFAULT_READY_FILE = Path("/tmp/dicec-ready")
ENV_PREFIX = "DICEC_"
# DICEC_CHECKPOINT_<FUNCTION>: a folder or hub id that one function's model loads from.
CHECKPOINT_OVERRIDE_PREFIX = ENV_PREFIX + "CHECKPOINT_"


def env_name(field: str) -> str:
    """The environment variable of a Settings field, for a process that must set it for
    the children it forks (the children read it back through Settings)."""
    assert field in Settings.model_fields, field
    return ENV_PREFIX + field.upper()


def _checkpoint_overrides() -> dict[str, str]:
    """function -> checkpoint, from DICEC_CHECKPOINT_<FUNCTION> (not the two fields
    DICEC_CHECKPOINT_DIR and DICEC_CHECKPOINT_OVERRIDES that share the prefix)."""
    fields = {"DIR", "OVERRIDES"}
    return {
        name[len(CHECKPOINT_OVERRIDE_PREFIX) :].lower(): value
        for name, value in os.environ.items()
        if name.upper().startswith(CHECKPOINT_OVERRIDE_PREFIX)
        and name[len(CHECKPOINT_OVERRIDE_PREFIX) :].upper() not in fields
        and value
    }


# Tasks of a batch in flight at once (the planner's simulator and `dicec plan` assume the
# same). The hand-written peer keeps all of a batch's tasks in flight; 128 against 64 gave
# +8-10 % on the realistic workload (fuller batches, fewer passes; bench/throughput.py,
# docs/architecture.md) for ~60 MB more.
MAX_CONCURRENT_TASKS = 128


class Settings(BaseSettings):
    """Everything configurable at run time. Secrets come only from the environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    # REDIS_URL (no prefix) is honoured too: it is what the tests and compose set.
    redis_url: str = Field(
        default=DEFAULT_REDIS_URL,
        validation_alias=REDIS_URL_ENV,
    )
    # Start an embedded Redis when none answers (local runs). Deployments set this false:
    # a container that cannot reach its Redis must fail, not run alone.
    embedded_redis: bool = True
    redis_password: str | None = Field(default=None, validation_alias="REDIS_PASSWORD", repr=False)
    # ssl_cert_reqs for rediss:// URLs: required | optional | none
    redis_tls_cert_reqs: str = "required"
    redis_tls_ca_certs: str | None = None

    # "small" selects the offline checkpoints built by `dicec checkpoints build`;
    # "real" selects the public checkpoints named in the catalogue.
    checkpoints: str = "small"
    checkpoint_dir: Path = DEFAULT_CHECKPOINT_DIR
    checkpoint_overrides: dict[str, str] = Field(default_factory=_checkpoint_overrides)

    pools_file: Path | None = None
    # Set by `dicec worker` for its forked children: the pool this process serves (unset
    # in a baseline node and a plain `celery worker`), the Celery node name (set per
    # replica by the local pools), and the readiness file.
    pool: str | None = None
    node_name: str | None = None
    ready_file: Path = DEFAULT_READY_FILE
    torch_threads: int = 1

    # Detection results are capped so that one task's work is bounded.
    detect_top_k: int = 5
    detect_score_threshold: float = 0.0
    # What a relative depth model's output (disparity, of no known scale) reads as one
    # metre: a camera's calibration. The small checkpoints' random weights answer at most
    # about 0.03, i.e. 30 m or more; the edge-cloud demo sets 0.1 (docs/edge-cloud.md).
    depth_disparity_at_1m: float = Field(default=1.0, gt=0.0)

    # How long Redis keeps a message of a vanished worker invisible before redelivering
    # it (kombu's visibility_timeout). Longer than any call.
    visibility_timeout_s: float = 600.0
    call_timeout_s: float = 120.0
    call_max_resends: int = 2
    task_timeout_s: float = program_defaults.TASK_TIMEOUT_S
    # How long the orchestrator waits out a Redis that is unreachable or refuses writes
    # (OOM, read-only replica, MISCONF) before it stops, the batch interrupted and
    # resumable. Shorter than task_timeout_s, so an outage never times a task out.
    redis_outage_limit_s: float = 120.0
    max_concurrent_tasks: int = MAX_CONCURRENT_TASKS
    program_memory_mb: int = program_defaults.PROGRAM_MEMORY_MB
    program_max_output_chars: int = program_defaults.PROGRAM_MAX_OUTPUT_CHARS
    # Calls one task may make (hermod.call and ImagePatch methods); past it the task fails.
    program_max_calls: int = 2000
    # Fair sharing of each queue (orchestrator/dispatch/fairness.py): calls one task may
    # have in flight on a queue, and calls this orchestrator (its batch) may; past them
    # calls wait in the orchestrator and are released round-robin across tasks. 0: no cap.
    fair_task_calls_per_queue: int = Field(default=32, ge=0)
    fair_batch_calls_per_queue: int = Field(default=1024, ge=0)
    # CPU seconds a jailed program may burn (RLIMIT_CPU); unset: half of task_timeout_s.
    program_cpu_s: float | None = None
    # "jail": each task's program runs in its own jailed process (docs/security.md);
    # "inprocess": on the orchestrator's event loop, language rules only (benchmarks).
    program_runner: Literal["jail", "inprocess"] = "jail"
    # Tasks of one program that start together may share one jailed process, up to this
    # many (docs/security.md, "Tasks that share a child"); 1: a process per task.
    jail_tasks_per_child: int = Field(default=16, ge=1, le=64)

    cache_enabled: bool = True
    cache_ttl_s: int = 24 * 3600

    # DICEC_DEBUG=1: a failing command prints its traceback after the one-line error.
    debug: bool = False

    llm_base_url: str = "http://127.0.0.1:8000/v1"
    llm_api_key: str = Field(default="not-needed", repr=False)
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_retries: int = 3
    llm_repair_rounds: int = 3


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process from the environment."""
    return Settings()
