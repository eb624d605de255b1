"""The `noop` function: echoes its value after a sleep; no model, no torch."""

from __future__ import annotations

import time
from typing import cast

from PIL import Image

from worker_models.catalogue import NoopParams, NoopResult, Params, Result

MS_PER_S = 1000.0
# One batch sleeps at most this long, whatever its calls ask: a flood of long sleeps must
# not hold a pool process for minutes (the parameter schema allows up to 60 s a call).
MAX_BATCH_SLEEP_MS = 10_000.0


class NoopBackend:
    """Returns each call's value. A batch sleeps once, for its longest `sleep_ms`: like a
    model's batched forward pass, one batch costs about as much as its slowest call, capped
    at MAX_BATCH_SLEEP_MS."""

    function = "noop"

    def __init__(
        self, checkpoint: str = "", device: str = "cpu", max_sleep_ms: float = MAX_BATCH_SLEEP_MS
    ) -> None:
        self.checkpoint = checkpoint
        self.device = device
        self.max_sleep_ms = max_sleep_ms

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]:
        calls = [cast(NoopParams, p) for p in params]
        longest_ms = min(max((c.sleep_ms for c in calls), default=0.0), self.max_sleep_ms)
        if longest_ms > 0:
            time.sleep(longest_ms / MS_PER_S)
        return [NoopResult(value=c.value) for c in calls]
