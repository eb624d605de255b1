"""Predict makespan, utilisation and cost of a batch for a pool plan, from a profile.

`simulate(mix, profile, plan)` replays the batch's call mix (orchestrator.planning.callmix) on the
plan's pools: distributed (a PoolsFile: per-function queues, pools of replicas x
concurrency servers, batching) or baseline (`BaselinePlan`: N monolith nodes, each
running whole tasks with every call in program order). The orchestrator runs at most
`max_concurrent_tasks` tasks at once. Service times come from the profile; the engine is
orchestrator.planning.sim_engine. Nodes are billed for the whole run, as in the paper.

The system's own costs come from the profile too: `orchestrator_call_s` is CPU the one
orchestrator process spends per call (a FIFO on one core: its own machine, or the shared
host of a local run), `call_overhead_s` is what a worker spends per call besides the model,
`broker_call_s` is Redis's CPU per call (another one-core FIFO), and
`dispatch_overhead_s` is the latency from issue to queue.

Sites: Redis and the orchestrator run at the pools file's broker site (`broker_at`,
default where the batch's images are). Images taken at another site are uploaded to it
once per task before the task starts (one round trip and the photo's bytes, the largest
image any of its calls reads). A pool at another site than the broker talks to Redis over
the link between the two: per message, the round trips a Celery worker waits for
(SimConfig.remote_round_trips before the model, remote_round_trips_after it; counted
through the two-site test's proxy), one more per image it fetches, and the images' bytes
at the link's bandwidth, shared by the transfers in flight at once (processor sharing,
like a device). The server is held all along; the caller has its reply half a round trip
after the model ran. Bytes are billed at the link's price per GB
(SimResult.transfer_usd, part of cost_usd).
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dicec.errors import ConfigError
from dicec.settings import MAX_CONCURRENT_TASKS
from orchestrator.planning.callmix import CallMix
from orchestrator.planning.profiles import Profile
from orchestrator.planning.sim_engine import (
    Action,
    Batching,
    Clock,
    Device,
    Message,
    Replica,
    SerialProcess,
    Server,
    SimCall,
    SimTask,
)
from orchestrator.planning.sim_stats import SimResult, TransferTally, build_result
from worker_models.pools import PoolsFile

BatchingScope = Literal["dynamic", "message", "flush"]
DEFAULT_MAX_CONCURRENT_TASKS = MAX_CONCURRENT_TASKS
SECONDS_PER_MS = 1e-3
# A worker at another site than Redis waits on the link for each message, as counted
# through the shaping proxy (docs/edge-cloud.md, "Round trips"): before the model runs,
# the fetch (BRPOP), kombu's unacked record and the task-received event; after it, the
# reply push, the ack and the task-succeeded event. Each image it fetches is one more;
# the task-started event goes out while the model runs and costs no wait.
REMOTE_ROUND_TRIPS_BEFORE = 3.0
REMOTE_ROUND_TRIPS_AFTER = 3.0
# The caller has a reply when the push arrives: half a round trip after it leaves.
REPLY_ROUND_TRIPS = 0.5
# A message served in several chunks pushes the replies of each chunk but the last.
REPLY_PUSH_ROUND_TRIPS = 1.0


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_concurrent_tasks: int = Field(default=DEFAULT_MAX_CONCURRENT_TASKS, ge=1)
    dispatch_overhead_s: float | None = Field(
        default=None, ge=0.0, description="per call, issue to queue; None: the profile's"
    )
    baseline_call_overhead_s: float = Field(default=0.0, ge=0.0)
    task_overhead_s: float = Field(default=0.0, ge=0.0, description="per task, before its calls")
    batching_scope: BatchingScope = Field(
        default="dynamic",
        description="dynamic: any queued calls of a function batch together; message: only "
        "the calls one task issued together (one Celery message, served in chunks); flush: "
        "what the workers do (celery-batches): up to max_batch_size whole messages, their "
        "calls served in chunks",
    )
    host_slots: float | None = Field(
        default=None,
        ge=1.0,
        description="all replicas share one machine of this many cores (a local run)",
    )
    remote_round_trips: float = Field(
        default=REMOTE_ROUND_TRIPS_BEFORE,
        ge=0.0,
        description="link round trips a message served at another site waits for before "
        "its model runs, besides one per image it fetches",
    )
    remote_round_trips_after: float = Field(
        default=REMOTE_ROUND_TRIPS_AFTER,
        ge=0.0,
        description="link round trips its worker then spends on the reply and the ack "
        "(the caller has the reply half a round trip after the first)",
    )


class BaselinePlan(BaseModel):
    """The paper's monolith: every node hosts every model and runs whole tasks."""

    model_config = ConfigDict(extra="forbid")
    gpu_type: str
    nodes: int = Field(default=1, ge=1)
    concurrency: int = Field(default=1, ge=1, description="tasks a node runs at once")
    price_per_hour: float | None = Field(default=None, description="None: the profile's price")

    @classmethod
    def from_pools(cls, pools: PoolsFile, nodes: int | None = None) -> BaselinePlan:
        """The baseline section of a pools file, priced by that file."""
        if pools.baseline is None:
            raise ConfigError(f"pools file {pools.name!r} has no baseline section")
        gpu = pools.baseline.gpu_type
        return cls(
            gpu_type=gpu,
            nodes=nodes or pools.baseline.nodes,
            price_per_hour=pools.gpu_types[gpu].price_per_hour,
        )


