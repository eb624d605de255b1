"""What a worker process does with a message: validate each call, resolve its images,
run the model on the whole chunk at once, and push one reply per call.

This is the one place for the cross-cutting concerns of a call on the worker side:
validation, timing, tracing fields, error isolation (one bad call never fails its
neighbours) and the reply.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis
from pydantic import ValidationError

from dicec import keys
from dicec.errors import BadImageError, ConfigError, CrashLoopError, DicecError
from dicec.redis_conn import sync_client
from dicec.settings import Settings, env_name, get_settings
from worker_models.backends.base import Backend
from worker_models.callcache import CallCache, cache_digest
from worker_models.calls import describe_validation_error
from worker_models.catalogue import Params, Result, get_spec
from worker_models.imageref import ImageStore
from worker_models.images import BOMB_ERRORS, DECODE_ERRORS
from worker_models.modelthread import ModelThread
from worker_models.pools import Pool, load_pools
from worker_models.wire import CallReply, CallRequest, parse_requests

log = logging.getLogger(__name__)

# A message's replies go back in one push, or every REPLY_FLUSH_S while its chunks run.
REPLY_FLUSH_S = 0.005
# A call of a redelivered message that has started this often without an answer (its
# process died each time) is refused instead of run: it would kill every worker in turn.
MAX_CRASH_STARTS = 3
# Replies that cannot be pushed (Redis away, full or read-only) are retried this long.
REPLY_PUSH_LIMIT_S = 180.0
REPLY_RETRY_FIRST_S = 0.25
REPLY_RETRY_MAX_S = 4.0


class FunctionService:
    """The models of one pool, loaded once in this process, and the call handler."""

    def __init__(
        self,
        pool: Pool,
        gpu_type: str,
        backends: dict[str, Backend],
        store: ImageStore,
        r: redis.Redis,
        cache: CallCache | None = None,
        checkpoint_ids: dict[str, str] | None = None,
        model_thread: ModelThread | None = None,
    ) -> None:
        self.pool = pool
        self.gpu_type = gpu_type
        self.backends = backends
        self.store = store
        self.redis = r
        self.cache = cache
        self.checkpoint_ids = checkpoint_ids or {}
        self.model_thread = model_thread  # where the models run (none: in the caller)

    # -- the handler -------------------------------------------------------------------
    def handle(self, function: str, payload: Any, worker: str, redelivered: bool = False) -> None:
        """Serve one message's calls. `redelivered`: the broker handed it out before and it
        was never acked, so a process holding it died (or lost its connection)."""
        try:
            requests, undecodable = parse_requests(payload)
        except DicecError as exc:
            log.error("dropping poison message on queue %s: %s", function, exc)
            return
        for problem, item in undecodable:
            self._reply_to_undecodable(item, problem, worker)
        if redelivered:
            self._handle_suspects(function, requests, worker)
            return
        size = self.pool.batching_for(function).max_batch_size
        pending: list[tuple[CallRequest, CallReply]] = []
        last_push = time.monotonic()
        for chunk in _chunks(requests, size):
            pending.extend(zip(chunk, self.serve_chunk(function, chunk, worker), strict=True))
            # One push per message, not a round trip per call; a message whose chunks
            # take long still returns what it has every REPLY_FLUSH_S.
            if time.monotonic() - last_push >= REPLY_FLUSH_S:
                self._push(pending)
                pending, last_push = [], time.monotonic()
        if pending:
            self._push(pending)

    def _handle_suspects(self, function: str, requests: list[CallRequest], worker: str) -> None:
        """Each chunk's calls are counted in Redis before it runs and cleared with their
        replies, so a count left behind means "was running when its process died". Calls
        with such a count run alone, which singles out a call that kills its process from
        its neighbours; it is refused once MAX_CRASH_STARTS runs have died."""
        crash_keys = [keys.crash_key(r.call_id) for r in requests]
        prior = [int(n or 0) for n in self.redis.mget(crash_keys)]
        size = self.pool.batching_for(function).max_batch_size
        clean = [r for r, n in zip(requests, prior, strict=True) if n == 0]
        chunks = list(_chunks(clean, size))
        for req, crashed in zip(requests, prior, strict=True):
            if crashed + 1 >= MAX_CRASH_STARTS:
                self._refuse(function, req, crashed + 1, worker)
            elif crashed:
                chunks.append([req])
        for chunk in chunks:
            counted = [keys.crash_key(r.call_id) for r in chunk]
            pipe = self.redis.pipeline(transaction=False)
            for key in counted:
                pipe.incr(key)
                pipe.expire(key, keys.CRASH_TTL_S)
            pipe.execute()
            replies = self.serve_chunk(function, chunk, worker)
            self._push(list(zip(chunk, replies, strict=True)), clear=counted)

    def _refuse(self, function: str, req: CallRequest, runs: int, worker: str) -> None:
        log.error("refusing call %s on %s: %d runs of it died", req.call_id, function, runs)
        crashes = CrashLoopError(
            f"{function}: this call was handed out {runs} times and never answered (the "
            "worker process running it died each time); it is not run again"
        )
        reply = self._error(req, crashes, worker, time.time())
        self._push([(req, reply)], clear=[keys.crash_key(req.call_id)])

    def serve_chunk(self, function: str, chunk: list[CallRequest], worker: str) -> list[CallReply]:
        """Replies to these calls, in order; the model runs once for all the valid ones, and
        once for identical cacheable calls (the twins share the first one's reply)."""
        started = time.time()
        replies: dict[str, CallReply] = {}
        ready: list[tuple[CallRequest, Params, Any]] = []
        pixels: dict[str, Any] = {}  # ref -> image: calls on one crop get the same object
        for req in chunk:
            try:
                params, image = self._prepare(function, req, pixels)
                ready.append((req, params, image))
            except DicecError as exc:
                replies[req.call_id] = self._error(req, exc, worker, started)
        ready, digests = self._serve_cached(function, ready, replies, worker, started)
        ready, twins = _split_twins(ready, digests)
        fresh: dict[str, dict[str, Any]] = {}
        for req, result in self._run(function, ready):
            reply = self._reply(req, result, worker, started, len(ready))
            replies[req.call_id] = reply
            for twin in twins.get(req.call_id, []):
                replies[twin] = reply.model_copy(
                    update={"call_id": twin, "cached": True, "batch_size": 1}
                )
            if reply.ok and req.call_id in digests:
                fresh[digests[req.call_id]] = reply.result or {}
        if self.cache is not None:
            self.cache.put_many(fresh)
        return [self._placed(req, replies[req.call_id]) for req in chunk]

    def _placed(self, req: CallRequest, reply: CallReply) -> CallReply:
        """The reply with this pool's site, what the call's images weigh on a link, and
        the image bytes this call really read from Redis (0 if already decoded here)."""
        weighed = fetched = 0
        with contextlib.suppress(DicecError):
            for name in get_spec(req.function).image_params():
                ref = req.params.get(name)
                if isinstance(ref, str):
                    weighed += self.store.payload_bytes(ref)
                    fetched += self.store.claim_fetched(ref)
        update = {"site": self.pool.site, "image_bytes": weighed, "fetched_bytes": fetched}
        return reply.model_copy(update=update)

    def _reply(
        self, req: CallRequest, result: Result | Exception, worker: str, started: float, size: int
    ) -> CallReply:
        if isinstance(result, Exception):
            return self._error(req, result, worker, started)
        return CallReply(
            call_id=req.call_id,
            ok=True,
            result=result.model_dump(by_alias=True),
            pool=self.pool.name,
            worker=worker,
            started_at=started,
            finished_at=time.time(),
            batch_size=size,
        )

    def _serve_cached(
        self,
        function: str,
        ready: list[tuple[CallRequest, Params, Any]],
        replies: dict[str, CallReply],
        worker: str,
        started: float,
    ) -> tuple[list[tuple[CallRequest, Params, Any]], dict[str, str]]:
        """Answer the calls the cache knows; return the rest and their cache digests."""
        if self.cache is None:
            return ready, {}
        checkpoint = self.checkpoint_ids.get(function, "")
        digests = {
            req.call_id: cache_digest(function, checkpoint, req.params)
            for req, _, _ in ready
            if req.use_cache
        }
        hits = dict(zip(digests, self.cache.get_many(list(digests.values())), strict=True))
        misses = []
        for item in ready:
            req = item[0]
            cached = hits.get(req.call_id)
            if cached is None:
                misses.append(item)
                continue
            replies[req.call_id] = CallReply(
                call_id=req.call_id,
                ok=True,
                result=cached,
                pool=self.pool.name,
                worker=worker,
                started_at=started,
                finished_at=time.time(),
                cached=True,
            )
        return misses, digests

    def _prepare(
        self, function: str, req: CallRequest, pixels: dict[str, Any]
    ) -> tuple[Params, Any]:
        spec = get_spec(req.function)
        if req.function != function:
            raise ConfigError(f"call for {req.function!r} arrived on queue {function!r}")
        try:
            params = spec.params.model_validate(req.params)
        except ValidationError as exc:
            from dicec.errors import CallValidationError

            raise CallValidationError(describe_validation_error(function, exc)) from None
        image = None
        for name in spec.image_params():
            ref = getattr(params, name)
            if ref is not None:
                if ref not in pixels:
                    pixels[ref] = self._resolve(function, ref)
                image = pixels[ref]
        return params, image

    def _resolve(self, function: str, ref: str) -> Any:
        """A call's pixels; whatever PIL or numpy raises on them is this call's BadImageError
        (a bomb, a bad box, a failed decode), never the whole message's."""
        try:
            return self.store.resolve(ref)
        except DicecError:
            raise
        except (*BOMB_ERRORS, *DECODE_ERRORS, MemoryError) as exc:
            raise BadImageError(f"{function}: cannot read image {ref[:80]}: {exc}") from None

    def _run(
        self, function: str, ready: list[tuple[CallRequest, Params, Any]]
    ) -> Iterator[tuple[CallRequest, Result | Exception]]:
        if not ready:
            return
        backend = self.backends[function]

        def run() -> list[Result]:
            return backend.run_batch([p for _, p, _ in ready], [i for _, _, i in ready])

        try:
            results = self.model_thread.run(run) if self.model_thread else run()
            yield from ((req, res) for (req, _, _), res in zip(ready, results, strict=True))
        except Exception as exc:  # noqa: BLE001 - isolate the call that broke the batch
            if len(ready) == 1:
                yield ready[0][0], exc
                return
            for item in ready:
                yield from self._run(function, [item])

    # -- replies -----------------------------------------------------------------------
    def _error(self, req: CallRequest, exc: Exception, worker: str, started: float) -> CallReply:
        return CallReply(
            call_id=req.call_id,
            ok=False,
            error=str(exc) or type(exc).__name__,
            error_type=type(exc).__name__,
            pool=self.pool.name,
            worker=worker,
            started_at=started,
            finished_at=time.time(),
        )

    def _push(self, pairs: list[tuple[CallRequest, CallReply]], clear: Sequence[str] = ()) -> None:
        """Push replies (one RPUSH and one EXPIRE per reply list: a message's calls mostly
        share one); while Redis is away or refuses writes (full, read-only), retry with
        back-off for up to REPLY_PUSH_LIMIT_S instead of dropping computed work (a retry
        after a lost acknowledgement may push twice: dropped by call id)."""
        by_list: dict[str, list[str]] = {}
        for req, reply in pairs:
            by_list.setdefault(req.reply_to, []).append(reply.model_dump_json())
        delay, deadline, said = REPLY_RETRY_FIRST_S, time.monotonic() + REPLY_PUSH_LIMIT_S, False
        while True:
            pipe = self.redis.pipeline(transaction=False)
            for reply_to, raw in by_list.items():
                pipe.rpush(reply_to, *raw)
                pipe.expire(reply_to, keys.REPLY_TTL_S)
            if clear:
                pipe.delete(*clear)
            try:
                pipe.execute()
                if said:
                    log.warning("replies pushed again after Redis came back")
                return
            except redis.RedisError as exc:
                if time.monotonic() >= deadline:
                    raise
                if not said:
                    log.warning("cannot push %d replies (%s); retrying", len(pairs), exc)
                    said = True
                time.sleep(delay)  # Redis is away: nothing to wait on but time
                delay = min(delay * 2, REPLY_RETRY_MAX_S)

    def _reply_to_undecodable(self, item: Any, problem: str, worker: str) -> None:
        """A request we cannot trust still gets an answer if it says where to send it."""
        if not (
            isinstance(item, dict)
            and isinstance(item.get("call_id"), str)
            and isinstance(item.get("reply_to"), str)
            and item["reply_to"].startswith(keys.reply_key(""))
        ):
            log.error("dropping undecodable call request: %s", problem)
            return
        reply = CallReply(
            call_id=item["call_id"],
            ok=False,
            error=problem,
            error_type="WireFormatError",
            pool=self.pool.name,
            worker=worker,
        )
        self.redis.rpush(item["reply_to"], reply.model_dump_json())


def _split_twins(
    ready: list[tuple[CallRequest, Params, Any]], digests: dict[str, str]
) -> tuple[list[tuple[CallRequest, Params, Any]], dict[str, list[str]]]:
    """Keep the first of each set of identical cacheable calls; map it to its twins' ids."""
    first: dict[str, str] = {}  # digest -> call id that runs
    twins: dict[str, list[str]] = {}
    kept = []
    for item in ready:
        call_id = item[0].call_id
        digest = digests.get(call_id)
        if digest is not None and digest in first:
            twins.setdefault(first[digest], []).append(call_id)
            continue
        if digest is not None:
            first[digest] = call_id
        kept.append(item)
    return kept, twins


def _chunks(items: list[CallRequest], size: int) -> Iterator[list[CallRequest]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


_SERVICE: FunctionService | None = None


def build_service(pool_name: str, pools_file: str | None, settings: Settings) -> FunctionService:
    return build_service_for_pool(load_pools(pools_file).pool(pool_name), settings)


def build_service_for_pool(pool: Pool, settings: Settings) -> FunctionService:
    from worker_models.loading import checkpoint_id, load_backend

    backends = {fn: load_backend(fn, settings, device=pool.device) for fn in pool.functions}
    r = sync_client(settings)
    ids = {fn: checkpoint_id(fn, settings) for fn in pool.functions}
    cache = CallCache(r, settings.cache_ttl_s) if settings.cache_enabled else None
    store = ImageStore(r)
    return FunctionService(pool, pool.gpu_type, backends, store, r, cache, ids, ModelThread())


def set_service(service: FunctionService) -> None:
    global _SERVICE
    _SERVICE = service


def current_service() -> FunctionService:
    """This process's service; built on first use if no start-up hook built it."""
    if _SERVICE is None:
        settings = get_settings()
        pool = settings.pool
        if not pool:
            raise ConfigError(
                "this process serves no pool: start it with `dicec worker --pool NAME` "
                f"({env_name('pool')} unset)"
            )
        set_service(
            build_service(pool, str(settings.pools_file) if settings.pools_file else None, settings)
        )
    assert _SERVICE is not None
    return _SERVICE
