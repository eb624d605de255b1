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

from dicec.errors import ProgramResourceError
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
        self,
        backend: CallBackend,
        batch_id: str | None = None,
        task_index: int | None = None,
        max_calls: int | None = None,
    ) -> None:
        self._backend = backend
        self._batch_id = batch_id
        self._task_index = task_index
        self.max_calls = max_calls
        self.calls = 0
        self.over_budget: ProgramResourceError | None = None  # sticky: the task fails

    @property
    def batch_id(self) -> str | None:
        return self._batch_id

    def check_budget(self) -> None:
        """Refuse a call past the task's budget; the task then fails whatever it catches."""
        if self.max_calls is not None and self.calls >= self.max_calls:
            self.over_budget = ProgramResourceError(
                f"program made more calls than its budget of {self.max_calls} per task "
                f"(DICEC_PROGRAM_MAX_CALLS)"
            )
            raise self.over_budget

    async def call(self, name: str, **kwargs: Any) -> Any:
        """Call catalogue function `name`; returns its result (glip: the list of boxes)."""
        return await self.call_wire(name, kwargs, {})

    async def call_wire(self, name: str, kwargs: dict[str, Any], uploads: dict[str, bytes]) -> Any:
        """A call whose images are already references; `uploads` are the bytes of images
        the program made (content digest -> PNG), stored before the call is sent."""
        self.check_budget()
        prepared = prepare_call(name, kwargs)
        prepared.uploads.update(uploads)
        origin = CallOrigin(self._batch_id, self._task_index, _LAST_CALL.get())
        self.calls += 1
        call_id, result = await self._backend.call(prepared, origin)
        _LAST_CALL.set(call_id)
        return result