def simulate(
    mix: CallMix,
    profile: Profile,
    plan: PoolsFile | BaselinePlan,
    config: SimConfig | None = None,
) -> SimResult:
    config = config or SimConfig()
    if isinstance(plan, BaselinePlan):
        return _BaselineSim(mix, profile, plan, config).run()
    return _DistributedSim(mix, profile, plan, config).run()


def _first_served(chunk: list[SimCall]) -> list[Message]:
    """The messages this chunk starts (the worker fetches and records each once)."""
    fresh = []
    for call in chunk:
        message = call.message
        if message is not None and not message.started:
            message.started = True
            fresh.append(message)
    return fresh


def _last_served(chunk: list[SimCall]) -> list[Message]:
    """The messages this chunk finishes (each is acked once, after its last call)."""
    done = []
    for call in chunk:
        message = call.message
        if message is not None:
            message.unfinished -= 1
            if message.unfinished == 0:
                done.append(message)
    return done


def _chunked(calls: list[SimCall], size: int) -> list[list[SimCall]]:
    """A worker's passes over one flush or message: max_batch_size calls each."""
    return [calls[i : i + size] for i in range(0, len(calls), size)]


def _build_tasks(mix: CallMix) -> list[SimTask]:
    tasks = []
    for index, graph in enumerate(mix.tasks):
        task = SimTask(index=index, children=[[] for _ in graph.calls])
        for i, call in enumerate(graph.calls):
            task.calls.append(
                SimCall(
                    task,
                    i,
                    call.function,
                    waiting_on=len(set(call.after)),
                    image_bytes=call.image_bytes,
                )
            )
            for dep in set(call.after):
                task.children[dep].append(i)
        tasks.append(task)
    return tasks


