"""The litter batch on two sites of one machine, measured and simulated.

The cloud site is the root network namespace: Redis, the orchestrator and the `cloud`
pool (blip2). The edge site is a namespace of its own (tests.support.netns) whose `edge`
pool (yolov8, depth) reaches Redis only through the shaping proxy (the link). The
images are stored in Redis, so they are at the cloud site: every edge call fetches its
image (yolov8: the photo; depth: only its crop, cut by the dispatcher) over the link.

Fidelity, as bench/simulator_fidelity.py does for one site, with one set of workers: the
batch first runs with the link open (the same processes, namespace and proxy, without the
link's delay and bandwidth); its traces give each function's service time on this CPU
and one per-call overhead, fitted so that the simulated open run takes its measured time.
Then the proxy shapes the link and the batch runs again on fresh images. With that
profile the simulator predicts the shaped run from its call mix and bytes, the link's
probed round-trip time and bandwidth, and the simulator's own count of round trips per
message: nothing of the shaped run's timings. The link (20 ms RTT, as the shipped
edge-cloud file's) is most of the shaped run's time, so the machine's load, which moves
the per-call overhead from one minute to the next, moves the prediction little.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import redis
import yaml
from PIL import Image

from dicec.records import CallTrace
from dicec.settings import get_settings
from orchestrator.batch.localpools import Launch, LocalPools
from orchestrator.cost.accounting import batch_cost, load_batch
from orchestrator.planning.callmix import CallMix, call_mix_from_traces
from orchestrator.planning.profiles import FunctionProfile, HardwareProfile, Profile, ServicePoint
from orchestrator.planning.simulator import (
    REMOTE_ROUND_TRIPS_AFTER,
    REMOTE_ROUND_TRIPS_BEFORE,
    SimConfig,
    simulate,
)
from tests.support.link_trace import requests_per_message
from tests.support.netns import Site
from worker_models.pools import PoolsFile

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "examples" / "litter_hermod_distributed.py"
IMAGE_SIZE = (640, 480)
LINK_MBPS = 40.0
LINK_RTT_MS = 20.0
PROXY_PORT = 16379
EDGE_GPU, CLOUD_GPU = "JetsonOrin", "A6000"
FIT_STEPS = 40
MAX_OVERHEAD_S = 1.0
SECONDS_PER_MS = 1e-3


def pools_doc(two_sites: bool) -> dict:
    edge = {"name": "edge", "gpu_type": EDGE_GPU, "functions": ["yolov8", "depth"]}
    cloud = {"name": "cloud", "gpu_type": CLOUD_GPU, "functions": ["blip2"]}
    doc = {
        "name": "two-sites" if two_sites else "one-site",
        "gpu_types": {EDGE_GPU: {"price_per_hour": 0.3}, CLOUD_GPU: {"price_per_hour": 0.8}},
        "pools": [edge, cloud],
    }
    if two_sites:
        edge["site"] = "edge"
        doc["images_at"] = "cloud"
        doc["links"] = [
            {"between": ["edge", "cloud"], "bandwidth_mbps": LINK_MBPS, "rtt_ms": LINK_RTT_MS,
             "price_per_gb": 0.05}
        ]  # fmt: skip
    return doc


def write_images(folder: Path, count: int, seed: int = 18) -> Path:
    """Photo-sized noisy PNGs (hundreds of kB each: the link has work to do)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    for i in range(count):
        base = rng.integers(0, 255, size=(height // 8, width // 8, 3), dtype=np.uint8)
        big = np.kron(base, np.ones((8, 8, 1), dtype=np.uint8))
        noise = rng.integers(0, 40, size=big.shape, dtype=np.uint8)
        Image.fromarray(big + noise).save(folder / f"litter_{i:02d}.png")
    return folder


def proxy_url(redis_url: str, site: Site) -> str:
    """The Redis URL as the edge sees it: the proxy on the root side of the veth pair."""
    parts = urlsplit(redis_url)
    netloc = f"{site.root_address}:{PROXY_PORT}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class ShapingProxy:
    """The link: tests.support.shaping_proxy in front of Redis, started open."""

    def __init__(self, stack: ExitStack, site: Site, redis_url: str, folder: Path) -> None:
        target = urlsplit(redis_url)
        self.site = site
        self.url = proxy_url(redis_url, site)
        self.trace = folder / "link-trace.txt"
        command = [
            sys.executable, "-m", "tests.support.shaping_proxy", "--open",
            "--listen", f"{site.root_address}:{PROXY_PORT}",
            "--to", f"{target.hostname}:{target.port or 6379}",
            "--mbps", str(LINK_MBPS), "--rtt-ms", str(LINK_RTT_MS),
            "--trace", str(self.trace),
        ]  # fmt: skip
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        stack.callback(_stop, self.proc)
        if self.proc.stdout is None or self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the shaping proxy did not start")

    def shape(self, shaped: bool) -> None:
        self.proc.send_signal(signal.SIGUSR1 if shaped else signal.SIGUSR2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


PROBE_PINGS = 20
PROBE = (
    "import redis, statistics, sys, time\n"
    "r = redis.Redis.from_url(sys.argv[1]); r.ping(); times = []\n"
    "for _ in range({n}):\n"
    "    t = time.perf_counter(); r.ping(); times.append(time.perf_counter() - t)\n"
    "print(statistics.median(times))\n"
)


def probe_rtt_s(site: Site, url: str) -> float:
    """The link's round-trip time as the edge sees it (a Redis PING through the proxy)."""
    code = PROBE.format(n=PROBE_PINGS)
    out = subprocess.run(
        [*site.exec_prefix(), sys.executable, "-c", code, url],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return float(out.stdout.strip())


@contextmanager
def two_site_pools(
    pools_path: Path, r: redis.Redis, log_dir: Path, folder: Path
) -> Iterator[ShapingProxy]:
    """The pools of `pools_path` started, the edge one in its own namespace reaching Redis
    through the link (open at first); stopped, and the namespace removed, afterwards."""
    from tests.support.netns import edge_site

    pools = PoolsFile.model_validate(yaml.safe_load(pools_path.read_text()))
    with edge_site() as site, ExitStack() as stack:
        redis_url = os.environ["REDIS_URL"]
        link = ShapingProxy(stack, site, redis_url, folder)
        env = (("REDIS_URL", link.url),)
        launch = {"edge": Launch(prefix=tuple(site.exec_prefix()), env=env)}
        workers = LocalPools(pools, pools_path, r, log_dir=log_dir, launch=launch)
        stack.callback(workers.stop)
        workers.start()
        workers.wait_ready()
        yield link


def run_batch(pools_path: Path, images: Path, tasks: int) -> str:
    """The litter batch on running pools, with scripts/submit_batch.py: its id."""
    command = [
        sys.executable, str(ROOT / "scripts" / "submit_batch.py"),
        "--program", str(PROGRAM), "--images", str(images), "--tasks", str(tasks),
        "--pools", str(pools_path), "--local", "no", "--no-cache", "--json",
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the batch failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout)["batch_id"]


@dataclass
class Measured:
    batch_id: str
    makespan_s: float
    mix: CallMix
    traces: list[CallTrace]
    errors: int


def measured(r: redis.Redis, batch_id: str) -> Measured:
    meta, tasks, traces = load_batch(r, batch_id)
    cost = batch_cost(meta, tasks, traces)
    mix = call_mix_from_traces(traces, tasks=meta.tasks)
    return Measured(batch_id, cost.makespan_s, mix, traces, cost.errors)


def profile_from(run: Measured, call_overhead_s: float) -> Profile:
    """This CPU's service time per function (mean over the run's calls), under both GPU
    labels, each call also paying `call_overhead_s`."""
    times: dict[str, list[float]] = defaultdict(list)
    for t in run.traces:
        if t.started_at is not None and not t.cached:
            times[t.function].append(t.service_s)
    functions = {
        f: FunctionProfile(points=[ServicePoint(batch_size=1, service_s=max(1e-4, np.mean(v)))])
        for f, v in times.items()
    }
    hw = HardwareProfile(
        price_per_hour=0.0, device="cpu", call_overhead_s=call_overhead_s, functions=functions
    )
    return Profile(name="two-sites", measured=True, hardware={EDGE_GPU: hw, CLOUD_GPU: hw})


def fit_overhead(run: Measured, pools: PoolsFile, config: SimConfig) -> float:
    """The per-call overhead that makes the simulated one-site run take its measured time."""
    lo, hi = 0.0, MAX_OVERHEAD_S
    for _ in range(FIT_STEPS):
        mid = (lo + hi) / 2
        sim = simulate(run.mix, profile_from(run, mid), pools, config)
        lo, hi = (mid, hi) if sim.makespan_s < run.makespan_s else (lo, mid)
    return (lo + hi) / 2


def with_shipped_bytes(run: Measured) -> CallMix:
    """The run's call mix, each call carrying the bytes that crossed the link to it."""
    shipped: dict[int, list[tuple[str, int]]] = defaultdict(list)
    ordered = sorted(
        (t for t in run.traces if t.task_index is not None and not t.cached),
        key=lambda t: t.queued_at,
    )
    for t in ordered:
        shipped[t.task_index or 0].append((t.function, t.transfer_bytes))
    mix = run.mix.model_copy(deep=True)
    for index, task in enumerate(mix.tasks):
        sizes = shipped.get(index, [])
        for call, (function, size) in zip(task.calls, sizes, strict=False):
            if call.function != function:
                raise ValueError(f"task {index}: traces and call mix disagree on call order")
            call.image_bytes = size
    return mix


@contextmanager
def private_site_redis() -> Iterator[redis.Redis]:
    """A Redis of the test's own (loopback, free port) for both sites, so that no other
    worker consuming the same function queues (a test session's pools) takes the calls;
    REDIS_URL points at it meanwhile (workers and submit_batch inherit it)."""
    from tests.support.redis_server import private_redis

    before = os.environ.get("REDIS_URL")
    with private_redis(appendonly=False) as server:
        os.environ["REDIS_URL"] = server.url
        get_settings.cache_clear()
        try:
            yield redis.Redis.from_url(server.url)
        finally:
            if before is None:
                os.environ.pop("REDIS_URL", None)
            else:
                os.environ["REDIS_URL"] = before
            get_settings.cache_clear()


# Requests the edge sends per message, image GETs aside: the round trips the simulator
# waits for, and the task-started event, sent while the model runs.
REQUESTS_PER_MESSAGE = REMOTE_ROUND_TRIPS_BEFORE + REMOTE_ROUND_TRIPS_AFTER + 1


@dataclass
class Fidelity:
    local: Measured
    far: Measured
    overhead_s: float
    predicted_s: float
    rtt_s: float
    requests_per_message: float  # counted in the proxy's trace of the shaped run
    messages: int
    overheads_s: tuple[float, ...] = ()

    @property
    def error(self) -> float:
        return (self.predicted_s - self.far.makespan_s) / self.far.makespan_s

    def line(self) -> str:
        fits = "/".join(f"{1000 * o:.1f}" for o in self.overheads_s)
        return (
            f"link open {self.local.makespan_s:.2f} s; shaped: measured "
            f"{self.far.makespan_s:.2f} s, simulated {self.predicted_s:.2f} s, error "
            f"{100 * self.error:+.1f} % (per-call overhead fitted open: {fits} ms; link RTT "
            f"probed {1000 * self.rtt_s:.1f} ms; {self.messages} messages over the link, "
            f"{self.requests_per_message:g} requests each besides image GETs, modelled "
            f"{REQUESTS_PER_MESSAGE:g})"
        )


def measure_fidelity(
    r: redis.Redis,
    folder: Path,
    tasks: int,
    images: int,
    log_dir: Path,
    cores: float,
    bracket: bool = False,
) -> Fidelity:
    """Run the batch with the link open, then shaped, and predict the second from the
    first. `bracket`: an open run after the shaped one too, the fitted overhead the mean
    of both (the machine's load drifts). Each run has images of its own, so that the
    shaped run's edge worker has decoded none of them before."""
    pictures = [write_images(folder / f"images-{i}", images, seed=18 + i) for i in range(3)]
    doc = pools_doc(True)
    pools_path = folder / f"{doc['name']}.yaml"
    pools_path.write_text(yaml.safe_dump(doc, sort_keys=False))
    config = SimConfig(host_slots=cores)
    one_site = PoolsFile.model_validate(pools_doc(False))
    opens = []
    with two_site_pools(pools_path, r, log_dir, folder) as link:
        opens.append(measured(r, run_batch(pools_path, pictures[0], tasks)))
        link.shape(True)
        rtt_s = probe_rtt_s(link.site, link.url)
        shaped_at = time.monotonic()
        far = measured(r, run_batch(pools_path, pictures[1], tasks))
        per_message, messages = requests_per_message(link.trace, since=shaped_at)
        if bracket:
            link.shape(False)
            opens.append(measured(r, run_batch(pools_path, pictures[2], tasks)))
    fits = tuple(fit_overhead(run, one_site, config) for run in opens)
    overhead_s = sum(fits) / len(fits)
    two = PoolsFile.model_validate(doc)
    two.links[0].rtt_ms = rtt_s / SECONDS_PER_MS  # the link as it is on this machine now
    sim = simulate(with_shipped_bytes(far), profile_from(opens[0], overhead_s), two, config)
    return Fidelity(opens[0], far, overhead_s, sim.makespan_s, rtt_s, per_message, messages, fits)
