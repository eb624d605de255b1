"""A real CallBackend for tests: fixed, well-formed answers per function, no network.

Each answer passes the result schema (check_result), as a worker's would, so a jailed
program sees exactly what it would see through the dispatcher.
"""

from __future__ import annotations

import uuid
from typing import Any

from orchestrator.program.hermod import CallOrigin
from worker_models.calls import PreparedCall, check_result

ANSWERS: dict[str, Any] = {
    "glip": {"result": [{"x": 1, "y": 1, "width": 4, "height": 4}]},
    "blip": {"answer": "red"},
    "xvlm": {"result": True, "score": 0.5},
    "depth": {"depth": 2.0},
}


class AnsweringBackend:
    """Answers every call at once; remembers what it was asked."""

    def __init__(self) -> None:
        self.seen: list[PreparedCall] = []

    async def call(self, prepared: PreparedCall, origin: CallOrigin) -> tuple[str, Any]:
        self.seen.append(prepared)
        name = prepared.spec.name
        raw = {"value": prepared.params.get("value")} if name == "noop" else ANSWERS.get(name)
        return uuid.uuid4().hex, check_result(prepared.spec, raw)
