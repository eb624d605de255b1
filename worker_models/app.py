"""The Celery application: JSON only, late acks, prefetch 1, one queue per function.

`celery -A worker_models.app inspect active_queues` works against it.

Why these settings:
- acks_late + reject_on_worker_lost: a call is acknowledged only after its reply is
  pushed, so a worker that dies mid-call gets its message redelivered, not lost.
- prefetch 1: a model pool holds at most one unstarted message per process, so a busy
  or dead process does not sit on work another process could do.
- visibility_timeout: how long an unacked message of a worker that vanished (SIGKILL
  of the whole node) stays invisible before Redis hands it out again. Longer than any
  call; the orchestrator's watchdog puts such messages back at once (no live node
  reports holding them: worker_models/holdings.py), its call timeout + resend is the
  last resort, and duplicate replies are dropped by call id, so redelivery never
  double-counts. Celery pitfall:
  the clock runs from delivery, so a message waiting in a worker's prefetch buffer (a
  batching pool holds two flushes) counts too; one that outlives it is delivered a
  second time while still held. Also, messages a worker held when its broker
  connection dropped come back only after this timeout (their acks are lost).
- accept_content json: generated programs are untrusted; pickle would let a crafted
  message run code in a worker.
- worker_proc_alive_timeout: models load in worker_process_init, before the pool process
  reports "up". Celery's default (4 s) kills a process that loads slower and forks
  another, forever: after a SIGKILLed pool process on a loaded machine, the node never
  served again (seen in the fault suite). Real checkpoints take far longer than 4 s.
- broker_transport worker_models.broker: kombu's Redis transport, except that bytes on a
  queue that are no message are logged and dropped instead of stopping the worker.

The faults these settings were tested against, and their counts: docs/reliability.md.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from dicec import keys
from dicec.redis_conn import celery_url
from dicec.settings import Settings, get_settings
from worker_models.catalogue import CATALOGUE

RESULT_EXPIRES_S = 3600
BROKER_TRANSPORT = "worker_models.broker:Transport"
POOL_GATE_STEP = "worker_models.pool_gate:PoolGate"
# How long a new pool process may take to load its models before Celery gives up on it.
WORKER_PROC_ALIVE_TIMEOUT_S = 300.0


def _tls_options(settings: Settings) -> dict[str, Any] | None:
    if not settings.redis_url.startswith("rediss://"):
        return None
    options: dict[str, Any] = {"ssl_cert_reqs": settings.redis_tls_cert_reqs}
    if settings.redis_tls_ca_certs:
        options["ssl_ca_certs"] = settings.redis_tls_ca_certs
    return options


def _transport_options(settings: Settings) -> dict[str, Any]:
    """Visibility timeout, and a restore sweep frequent enough for it (kombu's default
    sweep runs every 100 s, so a short timeout alone would not redeliver any sooner)."""
    return {
        "visibility_timeout": settings.visibility_timeout_s,
        "unacked_restore_interval": max(1, min(10, int(settings.visibility_timeout_s // 3))),
        "unacked_restore_throttle": 1,
    }


def make_celery(settings: Settings) -> Celery:
    url = celery_url(settings)
    app = Celery("dicec", broker=url, backend=url, include=["worker_models.tasks"])
    names = [keys.queue_for(name) for name in CATALOGUE] + [keys.ECHO_QUEUE, keys.MONOLITH_QUEUE]
    # One direct exchange per queue: a message for `blip` can only ever land on `blip`.
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in names]
    routes = {keys.task_name_for(name): {"queue": keys.queue_for(name)} for name in CATALOGUE}
    # The baseline monolith registers its own task (orchestrator.batch.monolith).
    routes[keys.MONOLITH_TASK] = {"queue": keys.MONOLITH_QUEUE}
    tls = _tls_options(settings)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=queues,
        task_default_queue=keys.ECHO_QUEUE,
        task_routes=routes,
        broker_transport=BROKER_TRANSPORT,
        broker_transport_options=_transport_options(settings),
        result_backend_transport_options={"visibility_timeout": settings.visibility_timeout_s},
        result_expires=RESULT_EXPIRES_S,
        worker_send_task_events=True,
        task_send_sent_event=True,
        broker_connection_retry_on_startup=True,
        worker_proc_alive_timeout=WORKER_PROC_ALIVE_TIMEOUT_S,
        worker_hijack_root_logger=False,
        broker_use_ssl=tls,
        redis_backend_use_ssl=tls,
    )
    # A node with no pool process up takes no messages and gives back what it holds.
    app.steps["consumer"].add(POOL_GATE_STEP)
    return app


app = make_celery(get_settings())

# A plain `celery -A worker_models.app worker -Q ...` derives its pool from its queues.
from worker_models import queue_pool  # noqa: E402, F401
