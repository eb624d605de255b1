"""The Redis layout: every key name, TTL and queue name of the project lives here."""

from __future__ import annotations

PREFIX = "dicec"

# Wire messages carry this; a worker rejects anything else.
WIRE_SCHEMA_VERSION = 1

IMAGE_TTL_S = 24 * 3600
REGISTRY_HEARTBEAT_S = 5
REGISTRY_TTL_S = 20  # a pool whose heartbeat is older than this is offline
REPLY_TTL_S = 3600
BATCH_TTL_S = 7 * 24 * 3600
CACHE_TTL_S = 24 * 3600
CRASH_TTL_S = 24 * 3600
# A worker node's parent process publishes the delivery tags it holds (unacked messages
# it reserved or runs) this often; the orchestrator finds messages nobody holds by them.
HOLDINGS_BEAT_S = 1.0
HOLDINGS_TTL_S = 30

# kombu's Redis transport keeps every delivered, unacked message here (its defaults).
KOMBU_UNACKED_KEY = "unacked"
KOMBU_UNACKED_INDEX_KEY = "unacked_index"

# The raw-Celery echo task used by benchmarks as the baseline for dispatch cost.
ECHO_QUEUE = "echo"
# Programs, not models: baseline ("monolith") nodes consume this queue.
MONOLITH_QUEUE = "monolith"
MONOLITH_TASK = "dicec.monolith.run"


def queue_for(function: str) -> str:
    """Queue name of a function: the function's own name (the paper's per-function queues)."""
    return function


def task_name_for(function: str) -> str:
    """Celery task name that serves a function's queue."""
    return f"dicec.fn.{function}"


def image_key(digest: str) -> str:
    return f"{PREFIX}:image:{digest}"


def registry_function_key(function: str) -> str:
    """Hash: documentation and schemas of a function, as last published by a pool."""
    return f"{PREFIX}:registry:function:{function}"


def registry_functions_set() -> str:
    return f"{PREFIX}:registry:functions"


def registry_worker_key(pool: str, worker: str) -> str:
    """String with TTL: a live worker of a pool (its heartbeat); value is JSON."""
    return f"{PREFIX}:registry:worker:{pool}:{worker}"


def registry_worker_pattern() -> str:
    return f"{PREFIX}:registry:worker:*"


def holdings_key(node: str) -> str:
    """String with TTL: JSON {beat_at, tags} of the messages one worker node holds."""
    return f"{PREFIX}:holdings:{node}"


def holdings_pattern() -> str:
    return f"{PREFIX}:holdings:*"


def dispatcher_marker_key(client_id: str) -> str:
    """String: set by an orchestrator process while it runs; gone means Redis lost its data."""
    return f"{PREFIX}:dispatcher:{client_id}"


def reply_key(client_id: str) -> str:
    """List: replies for one orchestrator process, read with BLPOP by its one listener."""
    return f"{PREFIX}:reply:{client_id}"


def reply_taken_key(client_id: str) -> str:
    """List: replies the listener has taken off its reply list and not yet handled; read
    again after a Redis error, since a reply sent to a connection that died is lost."""
    return f"{PREFIX}:reply:{client_id}:taken"


def crash_key(call_id: str) -> str:
    """Counter: how often a call of a redelivered message started without an answer."""
    return f"{PREFIX}:crash:{call_id}"


def batch_meta_key(batch_id: str) -> str:
    return f"{PREFIX}:batch:{batch_id}:meta"


def batch_tasks_key(batch_id: str) -> str:
    """Hash: task index -> TaskRecord JSON (one field per task: never two results)."""
    return f"{PREFIX}:batch:{batch_id}:tasks"


def batch_calls_key(batch_id: str) -> str:
    """Hash: call id -> CallTrace JSON (a redelivered call overwrites, never adds)."""
    return f"{PREFIX}:batch:{batch_id}:calls"


def batch_load_key(batch_id: str) -> str:
    """List: LoadSample JSON (CPU/GPU load of a host over the run), oldest first."""
    return f"{PREFIX}:batch:{batch_id}:load"


def batch_cancel_key(batch_id: str) -> str:
    """String: set by `dicec batch cancel`; the runner starts no new task while it exists."""
    return f"{PREFIX}:batch:{batch_id}:cancel"


def batch_index_key() -> str:
    """Sorted set of batch ids by start time."""
    return f"{PREFIX}:batches"


def cache_key(digest: str) -> str:
    return f"{PREFIX}:cache:{digest}"
