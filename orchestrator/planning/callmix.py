"""The call mix of a batch: per task, which function calls it makes and in what order.

A task is a dependency graph of calls (`TaskGraph`); the common case is a sequence of
rounds, each a multiset of calls issued together, the next round issued when the whole
previous round has answered (`TaskGraph.from_rounds`). A mix comes from measured call
traces, from a short description (the claims program), or from a program run on
codegen's stand-in runtime.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from dicec.errors import ConfigError
from dicec.records import CallTrace
from orchestrator.cost.timeline import dedupe

# The paper's batch: 1000 tasks, each one of 30 accident-scene images at random.
PAPER_TASKS = 1000
PAPER_IMAGES = 30
# Assumed cars per accident image (the paper does not say): mean 2.9, at most 5 (the
# detector's top-k). Weights of 1..5 cars.
CLAIMS_CAR_WEIGHTS: dict[int, float] = {1: 0.10, 2: 0.30, 3: 0.30, 4: 0.20, 5: 0.10}
CLAIMS_PER_CAR = ("blip", "blip", "xvlm", "xvlm")
# The litter batch (assumed, the paper gives no figures): a camera's 1920x1080 JPEG of
# about 600 kB; 0 to 4 pieces found, each crop ~4 % of the photo's area (and bytes); the
# nearest piece within 5 m in 70 % of the photos with litter.
LITTER_IMAGE_BYTES = 600_000
LITTER_CROP_SHARE = 0.04
LITTER_PIECE_WEIGHTS: dict[int, float] = {0: 0.10, 1: 0.30, 2: 0.30, 3: 0.20, 4: 0.10}
LITTER_NEAR_SHARE = 0.7


class GraphCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    function: str
    after: list[int] = Field(default_factory=list, description="earlier calls it waits for")
    image_bytes: int = Field(
        default=0, ge=0, description="what its image weighs on a link (a crop: its share)"
    )


class TaskGraph(BaseModel):
    """One task's calls in program order; each waits for the calls named in `after`."""

    model_config = ConfigDict(extra="forbid")
    calls: list[GraphCall] = Field(default_factory=list)

    @model_validator(mode="after")
    def _acyclic(self) -> TaskGraph:
        for i, call in enumerate(self.calls):
            bad = [d for d in call.after if not 0 <= d < i]
            if bad:
                raise ValueError(f"call {i} ({call.function}) waits for {bad}: not earlier calls")
        return self

    @classmethod
    def from_rounds(cls, rounds: Sequence[Sequence[str]]) -> TaskGraph:
        """Rounds with a barrier between them: each call waits for the whole previous round."""
        calls: list[GraphCall] = []
        previous: list[int] = []
        for round_ in rounds:
            current = []
            for fn in round_:
                current.append(len(calls))
                calls.append(GraphCall(function=fn, after=list(previous)))
            previous = current or previous
        return cls(calls=calls)

    def functions(self) -> Counter[str]:
        return Counter(c.function for c in self.calls)


