"""Profile files: how long each function takes on each hardware type, and what it costs.

A profile says, per hardware (GPU) type, the price per node-hour, how many calls the
device runs at full speed at once, and per function the service time of one forward
pass as a function of its batch size (measured points, interpolated linearly and
extrapolated from the nearest segment). `dicec profile` writes one measured on the
hardware at hand; `reference.yaml` ships one derived from public figures.
"""

from __future__ import annotations

import bisect
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dicec.config_files import read_yaml_mapping
from dicec.errors import ConfigError

PROFILES_DIR = Path(__file__).parent / "shipped_profiles"
REFERENCE_PROFILE = "reference"
# A forward pass never takes less than this, whatever a line through the points says.
MIN_SERVICE_S = 1e-6


class ServicePoint(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(ge=1)
    service_s: float = Field(gt=0.0, description="seconds for one pass over the whole batch")


class FunctionProfile(BaseModel):
    """Service time of one function on one hardware type against batch size."""

    model_config = ConfigDict(extra="forbid")
    points: list[ServicePoint] = Field(min_length=1)
    memory_gb: float | None = Field(
        default=None, ge=0.0, description="device memory one process of it needs"
    )

    @model_validator(mode="after")
    def _sorted_unique(self) -> FunctionProfile:
        self.points = sorted(self.points, key=lambda p: p.batch_size)
        sizes = [p.batch_size for p in self.points]
        if len(set(sizes)) != len(sizes):
            raise ValueError(f"duplicate batch sizes in {sizes}")
        return self

    def service_s(self, batch_size: int) -> float:
        """Seconds for one pass over `batch_size` calls.

        One point only: no batching gain is assumed (b calls cost b single passes).
        """
        pts = self.points
        if len(pts) == 1:
            return pts[0].service_s * batch_size / pts[0].batch_size
        sizes = [p.batch_size for p in pts]
        i = bisect.bisect_left(sizes, batch_size)
        if i < len(pts) and sizes[i] == batch_size:
            return pts[i].service_s
        if i == 0:
            lo, hi = pts[0], pts[1]
        elif i >= len(pts):
            lo, hi = pts[-2], pts[-1]
        else:
            lo, hi = pts[i - 1], pts[i]
        slope = (hi.service_s - lo.service_s) / (hi.batch_size - lo.batch_size)
        return max(MIN_SERVICE_S, lo.service_s + slope * (batch_size - lo.batch_size))

    def min_per_call_s(self, max_batch_size: int) -> float:
        """The least work per call any batch up to this size achieves (planner bounds)."""
        return min(self.service_s(b) / b for b in range(1, max_batch_size + 1))


class HardwareProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    price_per_hour: float = Field(ge=0.0, description="USD per node-hour")
    memory_gb: float | None = None
    product_label: str | None = None
    device: str = "cuda"
    parallel_slots: float = Field(
        default=1.0,
        ge=1.0,
        description="calls the device runs at full speed at once; k > slots share it",
    )
    call_overhead_s: float = Field(
        default=0.0,
        ge=0.0,
        description="worker process seconds per call outside the model (message, "
        "validation, images, reply), added to each pass it serves",
    )
    functions: dict[str, FunctionProfile] = Field(default_factory=dict)


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "profile"
    description: str = ""
    measured: bool = Field(default=False, description="true: measured; false: derived")
    dispatch_overhead_s: float = Field(
        default=0.0, ge=0.0, description="seconds between issuing a call and its queueing"
    )
    orchestrator_call_s: float = Field(
        default=0.0,
        ge=0.0,
        description="orchestrator CPU seconds per call (one process, one core at most)",
    )
    broker_call_s: float = Field(
        default=0.0,
        ge=0.0,
        description="Redis CPU seconds per call: message, reply, trace (one core at most)",
    )
    hardware: dict[str, HardwareProfile] = Field(min_length=1)

    def hw(self, gpu_type: str) -> HardwareProfile:
        try:
            return self.hardware[gpu_type]
        except KeyError:
            known = ", ".join(sorted(self.hardware))
            raise ConfigError(
                f"profile {self.name!r} has no hardware {gpu_type!r} (known: {known})"
            ) from None

    def function(self, gpu_type: str, function: str) -> FunctionProfile:
        hw = self.hw(gpu_type)
        try:
            return hw.functions[function]
        except KeyError:
            known = ", ".join(sorted(hw.functions)) or "none"
            raise ConfigError(
                f"profile {self.name!r}: no service times for {function!r} on {gpu_type} "
                f"(profiled there: {known})"
            ) from None

    def service_s(self, gpu_type: str, function: str, batch_size: int = 1) -> float:
        return self.function(gpu_type, function).service_s(batch_size)

    def supports(
        self, gpu_type: str, functions: list[str] | tuple[str, ...], processes: int = 1
    ) -> bool:
        """Profiled there, and fits its memory with `processes` copies of the models."""
        hw = self.hardware.get(gpu_type)
        if hw is None or not all(f in hw.functions for f in functions):
            return False
        if hw.memory_gb is None:
            return True
        need = sum(hw.functions[f].memory_gb or 0.0 for f in functions) * processes
        return need <= hw.memory_gb


def resolve_profile_path(name_or_path: str | Path) -> Path:
    """A path, or the name of a shipped profile (`reference`)."""
    path = Path(name_or_path)
    if path.exists():
        return path
    shipped = PROFILES_DIR / f"{name_or_path}.yaml"
    if shipped.exists():
        return shipped
    known = ", ".join(sorted(p.stem for p in PROFILES_DIR.glob("*.yaml")))
    raise ConfigError(f"profile {str(name_or_path)!r} not found (shipped: {known})")


def load_profile(name_or_path: str | Path = REFERENCE_PROFILE) -> Profile:
    path = resolve_profile_path(name_or_path)
    raw = read_yaml_mapping(path, "profile")
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"profile {path}: {problems}") from None


def save_profile(profile: Profile, path: Path, header: str = "") -> None:
    """Write a profile as YAML (points inline, one line per function)."""
    data = profile.model_dump(mode="json", exclude_none=True)
    text = yaml.safe_dump(data, sort_keys=False, width=100)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(comment + text)
