"""A baseline batch's lost tasks, found by evidence as the dispatcher finds lost calls.

Every WATCH_INTERVAL_S while the batch waits for replies:
- a node died or froze holding task messages (a node holds several: threads pool, late
  acks): no live node reports them, so the orphan sweep puts them back at once instead
  of after Redis's visibility timeout (the dispatcher's `OrphanSweep`, unchanged);
- every MISSING_SCAN_EVERY rounds, a task still waiting for its reply whose message is
  on no queue and unacked by nobody is lost however it was lost (a node SIGKILLed
  between taking a message off the queue and writing it to kombu's unacked hash: seen
  in the node-kill test, one task of three); missing in two scans in a row, it is sent
  again. A task only slow to reply meanwhile costs one duplicate run, whose record is
  dropped (records are stored once).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from kombu.exceptions import KombuError
from redis.exceptions import RedisError

from dicec import keys
from dicec.settings import Settings
from orchestrator.dispatch.watchdog import MISSING_SCAN_EVERY, WATCH_INTERVAL_S, OrphanSweep
from worker_models.holdings import message_args, present_envelopes

log = logging.getLogger(__name__)

Resend = Callable[[list[int]], Awaitable[None]]


def present_tasks(envelopes: Iterable[Any], batch_id: str) -> set[int]:
    """Indices of this batch's tasks among the given message envelopes."""
    found: set[int] = set()
    for envelope in envelopes:
        args = message_args(envelope)
        task = args[0] if args else None
        if isinstance(task, dict) and task.get("batch_id") == batch_id:
            index = task.get("index")
            if isinstance(index, int):
                found.add(index)
    return found


class LostTasks:
    def __init__(
        self,
        settings: Settings,
        batch_id: str,
        waiting: set[int],
        queue: str = keys.MONOLITH_QUEUE,
    ) -> None:
        self.orphans = OrphanSweep(settings)
        self.queue = queue
        self.batch_id = batch_id
        self.waiting = waiting  # the collector's own set: it shrinks as replies come
        self._missing_before: set[int] = set()
        self.resent = 0

    async def run(self, resend: Resend) -> None:
        rounds = 0
        try:
            while True:
                await asyncio.sleep(WATCH_INTERVAL_S)
                rounds += 1
                try:
                    await self._round(resend, scan=rounds % MISSING_SCAN_EVERY == 0)
                except (RedisError, OSError, KombuError) as exc:
                    log.warning("lost-task check skipped (Redis trouble: %s)", exc)
                    self.orphans.finder.reset()  # nobody could beat meanwhile: start afresh
                    self._missing_before.clear()
                    await asyncio.to_thread(self.orphans.close)
        finally:
            await asyncio.to_thread(self.orphans.close)

    async def _round(self, resend: Resend, scan: bool = True) -> None:
        restored = await asyncio.to_thread(self.orphans.sweep)
        if restored:
            log.warning(
                "%d message(s) were held by no live node (a node died or froze): put back "
                "on their queues",
                restored,
            )
        if not scan:
            return
        envelopes = await asyncio.to_thread(
            lambda: list(present_envelopes(self.orphans.client(), [self.queue]))
        )
        present = present_tasks(envelopes, self.batch_id)
        missing = {i for i in self.waiting if i not in present}
        lost = sorted(missing & self._missing_before)
        self._missing_before = missing - set(lost)
        if lost:
            self.resent += len(lost)
            log.warning(
                "%d task(s) of this batch are on no queue and held by no node (lost with a "
                "node): sent again",
                len(lost),
            )
            await resend(lost)