class CallMix(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "mix"
    tasks: list[TaskGraph] = Field(min_length=1)

    def function_counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for task in self.tasks:
            total.update(task.functions())
        return total

    def functions(self) -> list[str]:
        return sorted(self.function_counts())

    def calls(self) -> int:
        return sum(len(t.calls) for t in self.tasks)

    def with_photo_bytes(self, photo_bytes: int) -> CallMix:
        """The same calls with each task's photo weighing `photo_bytes` (each task's largest
        image is its photo); crops keep their share of it. Tasks that ship no bytes stay."""
        tasks = []
        for task in self.tasks:
            largest = max((c.image_bytes for c in task.calls), default=0)
            scale = photo_bytes / largest if largest else 0.0
            calls = [
                c.model_copy(update={"image_bytes": round(c.image_bytes * scale)})
                for c in task.calls
            ]
            tasks.append(TaskGraph(calls=calls) if largest else task)
        return CallMix(name=self.name, tasks=tasks)

    def resized(self, tasks: int, seed: int = 0) -> CallMix:
        """The same mix over `tasks` tasks: cycled when growing, a seeded sample else."""
        if tasks == len(self.tasks):
            return self
        if tasks < 1:
            raise ConfigError(f"a call mix needs at least one task, got {tasks}")
        if tasks > len(self.tasks):
            picked = [self.tasks[i % len(self.tasks)] for i in range(tasks)]
        else:
            picked = random.Random(seed).sample(self.tasks, tasks)
        return CallMix(name=self.name, tasks=picked)


def litter_task(
    pieces: int, near: bool, image_bytes: int = LITTER_IMAGE_BYTES, crop_bytes: int = 0
) -> TaskGraph:
    """The litter program on one image: yolov8 on it, depth on each piece found, one after
    another, then (when the nearest piece is within 5 m) two blip2 questions on its crop."""
    crop = crop_bytes or round(image_bytes * LITTER_CROP_SHARE)
    calls = [GraphCall(function="yolov8", image_bytes=image_bytes)]
    for _ in range(pieces):
        calls.append(GraphCall(function="depth", after=[len(calls) - 1], image_bytes=crop))
    if pieces and near:
        last = len(calls) - 1
        calls += [GraphCall(function="blip2", after=[last], image_bytes=crop)] * 2
    return TaskGraph(calls=calls)


def litter_call_mix(
    tasks: int = PAPER_TASKS,
    *,
    image_bytes: int = LITTER_IMAGE_BYTES,
    seed: int = 0,
    piece_weights: dict[int, float] | None = None,
) -> CallMix:
    """The marine-litter batch (DiCE-M): `tasks` photos, pieces found per photo drawn
    (seeded) from `piece_weights`, the nearest within 5 m with LITTER_NEAR_SHARE."""
    rng = random.Random(seed)
    weights = piece_weights or LITTER_PIECE_WEIGHTS
    graphs = []
    for _ in range(tasks):
        (pieces,) = rng.choices(list(weights), weights=list(weights.values()))
        graphs.append(litter_task(pieces, rng.random() < LITTER_NEAR_SHARE, image_bytes))
    return CallMix(name="litter", tasks=graphs)


def from_rounds(rounds_per_task: Iterable[Sequence[Sequence[str]]], name: str = "mix") -> CallMix:
    return CallMix(name=name, tasks=[TaskGraph.from_rounds(r) for r in rounds_per_task])


def claims_rounds(cars: int, serial: bool = False) -> list[list[str]]:
    """The claims program's rounds for an image with `cars` cars.

    Distributed: glip, then every car's 4 calls at once. Serial: one call per round.
    """
    per_car = [fn for _ in range(cars) for fn in CLAIMS_PER_CAR]
    if serial:
        return [["glip"], *([fn] for fn in per_car)]
    return [["glip"], per_car] if cars else [["glip"]]


def claims_call_mix(
    tasks: int = PAPER_TASKS,
    *,
    images: int = PAPER_IMAGES,
    cars_per_image: Sequence[int] | None = None,
    car_weights: dict[int, float] | None = None,
    seed: int = 0,
    serial: bool = False,
) -> CallMix:
    """The paper's batch: each task one of `images` images at random (seeded).

    Cars per image are given, or drawn (seeded) from `car_weights`.
    """
    rng = random.Random(seed)
    if cars_per_image is None:
        weights = car_weights or CLAIMS_CAR_WEIGHTS
        cars_per_image = rng.choices(list(weights), weights=list(weights.values()), k=images)
    if not cars_per_image:
        raise ConfigError("claims call mix: cars_per_image is empty")
    picks = [rng.randrange(len(cars_per_image)) for _ in range(tasks)]
    name = "claims-serial" if serial else "claims"
    return from_rounds((claims_rounds(cars_per_image[i], serial) for i in picks), name=name)


def _task_rounds(
    traces: Iterable[CallTrace], include_cached: bool
) -> dict[int, list[list[CallTrace]]]:
    """Per task index, its rounds of traces: calls sharing a group id (one gather)."""
    groups: dict[int, dict[str, list[CallTrace]]] = {}
    for trace in dedupe(traces):
        if trace.task_index is None or (trace.cached and not include_cached):
            continue
        key = trace.group_id or trace.call_id
        groups.setdefault(trace.task_index, {}).setdefault(key, []).append(trace)
    rounds: dict[int, list[list[CallTrace]]] = {}
    for index, by_group in groups.items():
        ordered = sorted(by_group.values(), key=lambda g: min(t.queued_at for t in g))
        rounds[index] = [sorted(g, key=lambda t: t.queued_at) for g in ordered]
    return rounds


def rounds_from_traces(
    traces: Iterable[CallTrace], include_cached: bool = False
) -> dict[int, list[list[str]]]:
    """Per task index, its rounds: calls sharing a group id (one gather), in issue order."""
    return {
        index: [[t.function for t in round_] for round_ in rounds]
        for index, rounds in _task_rounds(traces, include_cached).items()
    }


def call_mix_from_traces(
    traces: Iterable[CallTrace], tasks: int | None = None, include_cached: bool = False
) -> CallMix:
    """The mix a batch really made (each call with its images' weight, as its worker
    reported it); tasks without calls count as empty tasks."""
    by_task = _task_rounds(traces, include_cached)
    if not by_task and not tasks:
        raise ConfigError("no call traces with a task index: cannot derive a call mix")
    count = tasks if tasks is not None else max(by_task) + 1
    graphs = []
    for i in range(count):
        rounds = by_task.get(i, [])
        graph = TaskGraph.from_rounds([[t.function for t in r] for r in rounds])
        for call, trace in zip(graph.calls, (t for r in rounds for t in r), strict=True):
            call.image_bytes = trace.image_bytes
        graphs.append(graph)
    return CallMix(name="traces", tasks=graphs)


def call_mix_from_program(source: str, samples: int = 8, name: str = "program") -> CallMix:
    """Run a program on codegen's stand-in runtime `samples` times (seeds 0..n-1).

    Each seed is one task shape; a batch cycles over them. What a stand-in answers (how
    many boxes a detector finds) is generated from the result schemas, not from photos.
    """
    from orchestrator.program.sandbox.programs import compile_program
    from orchestrator.program.trial import DEFAULT_IMAGE_SIZES, run_on_standin, write_test_images
    from worker_models.registry import catalogue_functions

    program = compile_program(source, f"{name}.py")
    functions = catalogue_functions()

    async def run_all() -> list[list[list[str]]]:
        shapes = []
        with tempfile.TemporaryDirectory(prefix="dicec-mix-") as tmp:
            (image,) = write_test_images(Path(tmp), DEFAULT_IMAGE_SIZES[-1:])
            for seed in range(samples):
                outcome = await run_on_standin(program, image, functions, seed)
                rounds: list[list[str]] = [[] for _ in range(outcome.rounds)]
                for call in outcome.calls:
                    rounds[call.round - 1].append(call.function)
                shapes.append(rounds)
        return shapes

    return from_rounds(asyncio.run(run_all()), name=name)