class _DistributedSim:
    def __init__(self, mix: CallMix, profile: Profile, pools: PoolsFile, config: SimConfig) -> None:
        self.profile, self.pools, self.config = profile, pools, config
        self.clock = Clock()
        self.overhead_s = (
            profile.dispatch_overhead_s
            if config.dispatch_overhead_s is None
            else config.dispatch_overhead_s
        )
        self.tasks = _build_tasks(mix)
        self.waiting = deque(self.tasks)
        self.queues: dict[str, deque[Message]] = {f: deque() for f in mix.functions()}
        self.servers_for: dict[str, list[Server]] = {f: [] for f in self.queues}
        self.replicas: list[Replica] = []
        self.batch_sizes: dict[str, list[int]] = {f: [] for f in self.queues}
        self._wakes: set[tuple[str, float]] = set()
        self.host = Device(self.clock, config.host_slots) if config.host_slots else None
        # One process each: the orchestrator, and Redis (its machine's CPU or this host).
        self.orchestrator = SerialProcess(self.host or Device(self.clock, 1.0))
        self.broker = SerialProcess(self.host or Device(self.clock, 1.0))
        # One device per link: its bandwidth shared by the transfers on it at once.
        self.links = {frozenset(link.between): Device(self.clock, 1.0) for link in pools.links}
        self.transfers = TransferTally()
        self.broker_site = pools.broker_site()
        self.upload_link = pools.link(pools.images_at, self.broker_site)
        self._build_servers()

    def _build_servers(self) -> None:
        for pool in self.pools.pools:
            used = [f for f in pool.functions if f in self.queues]
            for f in used:
                self.profile.function(pool.gpu_type, f)  # a clear error if unprofiled
            hw = self.profile.hw(pool.gpu_type)
            batching = {
                f: Batching(b.max_batch_size, b.max_wait_ms * SECONDS_PER_MS)
                for f, b in pool.batching.items()
            }
            for _ in range(max(1, pool.replicas)):
                replica = Replica(
                    pool.name,
                    pool.gpu_type,
                    self.host or Device(self.clock, hw.parallel_slots),
                    site=pool.site,
                )
                self.replicas.append(replica)
                for _ in range(pool.concurrency):
                    server = Server(replica, tuple(used), batching)
                    for f in used:
                        self.servers_for[f].append(server)
        unserved = sorted(f for f, servers in self.servers_for.items() if not servers)
        if unserved:
            raise ConfigError(
                f"pools file {self.pools.name!r} serves none of {', '.join(unserved)}, "
                "which the call mix calls"
            )

    def run(self) -> SimResult:
        for _ in range(min(self.config.max_concurrent_tasks, len(self.tasks))):
            self._start(self.waiting.popleft(), 0.0)
        self.clock.run()
        result = build_result(
            "distributed", self.tasks, self.replicas, self._prices(), self.batch_sizes
        )
        return self.transfers.apply(result)

    def _prices(self) -> dict[str, float]:
        return {p.name: self.pools.price_per_hour(p) for p in self.pools.pools}

    # -- tasks ---------------------------------------------------------------------------
    def _start(self, task: SimTask, now: float) -> None:
        task.started_at = now
        if not task.calls:
            self._finish(task, now)
            return
        roots = [c.index for c in task.calls if c.waiting_on == 0]

        def begin(t: float) -> None:
            self.clock.at(t + self.config.task_overhead_s, lambda t2: self._issue(task, roots, t2))

        self._upload(task, now, begin)

    def _upload(self, task: SimTask, now: float, then: Action) -> None:
        """Images taken away from the broker: the task's photo crosses the link to Redis
        first (one round trip, then its bytes, sharing the link with what is in flight)."""
        link = self.upload_link
        nbytes = max(c.image_bytes for c in task.calls)
        if link is None or nbytes == 0:
            then(now)
            return
        self.transfers.add(link, nbytes, 0, uploads=1)
        device = self.links[frozenset(link.between)]
        wire_s = link.transfer_s(nbytes) - link.transfer_s(0)
        self.clock.at(now + link.transfer_s(0), lambda t: device.add(t, wire_s, then))

    def _finish(self, task: SimTask, now: float) -> None:
        task.finished_at = now
        if self.waiting:
            self._start(self.waiting.popleft(), now)

    def _issue(self, task: SimTask, indices: list[int], now: float) -> None:
        by_function: dict[str, list[SimCall]] = {}
        for i in indices:
            call = task.calls[i]
            call.issued_at = now
            by_function.setdefault(call.function, []).append(call)
        messages = list(by_function.values())
        calls = len(indices)

        def to_broker(t: float) -> None:
            work = self.profile.broker_call_s * calls
            self.broker.run(t, work, lambda t2: self._send(messages, t2))

        self.orchestrator.run(now, self.profile.orchestrator_call_s * calls, to_broker)

    def _send(self, messages: list[list[SimCall]], now: float) -> None:
        arrive = now + self.overhead_s
        for calls in messages:
            message = Message(calls, arrive)
            self.clock.at(arrive, lambda t, m=message: self._arrive(m, t))

    def _calls_done(self, calls: list[SimCall], now: float) -> None:
        ready: dict[int, list[int]] = {}
        for call in calls:
            call.finished_at = now
            task = call.task
            task.done += 1
            for child in task.children[call.index]:
                task.calls[child].waiting_on -= 1
                if task.calls[child].waiting_on == 0:
                    ready.setdefault(task.index, []).append(child)
            if task.done == len(task.calls):
                self._finish(task, now)
        for index, children in ready.items():
            self._issue(self.tasks[index], children, now)

    # -- queues and servers --------------------------------------------------------------
    def _arrive(self, message: Message, now: float) -> None:
        function = message.calls[0].function
        self.queues[function].append(message)
        self._dispatch(function, now)

    def _dispatch(self, function: str, now: float) -> None:
        for server in self.servers_for[function]:
            if not self.queues[function]:
                return
            if not server.busy:
                self._try_serve(server, now)

    def _try_serve(self, server: Server, now: float) -> None:
        candidates = sorted(
            (self.queues[f][0].arrived_at, f) for f in server.functions if self.queues[f]
        )
        for _, function in candidates:
            chunks = self._take(function, server.batching.get(function, Batching()), now)
            if chunks:
                server.busy = True
                server.replica.start(now)
                server.pending.extend(chunks)
                self._run_chunk(server, now)
                return

    def _take(self, function: str, batching: Batching, now: float) -> list[list[SimCall]]:
        queue = self.queues[function]
        size = batching.max_batch_size
        if self.config.batching_scope == "message":
            return _chunked(queue.popleft().calls, size)
        if self.config.batching_scope == "flush":
            return self._take_flush(function, batching, now)
        available = 0
        for message in queue:
            available += len(message.calls)
            if available >= size:
                break
        due = queue[0].arrived_at + batching.max_wait_s
        if available < size and now < due:
            self._wake(function, due)
            return []
        batch: list[SimCall] = []
        while queue and len(batch) < size:
            head = queue[0]
            take = size - len(batch)
            batch.extend(head.calls[:take])
            head.calls = head.calls[take:]
            if not head.calls:
                queue.popleft()
        return [batch]

    def _take_flush(self, function: str, batching: Batching, now: float) -> list[list[SimCall]]:
        """celery-batches: flush at max_batch_size messages or after max_wait."""
        queue = self.queues[function]
        size = batching.max_batch_size
        due = queue[0].arrived_at + batching.max_wait_s
        if size > 1 and len(queue) < size and now < due:
            self._wake(function, due)
            return []
        calls = [c for _ in range(min(size, len(queue))) for c in queue.popleft().calls]
        return _chunked(calls, size)

    def _wake(self, function: str, when: float) -> None:
        if (function, when) not in self._wakes:
            self._wakes.add((function, when))
            self.clock.at(when, lambda t: self._dispatch(function, t))

    def _run_chunk(self, server: Server, now: float) -> None:
        chunk = server.pending.popleft()
        function = chunk[0].function
        gpu = server.replica.gpu_type
        work = self.profile.service_s(gpu, function, len(chunk))
        work += len(chunk) * self.profile.hw(gpu).call_overhead_s
        server.replica.calls += len(chunk)
        self.batch_sizes[function].append(len(chunk))

        def compute(t: float) -> None:
            server.replica.device.add(t, work, lambda t2: self._reply(server, chunk, t2))

        self._fetch(server.replica.site, chunk, now, compute)

    def _fetch(self, site: str, chunk: list[SimCall], now: float, then: Action) -> None:
        """A chunk served away from the broker: the message's round trips over the link
        and one per image it fetches, then the images' bytes on the link (shared with the
        transfers in flight), then go on."""
        link = self.pools.link(self.broker_site, site)
        fresh = _first_served(chunk)
        if link is None:
            then(now)
            return
        nbytes = sum(c.image_bytes for c in chunk)
        messaging = self.config.remote_round_trips * len(fresh)
        trips = messaging + sum(1 for c in chunk if c.image_bytes)
        start = now + link.transfer_s(0) * trips
        self.transfers.wait(link, messaging)
        if nbytes == 0:
            self.clock.at(start, then)
            return
        self.transfers.add(link, nbytes, len(chunk))
        device = self.links[frozenset(link.between)]
        wire_s = link.transfer_s(nbytes) - link.transfer_s(0)
        self.clock.at(start, lambda t: device.add(t, wire_s, then))

    def _reply(self, server: Server, chunk: list[SimCall], now: float) -> None:
        """The model has run: a worker away from the broker has its replies cross the link
        and its ack round trips to make before it is free again."""
        link = self.pools.link(self.broker_site, server.replica.site)
        last = len(_last_served(chunk))
        if link is None:
            self._calls_done(chunk, now)
            self._chunk_done(server, now)
            return
        rtt_s = link.transfer_s(0)
        self.clock.at(now + rtt_s * REPLY_ROUND_TRIPS, lambda t: self._calls_done(chunk, t))
        # A message's last chunk pays the reply, the ack and the event; an earlier one
        # of a message served in several chunks only pushes its replies.
        trips = self.config.remote_round_trips_after * last + REPLY_PUSH_ROUND_TRIPS * (
            len({id(c.message) for c in chunk}) - last
        )
        free_at = now + rtt_s * trips
        self.transfers.wait(link, trips)
        self.clock.at(free_at, lambda t: self._chunk_done(server, t))

    def _chunk_done(self, server: Server, now: float) -> None:
        if server.pending:
            self._run_chunk(server, now)
            return
        server.busy = False
        server.replica.stop(now)
        self._try_serve(server, now)


