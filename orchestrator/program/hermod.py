"""The `hermod` module a program imports: `await hermod.call(name, **kwargs)`.

Each task gets its own Hermod object (the sandbox maps `import hermod` to it), so its
calls are traced to the task. Parameters are validated against the catalogue schema
before anything is sent; results against the result schema before the program sees
them; a failed call raises in the program, so generated try/except works.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from worker_models.calls import PreparedCall, prepare_call

# The call whose result this context saw last: the chain parent of its next call.
_LAST_CALL: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dicec_last_call", default=None
)


@dataclass
class CallOrigin:
    """Where a call comes from: which batch task, which gather, which call fed it."""

    batch_id: str | None = None
    task_index: int | None = None
    chain_parent: str | None = None


class CallBackend(Protocol):
    """Runs a prepared call: the Celery dispatcher, or in-process models (baseline)."""

    def call(self, prepared: PreparedCall, origin: CallOrigin) -> Awaitable[tuple[str, Any]]: ...


class Hermod:
    def __init__(
        self, backend: CallBackend, batch_id: str | None = None, task_index: int | None = None
    ) -> None:
        self._backend = backend
        self._batch_id = batch_id
        self._task_index = task_index
        self.calls = 0

    async def call(self, name: str, **kwargs: Any) -> Any:
        """Call catalogue function `name`; returns its result (glip: the list of boxes)."""
        prepared = prepare_call(name, kwargs)
        origin = CallOrigin(self._batch_id, self._task_index, _LAST_CALL.get())
        self.calls += 1
        call_id, result = await self._backend.call(prepared, origin)
        _LAST_CALL.set(call_id)
        return result
