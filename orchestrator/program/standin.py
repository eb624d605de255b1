"""The deterministic stand-in runtime that verification runs programs against.

`StandIn.call(name, **kwargs)` has hermod.call's contract: it validates the call against
the function's parameters schema (from the registry), records it, and returns a result
generated from the result schema, deterministically from (seed, function, arguments), so
the serial and the distributed program see the same answer to the same question.

Faults. A run may inject, deterministically from (seed, function, arguments) so that both
programs meet the same ones: call failures (`CallFailedError`, as a failed worker call
raises) and empty results (no boxes, empty answers), besides normal results.

Rounds. Calls are answered in waves: a call waits until nothing else in the program can
run (every task is blocked on a call), then all waiting calls are answered together as
one round. A call's round is thus the number of answers the program had to wait for
before it could be issued; the rounds of a run are the longest such chain. (A contextvar
depth would miss that a gather's parent saw its children's results, and it does not
cross into the worker thread that runs a synchronous ImagePatch program.)
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import random
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from PIL import Image

from dicec.errors import CallFailedError, CallValidationError, UnknownFunctionError
from orchestrator.program.schemagen import generate
from worker_models.registry import FunctionInfo

# Wait at most this many event-loop turns for the program to settle before answering.
MAX_SETTLE_HOPS = 1000
# Without access to the loop's ready queue: turns with no new call that count as settled.
SETTLED_HOPS = 50
# Share of calls that fail (besides the targeted function), of results made empty.
FAIL_SHARE = 0.0
EMPTY_SHARE = 0.5
NORMAL, EMPTY, FAIL = "normal", "empty", "fail"
FAULT_MODES = (NORMAL, EMPTY, FAIL)
# A failing run targets one function (the caller picks it, by turns over those the program
# calls), failing half its calls, so that calls deep in a program fail too.
TARGET_SHARE = 0.5


@dataclass(frozen=True)
class RecordedCall:
    """One call as the stand-in saw it; images by identity, so runs compare as multisets."""

    function: str
    args: tuple[tuple[str, str], ...]
    round: int = field(compare=False)

    @property
    def key(self) -> tuple[str, tuple[tuple[str, str], ...]]:
        return (self.function, self.args)

    def describe(self) -> str:
        parts = ", ".join(f"{k}={v}" for k, v in self.args)
        return f"{self.function}({parts})"


def image_identity(value: Any) -> str | None:
    """A short identity of an image (or an ImagePatch's image); None if not an image."""
    image = value if isinstance(value, Image.Image) else getattr(value, "image", None)
    ref = getattr(image, "dicec_ref", None)  # a TrackedImage: its stored bytes and crop box
    if isinstance(image, Image.Image) and ref is not None:
        return f"<{str(ref)[4:16]}{_box(ref.box)}>"
    if isinstance(image, Image.Image):
        digest = hashlib.sha256(f"{image.mode}{image.size}".encode() + image.tobytes())
        return f"<px:{digest.hexdigest()[:12]} {image.width}x{image.height}>"
    return None


def _box(box: tuple[int, int, int, int] | None) -> str:
    return "" if box is None else "@" + ",".join(str(v) for v in box)


class StandIn:
    """A hermod stand-in for one run: `await standin.call(name, **kwargs)`."""

    def __init__(
        self,
        functions: list[FunctionInfo],
        seed: int,
        faults: str = NORMAL,
        target: str | None = None,
    ) -> None:
        if faults not in FAULT_MODES:
            raise ValueError(f"faults must be one of {', '.join(FAULT_MODES)}")
        self._functions = {f.name: f for f in functions}
        self.seed = seed
        self.faults = faults
        self.target = target  # the function whose calls fail, in a failing run
        self.failed = 0  # calls that failed by injection
        self.calls: list[RecordedCall] = []
        self._pending: list[
            tuple[str, tuple[tuple[str, str], ...], tuple[int, int], asyncio.Future[Any]]
        ] = []
        self._round = 0
        self._flush_scheduled = False

    @property
    def rounds(self) -> int:
        return max((c.round for c in self.calls), default=0)

    async def call(self, name: str, **kwargs: Any) -> Any:
        info = self._functions.get(name)
        if info is None:
            known = ", ".join(sorted(self._functions))
            raise UnknownFunctionError(f"unknown function {name!r}; known functions: {known}")
        args, size = self._normalise(info, kwargs)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((name, args, size, future))
        self._schedule_flush()
        return await future

    # -- validation -----------------------------------------------------------------------
    def _normalise(
        self, info: FunctionInfo, kwargs: dict[str, Any]
    ) -> tuple[tuple[tuple[str, str], ...], tuple[int, int]]:
        props: dict[str, Any] = info.parameters_schema.get("properties", {})
        unknown = sorted(set(kwargs) - set(props))
        if unknown:
            raise CallValidationError(
                f"{info.name}: unknown parameter(s) {', '.join(unknown)}; "
                f"parameters are {', '.join(props)}"
            )
        missing = sorted(set(info.parameters_schema.get("required", [])) - set(kwargs))
        if missing:
            raise CallValidationError(f"{info.name}: missing parameter(s) {', '.join(missing)}")
        args: list[tuple[str, str]] = []
        size = (64, 64)
        for key in sorted(kwargs):
            value = kwargs[key]
            if _is_image_param(props[key]) and value is not None:
                identity = image_identity(value)
                if identity is None:
                    raise CallValidationError(
                        f"{info.name}: parameter {key} must be an image, got {type(value).__name__}"
                    )
                image = value if isinstance(value, Image.Image) else value.image
                size = image.size
                args.append((key, identity))
                continue
            _validate(info.name, key, value, props[key], info.parameters_schema)
            args.append((key, json.dumps(value, sort_keys=True, default=repr)))
        return tuple(args), size

    # -- rounds ---------------------------------------------------------------------------
    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._maybe_flush, 0, 0, len(self._pending))

    def _maybe_flush(self, turns: int, quiet: int, seen: int) -> None:
        """Answer the waiting calls once the program has settled (see the module doc)."""
        loop = asyncio.get_running_loop()
        ready = getattr(loop, "_ready", None)  # CPython's queue of runnable callbacks
        quiet = quiet + 1 if len(self._pending) == seen else 0
        settled = not ready if ready is not None else quiet >= SETTLED_HOPS
        if not settled and turns < MAX_SETTLE_HOPS:
            loop.call_soon(self._maybe_flush, turns + 1, quiet, len(self._pending))
            return
        self._flush_scheduled = False
        self._round += 1
        batch, self._pending = self._pending, []
        for name, args, size, future in batch:
            self.calls.append(RecordedCall(name, args, self._round))
            if future.done():
                continue
            if self._fails(name, args):
                self.failed += 1
                future.set_exception(
                    CallFailedError(f"{name}: injected failure (stand-in seed {self.seed})")
                )
            else:
                future.set_result(self._result(name, args, size))

    def _fails(self, name: str, args: tuple[tuple[str, str], ...]) -> bool:
        if self.faults != FAIL:
            return False
        share = max(FAIL_SHARE, TARGET_SHARE if name == self.target else 0.0)
        return self._draw("fail", name, args) < share

    def _draw(self, purpose: str, name: str, args: tuple[tuple[str, str], ...]) -> float:
        text = json.dumps([purpose, self.seed, name, args])
        return random.Random(hashlib.sha256(text.encode()).hexdigest()).random()

    def _result(self, name: str, args: tuple[tuple[str, str], ...], size: tuple[int, int]) -> Any:
        info = self._functions[name]
        if name == "noop":  # noop's contract: it returns its input value
            value = dict(args).get("value")
            result: Any = {"value": json.loads(value) if value is not None else None}
        else:
            text = json.dumps([self.seed, name, args])
            rng = random.Random(hashlib.sha256(text.encode()).hexdigest())
            result = generate(info.result_schema, rng, size)
            if self.faults == EMPTY and self._draw("empty", name, args) < EMPTY_SHARE:
                result = _emptied(result)
        jsonschema.validate(result, info.result_schema)
        value = result[info.unwrap] if info.unwrap else result
        return copy.deepcopy(value)


def _emptied(result: Any) -> Any:
    """No boxes, empty answers: every list and string field of the result emptied."""
    if not isinstance(result, dict):
        return result
    return {
        k: [] if isinstance(v, list) else "" if isinstance(v, str) else v for k, v in result.items()
    }


def _is_image_param(prop: dict[str, Any]) -> bool:
    if prop.get("format") == "binary":
        return True
    return any(_is_image_param(p) for p in prop.get("anyOf", []))


def _validate(
    function: str, key: str, value: Any, prop: dict[str, Any], schema: dict[str, Any]
) -> None:
    try:
        jsonschema.validate(value, {**prop, "$defs": schema.get("$defs", {})})
    except jsonschema.ValidationError as exc:
        raise CallValidationError(f"{function}: parameter {key}: {exc.message}") from None
