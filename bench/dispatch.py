"""Dispatch cost of the catalogue layer and of grouped dispatch, measured side by side.

    .venv/bin/python bench/dispatch.py [--calls 2000]

1. Latency (sequential round trips) and throughput (all sent, then all collected) of
   `noop` through its queue, one message per call, versus a raw Celery echo task with
   the result backend, same broker, one worker process each. Target: ratio >= 0.8.
2. Full-stack noop calls per second through hermod with grouped dispatch (calls from one
   gather travel as one message) versus raw per-task Celery. Target: >= 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from _harness import ROOT, echo_worker, redis_and_pools

from dicec.redis_conn import async_client
from dicec.settings import get_settings

POOLS = str(ROOT / "tests" / "data" / "pools-noop.yaml")


def raw_latency(n: int) -> float:
    from worker_models.tasks import echo

    samples = []
    for i in range(n):
        t = time.perf_counter()
        echo.delay(i).get(timeout=30)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def raw_throughput(n: int) -> float:
    from worker_models.tasks import echo

    t = time.perf_counter()
    results = [echo.delay(i) for i in range(n)]
    for r in results:
        r.get(timeout=120)
    return n / (time.perf_counter() - t)


def catalogue_latency(n: int) -> float:
    from orchestrator.planning.overheads import noop_round_trip_s

    return noop_round_trip_s(get_settings(), n)


def catalogue_throughput(n: int) -> float:
    """One message per call (no grouping), replies collected from the reply list."""
    from worker_models.calls import prepare_call
    from worker_models.client import SyncCaller, send_requests
    from worker_models.wire import decode_reply

    caller = SyncCaller()
    t = time.perf_counter()
    ids = set()
    for i in range(n):
        request = prepare_call("noop", {"value": i}).request(caller.reply_to, use_cache=False)
        ids.add(request.call_id)
        send_requests("noop", [request])
    deadline = time.monotonic() + 300
    while ids and time.monotonic() < deadline:
        item = caller.redis.blpop([caller.reply_to], timeout=2)
        if item is not None:
            ids.discard(decode_reply(item[1]).call_id)
    if ids:
        raise SystemExit(f"{len(ids)} noop calls got no reply")
    return n / (time.perf_counter() - t)


async def grouped_throughput(n: int, per_gather: int) -> float:
    """hermod calls from programs that gather `per_gather` noop calls at a time."""
    from orchestrator.dispatch.dispatcher import Dispatcher
    from orchestrator.program.hermod import Hermod

    settings = get_settings().model_copy(update={"cache_enabled": False})
    aredis = async_client(settings)
    dispatcher = Dispatcher(settings, aredis)
    await dispatcher.start()
    hermod = Hermod(dispatcher)
    t = time.perf_counter()
    for start in range(0, n, per_gather):
        await asyncio.gather(
            *(hermod.call("noop", value=i) for i in range(start, min(n, start + per_gather)))
        )
    rate = n / (time.perf_counter() - t)
    await dispatcher.stop()
    await aredis.aclose()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--latency-calls", type=int, default=200)
    parser.add_argument("--per-gather", type=int, default=50)
    args = parser.parse_args()
    with redis_and_pools(POOLS), echo_worker():
        lat_raw = raw_latency(args.latency_calls)
        lat_cat = catalogue_latency(args.latency_calls)
        thr_raw = raw_throughput(args.calls)
        thr_cat = catalogue_throughput(args.calls)
        thr_grp = asyncio.run(grouped_throughput(args.calls, args.per_gather))
    print(
        f"latency    raw celery echo  {lat_raw * 1e3:7.2f} ms   "
        f"noop via catalogue {lat_cat * 1e3:7.2f} ms"
        f"   ratio (raw/catalogue) {lat_raw / lat_cat:.2f}"
    )
    print(
        f"throughput raw celery echo  {thr_raw:7.0f} /s   noop via catalogue {thr_cat:7.0f} /s"
        f"   ratio (catalogue/raw) {thr_cat / thr_raw:.2f}   target >= 0.8"
    )
    print(
        f"grouped    hermod gather of {args.per_gather}: {thr_grp:7.0f} calls/s   "
        f"vs raw per-task celery {thr_raw:7.0f} /s   ratio {thr_grp / thr_raw:.2f}   target >= 2"
    )


if __name__ == "__main__":
    main()
