"""A pool's models in a process of their own, answering calls as JSON lines.

The baseline node keeps several tasks in flight: while one task's call runs, the others
arrive, start their jailed children and run up to their next calls. That work is Python in
the node's process. Beside the models in one process it contends with them for the
GIL: a BLIP call (224 px, batch 1) beside a thread doing 0.3-ms Python bursts every
4 ms cost 1.13x and 1.08x its CPU alone in two runs, beside a process doing the same
1.01x and 1.01x (a third run, in noisier minutes, showed neither: 0.90x, 0.89x;
bench/gil_contention.py). A model that crashes takes only this process down, too. So
the models get a process whose one thread does nothing else.

    python -m worker_models.modelserver '<Pool as JSON>'

reads one ServerCall per line on stdin and writes one CallReply per line on stdout, in
order (one call at a time, at a shallow stack). Its first line says it is ready; the
real stdout is kept for the protocol and fd 1 points at stderr, so a library that
prints cannot break a line. The node, not this process, publishes the functions and
the heartbeat, once its jail is up too. `ModelServer` is the asyncio client: calls may
be sent before the last returns (the next one waits in the pipe, so the models never
wait for the node), and a server that dies is started again, with its calls in flight
sent again once.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import sys
from typing import Literal

from pydantic import BaseModel

from dicec.errors import CallFailedError, DicecError
from dicec.keys import WIRE_SCHEMA_VERSION
from worker_models.pools import Pool
from worker_models.wire import CallReply, CallRequest

log = logging.getLogger(__name__)

READY = b'{"ready": true}\n'
LINE_LIMIT = 64 * 1024 * 1024  # a reply line; results are small, but never cut one
STOP_GRACE_S = 5.0


class ServerCall(BaseModel):
    v: Literal[1] = WIRE_SCHEMA_VERSION
    request: CallRequest  # names its function
    worker: str


class ModelServerGone(DicecError):
    """The model process exited (crashed, killed) with calls in flight."""


# -- the server process --------------------------------------------------------------------
def serve(pool: Pool) -> None:
    from dicec.settings import get_settings
    from worker_models.service import build_service_for_pool

    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # print() and chatty libraries go to stderr, never into a reply
    sys.stdout = sys.stderr
    service = build_service_for_pool(pool, get_settings())
    service.model_thread = None  # this process's main thread is the model thread
    protocol.write(READY)
    protocol.flush()
    for line in sys.stdin.buffer:
        call = ServerCall.model_validate_json(line)
        (reply,) = service.serve_chunk(call.request.function, [call.request], call.worker)
        protocol.write(reply.model_dump_json().encode() + b"\n")
        protocol.flush()


# -- the client, on the node's event loop ----------------------------------------------------
class ModelServer:
    """Starts the model process and sends it calls; one instance per node."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._proc: asyncio.subprocess.Process | None = None
        # The calls sent to the current process and not yet answered, oldest first; each
        # process has its own, so a dead one's calls are never answered by the next.
        self._waiting: collections.deque[asyncio.Future[CallReply]] = collections.deque()
        self._readers: set[asyncio.Task[None]] = set()
        self._starting: asyncio.Lock | None = None
        self.restarts = 0

    async def start(self) -> None:
        """Start the process and wait until its models are loaded (as long as a Celery
        pool process may take to load them)."""
        from worker_models.app import WORKER_PROC_ALIVE_TIMEOUT_S

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", __name__, self.pool.model_dump_json(),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            first = await asyncio.wait_for(proc.stdout.readline(), WORKER_PROC_ALIVE_TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            raise
        if first != READY:
            await proc.wait()
            raise ModelServerGone(
                f"the model process exited with code {proc.returncode} before loading its "
                "models (the node's log says why, just above)"
            )
        self._proc, self._waiting = proc, collections.deque()
        reader = asyncio.create_task(self._read(proc, self._waiting), name="dicec-model-replies")
        self._readers.add(reader)
        reader.add_done_callback(self._readers.discard)

    async def serve(self, request: CallRequest, worker: str) -> CallReply:
        """The reply to one call; sent again once if the process dies under it."""
        call = ServerCall(request=request, worker=worker)
        for attempt in (1, 2):
            proc = await self._running()
            try:
                return await self._send(proc, self._waiting, call)
            except ModelServerGone as exc:
                if attempt == 2:
                    raise CallFailedError(
                        f"{request.function} failed: the node's model process died twice "
                        f"under this call ({exc})"
                    ) from exc
                log.warning("model process died (%s): starting it again", exc)
        raise AssertionError("unreachable")

    async def _running(self) -> asyncio.subprocess.Process:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:  # calls that met one death start one process
            if self._proc is None or self._proc.returncode is not None:
                if self._proc is not None:
                    self.restarts += 1
                await self.start()
        assert self._proc is not None
        return self._proc

    @staticmethod
    async def _send(
        proc: asyncio.subprocess.Process,
        waiting: collections.deque[asyncio.Future[CallReply]],
        call: ServerCall,
    ) -> CallReply:
        assert proc.stdin is not None
        future: asyncio.Future[CallReply] = asyncio.get_running_loop().create_future()
        waiting.append(future)
        try:
            proc.stdin.write(call.model_dump_json().encode() + b"\n")
            await proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader fails every call of this process once it sees the end
        return await future

    @staticmethod
    async def _read(
        proc: asyncio.subprocess.Process, waiting: collections.deque[asyncio.Future[CallReply]]
    ) -> None:
        """Replies come back in the order the calls went: each answers the oldest."""
        assert proc.stdout is not None
        while line := await proc.stdout.readline():
            reply = CallReply.model_validate_json(line)
            future = waiting.popleft()
            if not future.done():
                future.set_result(reply)
        code = await proc.wait()
        while waiting:
            future = waiting.popleft()
            if not future.done():
                future.set_exception(ModelServerGone(f"exit code {code}"))

    async def close(self) -> None:
        """End the process (end of input, then a kill after STOP_GRACE_S)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), STOP_GRACE_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
        await asyncio.gather(*self._readers, return_exceptions=True)

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid


def _main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    # A Ctrl-C of the node's terminal, or a node gone while a reply was written to it:
    # either way nobody reads this process any more.
    with contextlib.suppress(KeyboardInterrupt, BrokenPipeError):
        try:
            serve(Pool.model_validate_json(sys.argv[1]))
        except DicecError as exc:  # a checkpoint missing, a model that will not load
            print(f"model process: {exc}", file=sys.stderr)
            raise SystemExit(1) from None


if __name__ == "__main__":
    _main()