class _BaselineSim:
    """N nodes x `concurrency` task slots; a slot runs one task's calls one after another."""

    def __init__(
        self, mix: CallMix, profile: Profile, plan: BaselinePlan, config: SimConfig
    ) -> None:
        self.profile, self.plan, self.config = profile, plan, config
        self.clock = Clock()
        self.tasks = _build_tasks(mix)
        self.waiting = deque(self.tasks)
        hw = profile.hw(plan.gpu_type)
        for function in mix.functions():
            profile.function(plan.gpu_type, function)
        self.nodes = [
            Replica("baseline", plan.gpu_type, Device(self.clock, hw.parallel_slots))
            for _ in range(plan.nodes)
        ]
        self.batch_sizes: dict[str, list[int]] = {f: [] for f in mix.functions()}

    def run(self) -> SimResult:
        for node in self.nodes:
            for _ in range(self.plan.concurrency):
                self._next_task(node, 0.0)
        self.clock.run()
        price = self.plan.price_per_hour
        if price is None:
            price = self.profile.hw(self.plan.gpu_type).price_per_hour
        return build_result(
            "baseline", self.tasks, self.nodes, {"baseline": price}, self.batch_sizes
        )

    def _next_task(self, node: Replica, now: float) -> None:
        if not self.waiting:
            return
        task = self.waiting.popleft()
        task.started_at = now
        self.clock.at(now + self.config.task_overhead_s, lambda t: self._call(task, node, 0, t))

    def _call(self, task: SimTask, node: Replica, i: int, now: float) -> None:
        if i == len(task.calls):
            task.finished_at = now
            self._next_task(node, now)
            return
        call = task.calls[i]
        call.issued_at = now
        start = now + self.config.baseline_call_overhead_s
        work = self.profile.service_s(node.gpu_type, call.function, 1)
        self.batch_sizes[call.function].append(1)

        def done(t: float) -> None:
            call.finished_at = t
            node.stop(t)
            self._call(task, node, i + 1, t)

        def begin(t: float) -> None:
            node.start(t)
            node.calls += 1
            node.device.add(t, work, done)

        self.clock.at(start, begin)
