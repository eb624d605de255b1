"""Redis trouble as the orchestrator sees it: unreachable, stalled, or refusing writes.

One `RedisHealth` per orchestrator process, shared by the dispatcher (its listener and
sends) and the batch store. An episode of trouble is said once, in one line with the
remedy, when it starts, and once when it ends; its span is kept so that a task whose
time ran out during it can be run again. Past `limit_s` the batch stops, interrupted.
"""

from __future__ import annotations

import logging
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError, ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from dicec.errors import BatchInterrupted

log = logging.getLogger(__name__)

UNREACHABLE = "unreachable"
REMEDIES = {
    UNREACHABLE: "Redis is unreachable or not answering; dispatch paused, retrying. "
    "Remedy: check that redis-server runs and REDIS_URL points at it",
    "oom": "Redis is out of memory (maxmemory reached, policy noeviction) and refuses "
    "writes; dispatch paused, retrying. Remedy: raise maxmemory (CONFIG SET maxmemory) "
    "or free memory",
    "readonly": "Redis is a read-only replica and refuses writes; dispatch paused, "
    "retrying. Remedy: point REDIS_URL at the primary",
    "misconf": "Redis cannot persist to disk (MISCONF) and refuses writes; dispatch "
    "paused, retrying. Remedy: free disk space or fix its data folder (see its log)",
}
BACKOFF_FIRST_S = 0.25
# Trouble again this soon after an episode ended is the same episode (after a restart,
# every pooled connection fails once before it is replaced): not said again.
RELAPSE_S = 3.0
BACKOFF_MAX_S = 4.0


def refusal(exc: BaseException) -> str | None:
    """The kind of write refusal an error is ("oom", "readonly", "misconf"), or None."""
    if isinstance(exc, OutOfMemoryError):
        return "oom"
    if isinstance(exc, ReadOnlyError):
        return "readonly"
    if isinstance(exc, ResponseError) and "MISCONF" in str(exc):
        return "misconf"
    cause = exc.__cause__ or exc.__context__
    return refusal(cause) if cause is not None and cause is not exc else None


def trouble_kind(exc: BaseException) -> str | None:
    """What kind of Redis trouble an error shows (None: not Redis trouble, a real bug)."""
    kind = refusal(exc)
    if kind:
        return kind
    if isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError):
        return UNREACHABLE
    return None


class Backoff:
    """Delays that double from BACKOFF_FIRST_S up to BACKOFF_MAX_S; reset on success."""

    def __init__(self) -> None:
        self._next = BACKOFF_FIRST_S

    def next(self) -> float:
        delay, self._next = self._next, min(self._next * 2, BACKOFF_MAX_S)
        return delay

    def reset(self) -> None:
        self._next = BACKOFF_FIRST_S


class RedisHealth:
    """The current episode of Redis trouble (if any) and the spans of past ones."""

    def __init__(self, limit_s: float) -> None:
        self.limit_s = limit_s
        self.kind: str | None = None
        self._since = 0.0  # monotonic start of the current episode
        self._wall_since = 0.0
        self.spans: list[tuple[float, float]] = []  # wall-clock (start, end) of past ones
        self.episodes = 0
        self._ended = float("-inf")  # monotonic end of the last episode
        self._quiet = False  # a relapse: its end is not said again

    @property
    def down(self) -> bool:
        return self.kind is not None

    def trouble(self, exc: BaseException) -> bool:
        """Note an error; True once the episode has lasted past the limit."""
        kind = trouble_kind(exc) or UNREACHABLE
        if self.kind is None and self.spans and time.monotonic() - self._ended < RELAPSE_S:
            self._wall_since = self.spans.pop()[0]
            self.kind, self._quiet = kind, True
        if self.kind is None:
            self._since, self._wall_since = time.monotonic(), time.time()
            self.episodes += 1
            self._quiet = False
        if kind != self.kind:
            log.warning("%s (%s: %s)", REMEDIES[kind], type(exc).__name__, _short(exc))
            self.kind = kind
        return time.monotonic() - self._since > self.limit_s

    def ok(self, wrote: bool) -> bool:
        """A command succeeded; True if that ended an episode. A read does not end a
        refusal of writes (reads still work on a full or read-only Redis)."""
        if self.kind is None or (self.kind != UNREACHABLE and not wrote):
            return False
        took = time.monotonic() - self._since
        if not self._quiet:
            log.warning("Redis is back after %.1f s (%s); carrying on", took, self.kind)
        self.spans.append((self._wall_since, time.time()))
        self.kind, self._ended = None, time.monotonic()
        return True

    def overlaps(self, start: float, end: float) -> bool:
        """Did trouble (past or ongoing) overlap the wall-clock span [start, end]?"""
        if self.kind is not None and self._wall_since <= end:
            return True
        return any(s <= end and start <= e for s, e in self.spans)

    def interruption(self) -> BatchInterrupted:
        kind = self.kind or UNREACHABLE
        return BatchInterrupted(
            f"{REMEDIES[kind].split(';')[0]} for more than {self.limit_s:.0f} s "
            "(DICEC_REDIS_OUTAGE_LIMIT_S): the batch stopped, interrupted; once Redis "
            "accepts writes, finish it with --resume BATCH_ID"
        )


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text[:160]
