"""The fair gate's rule: per-task and per-batch caps per queue, round-robin release."""

from __future__ import annotations

from orchestrator.dispatch.fairness import FairGate

A, B, C = ("batch", 0), ("batch", 1), ("batch", 2)


def _gate(per_task: int, per_batch: int, dropped: frozenset[str] = frozenset()) -> FairGate[str]:
    return FairGate(per_task, per_batch, lambda call: call not in dropped)


def test_a_task_over_its_cap_waits_and_another_task_goes_first():
    gate = _gate(per_task=2, per_batch=0)
    admitted = [c for c in ("a1", "a2", "a3", "a4") if gate.admit("q", A, c)]
    assert admitted == ["a1", "a2"]
    assert gate.admit("q", B, "b1")  # not behind a's waiting calls
    assert gate.waiting() == 2
    assert gate.done("q", A) == [(A, "a3")]  # a's slot goes to a's next call, in order
    assert gate.done("q", B) == []


def test_the_batch_cap_releases_round_robin_across_tasks():
    gate = _gate(per_task=0, per_batch=2)
    in_flight = []  # tasks of the calls sent, oldest first
    for task, calls in ((A, "a1 a2 a3 a4"), (B, "b1 b2"), (C, "c1 c2")):
        in_flight += [task for call in calls.split() if gate.admit("q", task, call)]
    assert in_flight == [A, A]
    released = []
    while in_flight:  # the oldest call is answered; whatever it releases is sent
        for task, call in gate.done("q", in_flight.pop(0)):
            released.append(call)
            in_flight.append(task)
    assert released == ["a3", "b1", "c1", "a4", "b2", "c2"]
    assert gate.waiting() == 0


def test_queues_are_shared_separately_and_cancelled_calls_are_dropped():
    gate = _gate(per_task=1, per_batch=0, dropped=frozenset({"a2"}))
    assert gate.admit("blip", A, "a1")
    assert gate.admit("xvlm", A, "x1")  # another queue: its own share
    assert not gate.admit("blip", A, "a2")
    assert not gate.admit("blip", A, "a3")
    assert gate.done("blip", A) == [(A, "a3")]  # a2's task no longer waits for it


def test_calls_of_no_task_have_only_the_batch_cap():
    gate = _gate(per_task=1, per_batch=3)
    assert all(gate.admit("q", (None, None), str(i)) for i in range(3))
    assert not gate.admit("q", (None, None), "3")
