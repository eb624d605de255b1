"""The discrete-event engine behind orchestrator.planning.simulator: events on a heap, no sleeps.

Devices (a GPU, or one machine's cores) run jobs with processor sharing: k jobs on a
device of s parallel slots each progress at min(1, s/k) of full speed. Servers (a pool
replica's worker processes, concurrency of them per replica) take calls from the
per-function queues they consume, in batches, and run each batch as one job on their
replica's device. Tasks issue calls when their dependencies have answered.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

# Work left below this counts as done (float noise of the processor-sharing updates).
DONE_EPS_S = 1e-9

Action = Callable[[float], None]


class Clock:
    """The event heap: (time, sequence, action); the sequence keeps ties in FIFO order."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()

    def at(self, when: float, action: Action) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def run(self) -> None:
        while self._heap:
            when, _, action = heapq.heappop(self._heap)
            self.now = when
            action(when)


@dataclass
class Job:
    remaining: float
    on_done: Action


class Device:
    """Processor sharing over `slots` parallel slots."""

    def __init__(self, clock: Clock, slots: float) -> None:
        self.clock = clock
        self.slots = slots
        self.jobs: list[Job] = []
        self._last = 0.0
        self._version = 0

    def _rate(self) -> float:
        return min(1.0, self.slots / len(self.jobs)) if self.jobs else 1.0

    def _advance(self, now: float) -> None:
        done = (now - self._last) * self._rate()
        if done > 0:
            for job in self.jobs:
                job.remaining -= done
        self._last = now

    def add(self, now: float, work_s: float, on_done: Action) -> None:
        self._advance(now)
        self.jobs.append(Job(work_s, on_done))
        self._reschedule(now)

    def _reschedule(self, now: float) -> None:
        self._version += 1
        if not self.jobs:
            return
        version = self._version
        soonest = min(job.remaining for job in self.jobs)
        self.clock.at(now + max(0.0, soonest) / self._rate(), lambda t: self._tick(t, version))

    def _tick(self, now: float, version: int) -> None:
        if version != self._version:
            return  # superseded by a later arrival or departure
        self._advance(now)
        finished = [job for job in self.jobs if job.remaining <= DONE_EPS_S]
        self.jobs = [job for job in self.jobs if job.remaining > DONE_EPS_S]
        self._reschedule(now)
        for job in finished:
            job.on_done(now)


class SerialProcess:
    """One single-threaded process on a device (the orchestrator, Redis): its jobs run one
    at a time, in order, each at most one slot's speed."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.jobs: deque[tuple[float, Action]] = deque()

    def run(self, now: float, work_s: float, then: Action) -> None:
        if work_s <= 0 and not self.jobs:
            then(now)
            return
        self.jobs.append((work_s, then))
        if len(self.jobs) == 1:
            self._start(now)

    def _start(self, now: float) -> None:
        work_s, then = self.jobs[0]

        def done(t: float) -> None:
            self.jobs.popleft()
            then(t)
            if self.jobs:
                self._start(t)

        self.device.add(now, work_s, done)


@dataclass
class SimCall:
    task: SimTask
    index: int
    function: str
    waiting_on: int
    issued_at: float = 0.0
    finished_at: float = 0.0
    image_bytes: int = 0
    message: Message | None = None


@dataclass
class SimTask:
    index: int
    calls: list[SimCall] = field(default_factory=list)
    children: list[list[int]] = field(default_factory=list)
    done: int = 0
    started_at: float = 0.0
    finished_at: float = 0.0


@dataclass
class Replica:
    """One node of a pool: a device, and busy-time bookkeeping (any server busy)."""

    pool: str
    gpu_type: str
    device: Device
    site: str = "cloud"
    active: int = 0
    busy_since: float = 0.0
    busy_s: float = 0.0
    calls: int = 0

    def start(self, now: float) -> None:
        if self.active == 0:
            self.busy_since = now
        self.active += 1

    def stop(self, now: float) -> None:
        self.active -= 1
        if self.active == 0:
            self.busy_s += now - self.busy_since


@dataclass
class Batching:
    max_batch_size: int = 1
    max_wait_s: float = 0.0


@dataclass
class Server:
    replica: Replica
    functions: tuple[str, ...]
    batching: dict[str, Batching]
    busy: bool = False
    pending: deque[list[SimCall]] = field(default_factory=deque)


@dataclass
class Message:
    """Calls of one function issued together by one task (one Celery message)."""

    calls: list[SimCall]
    arrived_at: float
    started: bool = False  # a worker has begun serving it
    unfinished: int = field(init=False)  # its calls not yet served

    def __post_init__(self) -> None:
        self.unfinished = len(self.calls)
        for call in self.calls:
            call.message = self
