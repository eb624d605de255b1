"""Celery tasks: one per catalogue function (queue = function name), plus a raw echo task
that benchmarks use as the baseline cost of plain Celery."""

from __future__ import annotations

from typing import Any

from dicec import keys
from worker_models import lifecycle  # noqa: F401 - connects the start-up hooks
from worker_models.app import app
from worker_models.catalogue import CATALOGUE
from worker_models.service import current_service


def _register(function: str) -> None:
    @app.task(name=keys.task_name_for(function), bind=True, ignore_result=True)
    def serve(self, requests: list[dict[str, Any]]) -> None:  # noqa: ANN001 - Celery's bind
        current_service().handle(function, requests, worker=self.request.hostname or "")

    serve.__name__ = f"serve_{function}"


for _name in CATALOGUE:
    _register(_name)


@app.task(name="dicec.echo")
def echo(value: Any) -> Any:
    """Raw Celery round trip (result backend and all): the benchmark baseline."""
    return value
