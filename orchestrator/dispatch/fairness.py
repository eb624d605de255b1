"""Fair sharing of each queue between the tasks of a batch and between batches.

A task has at most `per_task` calls in flight on a queue, and the orchestrator (one
batch) at most `per_batch` on each queue. A call over either cap waits here, in the
orchestrator, in its task's line; each time a call on that queue is answered (or fails),
waiting calls are released round-robin across the tasks, one call per task per round.
So a task that gathers 2,000 calls puts at most `per_task` of them on the broker ahead of
another task's next call, and a batch that floods a queue has at most `per_batch` calls
on it, so another batch's calls interleave with the flood instead of queueing behind
all of it. A cap of 0 turns that cap off; calls that belong to no batch task (`dicec
call`, benchmarks) have only the batch's cap.

Generic over what a call is (the dispatcher's InFlight): the gate only counts and orders.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Call = TypeVar("Call")
TaskKey = tuple[str | None, int | None]  # (batch id, task index)


@dataclass
class _QueueShare(Generic[Call]):
    in_flight: int = 0
    by_task: dict[TaskKey, int] = field(default_factory=dict)
    # Tasks with calls waiting, in round-robin order (a task released from goes last).
    waiting: OrderedDict[TaskKey, deque[Call]] = field(default_factory=OrderedDict)


class FairGate(Generic[Call]):
    def __init__(self, per_task: int, per_batch: int, wanted: Callable[[Call], bool]) -> None:
        self.per_task = per_task
        self.per_batch = per_batch
        self._wanted = wanted  # False: nobody waits for the call any more (task cancelled)
        self._queues: dict[str, _QueueShare[Call]] = {}

    def admit(self, queue: str, task: TaskKey, call: Call) -> bool:
        """True: send the call now (it is counted until `done`); False: it waits here and
        comes back from a later `done`."""
        share = self._queues.setdefault(queue, _QueueShare())
        if share.waiting.get(task) or not self._has_room(share, task):
            share.waiting.setdefault(task, deque()).append(call)
            return False
        self._count(share, task)
        return True

    def done(self, queue: str, task: TaskKey) -> list[tuple[TaskKey, Call]]:
        """A counted call left the queue (answered or failed): the waiting calls that may
        be sent now, with their tasks."""
        share = self._queues.get(queue)
        if share is None:
            return []
        left = share.by_task.get(task, 0) - 1
        if left > 0:
            share.by_task[task] = left
        else:
            share.by_task.pop(task, None)
        share.in_flight -= 1
        released = self._release(share)
        if not share.in_flight and not share.waiting:
            del self._queues[queue]
        return released

    def waiting(self) -> int:
        return sum(len(line) for s in self._queues.values() for line in s.waiting.values())

    def _has_room(self, share: _QueueShare[Call], task: TaskKey) -> bool:
        if self.per_batch and share.in_flight >= self.per_batch:
            return False
        if task[1] is None:  # not a batch task (`dicec call`, a benchmark): the batch cap only
            return True
        return not (self.per_task and share.by_task.get(task, 0) >= self.per_task)

    def _count(self, share: _QueueShare[Call], task: TaskKey) -> None:
        share.in_flight += 1
        share.by_task[task] = share.by_task.get(task, 0) + 1

    def _release(self, share: _QueueShare[Call]) -> list[tuple[TaskKey, Call]]:
        """Round-robin over the waiting tasks until the queue is full or every waiting
        task is at its own cap."""
        released: list[tuple[TaskKey, Call]] = []
        progress = True
        while progress and share.waiting:
            progress = False
            for task in list(share.waiting):
                if self.per_batch and share.in_flight >= self.per_batch:
                    return released
                if not self._has_room(share, task):
                    continue
                line = share.waiting[task]
                call = line.popleft()
                if not line:
                    del share.waiting[task]
                else:
                    share.waiting.move_to_end(task)
                progress = True
                if self._wanted(call):
                    self._count(share, task)
                    released.append((task, call))
        return released
