"""What `dicec batch list` and `dicec batch status` show: a batch's state read from Redis."""

from __future__ import annotations

from collections import Counter

import redis
from pydantic import BaseModel, Field

from dicec import keys
from dicec.errors import BatchError
from dicec.records import BatchMeta, TaskRecord
from orchestrator.program.called import functions_called
from worker_models.registry import live_workers

# ETA from the rate over the most recent tasks (a long batch's rate drifts).
ETA_WINDOW_TASKS = 200


class QueueState(BaseModel):
    function: str
    queue: str
    depth: int = Field(description="messages waiting in the queue")
    pools: list[str]
    workers: int


class BatchState(BaseModel):
    meta: BatchMeta
    done: int
    ok: int
    errors: int
    errors_by_type: dict[str, int]
    queues: list[QueueState] = Field(default_factory=list)
    tasks_per_s: float = 0.0
    eta_s: float | None = None

    @property
    def missing(self) -> int:
        return self.meta.tasks - self.done


def load_meta(r: redis.Redis, batch_id: str) -> BatchMeta:
    raw = r.get(keys.batch_meta_key(batch_id))
    if raw is None:
        raise BatchError(
            f"no batch {batch_id!r} in Redis (unknown id or expired); `dicec batch list` "
            "shows the batches it has"
        )
    return BatchMeta.model_validate_json(raw)


def load_records(r: redis.Redis, batch_id: str) -> list[TaskRecord]:
    raw = r.hvals(keys.batch_tasks_key(batch_id))
    return sorted((TaskRecord.model_validate_json(v) for v in raw), key=lambda t: t.index)


def recent_batches(r: redis.Redis, limit: int) -> list[str]:
    ids = r.zrevrange(keys.batch_index_key(), 0, limit - 1)
    return [i.decode() if isinstance(i, bytes) else i for i in ids]


def batch_state(r: redis.Redis, batch_id: str, with_queues: bool = True) -> BatchState:
    meta = load_meta(r, batch_id)
    records = load_records(r, batch_id)
    errors = Counter(t.error_type or "Error" for t in records if t.status == "error")
    state = BatchState(
        meta=meta,
        done=len(records),
        ok=len(records) - sum(errors.values()),
        errors=sum(errors.values()),
        errors_by_type=dict(errors.most_common()),
    )
    state.tasks_per_s, state.eta_s = _rate(records, meta)
    if with_queues:
        state.queues = queue_states(r, meta)
    return state


def _rate(records: list[TaskRecord], meta: BatchMeta) -> tuple[float, float | None]:
    recent = sorted(records, key=lambda t: t.finished_at)[-ETA_WINDOW_TASKS:]
    if len(recent) < 2:
        return 0.0, None
    span_s = recent[-1].finished_at - min(t.started_at for t in recent)
    rate = len(recent) / span_s if span_s > 0 else 0.0
    left = meta.tasks - len(records)
    if left == 0 or meta.status != "running":
        return rate, 0.0 if left == 0 else None
    return rate, (left / rate if rate else None)


def queue_states(r: redis.Redis, meta: BatchMeta) -> list[QueueState]:
    """Per function the program calls: its queue's depth and the live workers serving it."""
    if meta.mode == "baseline":
        functions = [keys.MONOLITH_QUEUE]
    else:
        functions = sorted(functions_called(meta.program_source, meta.program_name))
    beats = live_workers(r)
    states = []
    for fn in functions:
        serving = [
            b for b in beats if fn in b.functions or (b.pool == "baseline" and fn == "monolith")
        ]
        states.append(
            QueueState(
                function=fn,
                queue=keys.queue_for(fn),
                depth=int(r.llen(keys.queue_for(fn))),
                pools=sorted({b.pool for b in serving}),
                workers=len(serving),
            )
        )
    return states
