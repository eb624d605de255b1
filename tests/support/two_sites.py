"""The litter batch on two sites of one machine, measured and simulated.

The cloud site is the root network namespace: Redis, the orchestrator and the `cloud`
pool (blip2). The edge site is a namespace of its own (tests.support.netns) whose `edge`
pool (yolov8, depth) reaches Redis only through the shaping proxy (the link). The
images are stored in Redis, so they are at the cloud site: every edge call fetches its
image (yolov8: the photo; depth: only its crop, cut by the dispatcher) over the link.

Fidelity, as bench/simulator_fidelity.py does for one site: the same batch first runs on
one site (no link); its traces give each function's service time on this CPU and one
per-call overhead, fitted so that the simulated one-site makespan matches the measured
one. With that profile the simulator then predicts the two-site run from its call mix
and bytes, and the link's bandwidth and latency: nothing of the two-site run's timings.
"""

from __future__ import annotations

import json
import os
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
from orchestrator.planning.simulator import SimConfig, simulate
from tests.support.netns import Site
from tests.support.shaping_proxy import STATS_EVERY_S
from worker_models.pools import PoolsFile

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "examples" / "litter_hermod_distributed.py"
IMAGE_SIZE = (640, 480)
LINK_MBPS = 40.0
LINK_RTT_MS = 4.0
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


def start_proxy(stack: ExitStack, site: Site, redis_url: str, stats: Path) -> None:
    target = urlsplit(redis_url)
    command = [
        sys.executable, "-m", "tests.support.shaping_proxy",
        "--listen", f"{site.root_address}:{PROXY_PORT}",
        "--to", f"{target.hostname}:{target.port or 6379}",
        "--mbps", str(LINK_MBPS), "--rtt-ms", str(LINK_RTT_MS), "--stats", str(stats),
    ]  # fmt: skip
    proxy = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    stack.callback(_stop, proxy)
    if proxy.stdout is None or proxy.stdout.readline().strip() != "ready":
        raise RuntimeError("the shaping proxy did not start")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class LinkSeen:
    """The link as the edge saw it during a batch: its round-trip time through the proxy
    (a probe, on this loaded machine), and the requests the edge sent over it."""

    rtt_s: float = 0.0
    requests: int = 0


PROBE_PINGS = 20
PROBE = (
    "import redis, statistics, sys, time\n"
    "r = redis.Redis.from_url(sys.argv[1]); r.ping(); times = []\n"
    "for _ in range({n}):\n"
    "    t = time.perf_counter(); r.ping(); times.append(time.perf_counter() - t)\n"
    "print(statistics.median(times))\n"
)


def probe_rtt_s(site: Site, url: str) -> float:
    code = PROBE.format(n=PROBE_PINGS)
    out = subprocess.run(
        [*site.exec_prefix(), sys.executable, "-c", code, url],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return float(out.stdout.strip())


def _requests(stats: Path) -> int:
    return int(json.loads(stats.read_text())["up_chunks"]) if stats.exists() else 0


def run_batch(
    pools_path: Path,
    images: Path,
    tasks: int,
    r: redis.Redis,
    log_dir: Path,
    edge: Site | None = None,
) -> tuple[str, LinkSeen]:
    """Start the pools (the edge one inside `edge`, through the link), run the batch with
    scripts/submit_batch.py, stop the pools; the batch id and what the link saw."""
    pools = PoolsFile.model_validate(yaml.safe_load(pools_path.read_text()))
    launch = {}
    seen = LinkSeen()
    stats = pools_path.with_suffix(".link.json")
    with ExitStack() as stack:
        if edge is not None:
            redis_url = os.environ["REDIS_URL"]
            start_proxy(stack, edge, redis_url, stats)
            env = (("REDIS_URL", proxy_url(redis_url, edge)),)
            launch["edge"] = Launch(prefix=tuple(edge.exec_prefix()), env=env)
        workers = LocalPools(pools, pools_path, r, log_dir=log_dir, launch=launch)
        stack.callback(workers.stop)
        workers.start()
        workers.wait_ready()
        if edge is not None:
            seen.rtt_s = probe_rtt_s(edge, proxy_url(os.environ["REDIS_URL"], edge))
            time.sleep(2 * STATS_EVERY_S)  # the proxy's count, after the probe
            before = _requests(stats)
        command = [
            sys.executable, str(ROOT / "scripts" / "submit_batch.py"),
            "--program", str(PROGRAM), "--images", str(images), "--tasks", str(tasks),
            "--pools", str(pools_path), "--local", "no", "--no-cache", "--json",
        ]  # fmt: skip
        out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
        if out.returncode != 0:
            raise RuntimeError(f"the batch failed:\n{out.stderr[-3000:]}")
        if edge is not None:
            time.sleep(2 * STATS_EVERY_S)
            seen.requests = _requests(stats) - before
        return json.loads(out.stdout)["batch_id"], seen


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


@dataclass
class Fidelity:
    local: Measured
    far: Measured
    overhead_s: float
    predicted_s: float
    rtt_s: float = 0.0
    round_trips: float = 0.0

    @property
    def error(self) -> float:
        return (self.predicted_s - self.far.makespan_s) / self.far.makespan_s

    def line(self) -> str:
        return (
            f"one site {self.local.makespan_s:.2f} s; two sites measured "
            f"{self.far.makespan_s:.2f} s, simulated {self.predicted_s:.2f} s, error "
            f"{100 * self.error:+.1f} % (per-call overhead fitted on one site: "
            f"{1000 * self.overhead_s:.1f} ms; link RTT probed {1000 * self.rtt_s:.1f} ms, "
            f"{self.round_trips:.1f} requests per edge call)"
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
    """Run the batch on one site, then on two (edge in a namespace, over the link), and
    predict the second from the first. `bracket`: one-site runs before and after, the
    fitted overhead their mean (the machine's load drifts between runs)."""
    from tests.support.netns import edge_site

    pictures = write_images(folder / "images", images)
    paths = {}
    for two in (False, True):
        doc = pools_doc(two)
        paths[two] = folder / f"{doc['name']}.yaml"
        paths[two].write_text(yaml.safe_dump(doc, sort_keys=False))
    config = SimConfig(host_slots=cores)
    one_site = PoolsFile.model_validate(pools_doc(False))
    local = measured(r, run_batch(paths[False], pictures, tasks, r, log_dir)[0])
    fits = [fit_overhead(local, one_site, config)]
    with edge_site() as site:
        far_id, link = run_batch(paths[True], pictures, tasks, r, log_dir, edge=site)
    far = measured(r, far_id)
    if bracket:
        after = measured(r, run_batch(paths[False], pictures, tasks, r, log_dir)[0])
        fits.append(fit_overhead(after, one_site, config))
    overhead_s = sum(fits) / len(fits)
    two = PoolsFile.model_validate(pools_doc(True))
    # The link as measured: its RTT through the proxy, its requests per edge call.
    two.links[0].rtt_ms = link.rtt_s / SECONDS_PER_MS
    edge_calls = sum(1 for t in far.traces if t.site == "edge" and not t.cached)
    trips = link.requests / max(1, edge_calls)
    config = config.model_copy(update={"remote_round_trips": trips})
    sim = simulate(with_shipped_bytes(far), profile_from(local, overhead_s), two, config)
    return Fidelity(local, far, overhead_s, sim.makespan_s, link.rtt_s, trips)
