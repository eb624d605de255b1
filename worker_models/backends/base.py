"""The contract between a worker process and the model behind a function."""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from worker_models.catalogue import Params, Result


class Backend(Protocol):
    """A loaded model serving one catalogue function.

    `run_batch` receives the validated parameters of several calls and, for each, its
    image already resolved (crop applied) or None; it returns one result per call in
    the same order, computed in as few forward passes as the model allows. It must not
    touch Redis or Celery: the worker owns transport, validation and tracing.
    """

    function: str
    checkpoint: str

    def run_batch(self, params: list[Params], images: list[Image.Image | None]) -> list[Result]: ...
