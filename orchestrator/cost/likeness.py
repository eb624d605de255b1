"""Whether two batches did the same work, so that comparing their cost means something.

A batch served from the cache computed almost nothing: its cost says nothing about what
the same work costs. The report states, for both batches, the cache setting and how many
calls were computed versus served from the cache (or shared), and refuses a cost
comparison between unlike batches unless asked.
"""

from __future__ import annotations

from pydantic import BaseModel

from dicec.records import BatchMeta, CallTrace
from orchestrator.cost.timeline import computed, dedupe

# Computed fractions further apart than this make two batches unlike.
COMPUTED_FRACTION_TOLERANCE = 0.2


class Work(BaseModel):
    batch_id: str
    cache: bool
    tasks: int
    calls: int
    computed: int

    @property
    def not_computed(self) -> int:
        return self.calls - self.computed

    @property
    def computed_fraction(self) -> float:
        return self.computed / self.calls if self.calls else 0.0

    def line(self) -> str:
        return (
            f"{self.batch_id}: cache {'on' if self.cache else 'off'}, {self.tasks} tasks, "
            f"{self.calls} calls: {self.computed} computed, {self.not_computed} served from "
            "the cache or shared"
        )


def batch_work(meta: BatchMeta, traces: list[CallTrace]) -> Work:
    traces = dedupe(traces)
    return Work(
        batch_id=meta.batch_id,
        cache=meta.cache,
        tasks=meta.tasks,
        calls=len(traces),
        computed=sum(computed(t) for t in traces),
    )


def differences(a: Work, b: Work) -> list[str]:
    """Why the two batches' work differs; empty when they are alike."""
    found = []
    if a.tasks != b.tasks:
        found.append(f"task counts differ ({a.tasks} vs {b.tasks})")
    if a.cache != b.cache:
        found.append("one ran with the cache on, the other with it off")
    if abs(a.computed_fraction - b.computed_fraction) > COMPUTED_FRACTION_TOLERANCE:
        found.append(
            f"{100 * a.computed_fraction:.0f} % vs {100 * b.computed_fraction:.0f} % of "
            "their calls were computed"
        )
    return found
