"""A multi-site pools file as the planner reads it: where each GPU type is, the links."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from dicec.errors import PlanError
from orchestrator.planning.sim_stats import SimResult
from worker_models.pools import DEFAULT_SITE, GpuType, Link, Pool, PoolsFile


class Layout:
    """Where each GPU type of a pools file is (its `site`, else its pools' site), the links."""

    def __init__(self, pools: PoolsFile) -> None:
        self.pools = pools

    def site_of_gpu(self, gpu: str) -> str:
        declared = self.pools.gpu_types.get(gpu)
        if declared is not None and declared.site is not None:
            return declared.site
        using = [p.site for p in self.pools.pools if p.gpu_type == gpu]
        return using[0] if using else DEFAULT_SITE

    def link_to(self, gpu: str, broker: str) -> Link | None:
        """The link a pool on this GPU type reaches Redis over (None: beside it)."""
        return self.pools.link(broker, self.site_of_gpu(gpu))

    def upload_link(self, broker: str) -> Link | None:
        """The link the photos cross once each to reach Redis (None: taken beside it)."""
        return self.pools.link(self.pools.images_at, broker)

    def broker_sites(self, gpus: Sequence[str]) -> list[str]:
        """Where Redis and the orchestrator may go for pools on these GPU types: with the
        images, or at any other site of the pools (then each photo is uploaded once, and
        pools at the images' site fetch what they need back from the broker)."""
        sites = {self.site_of_gpu(g) for g in gpus}
        images = self.pools.images_at
        return [images, *sorted(sites - {images})]

    def max_nodes(self, gpu: str) -> int | None:
        declared = self.pools.gpu_types.get(gpu)
        return declared.max_nodes if declared is not None else None

    def gpu_type(self, gpu: str) -> GpuType:
        try:
            return self.pools.gpu_types[gpu]
        except KeyError:
            raise PlanError(f"pools file {self.pools.name!r} prices no GPU type {gpu!r}") from None

    def pools_file(
        self, name: str, gpu_types: dict[str, GpuType], pools: list[Pool], broker: str
    ) -> PoolsFile:
        return PoolsFile(
            name=name,
            gpu_types=gpu_types,
            pools=pools,
            links=self.pools.links,
            images_at=self.pools.images_at,
            broker_at=None if broker == self.pools.images_at else broker,
        )


class PlacementTried(BaseModel):
    """The best plan the search found for one placement of the functions on sites."""

    placement: dict[str, str] = Field(description="function -> site")
    broker: str = Field(default=DEFAULT_SITE, description="the site of Redis and orchestrator")
    makespan_s: float | None = None
    cost_usd: float | None = None
    transfer_usd: float = 0.0
    transfer_s: float = 0.0
    round_trips_s: float = 0.0
    round_trips: float = 0.0
    uploads: int = 0
    note: str = ""


Blocks = Sequence[tuple[str, ...]]


class PlacementLog:
    """The best plan found per placement (function -> site), for the table that explains
    the choice; placements ruled out before simulating carry a note why."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[object, ...], PlacementTried] = {}

    @staticmethod
    def _key(layout: Layout | None, blocks: Blocks, gpus: tuple[str, ...], broker: str):  # noqa: ANN205
        if layout is None:
            return None
        pairs = [(f, layout.site_of_gpu(g)) for b, g in zip(blocks, gpus, strict=True) for f in b]
        return (*sorted(pairs), broker)

    def note(
        self, layout: Layout | None, blocks: Blocks, gpus: tuple[str, ...], broker: str, why: str
    ) -> None:
        key = self._key(layout, blocks, gpus, broker)
        if key is not None and key not in self._by_key:
            self._by_key[key] = PlacementTried(placement=dict(key[:-1]), broker=broker, note=why)

    def record(
        self,
        layout: Layout | None,
        blocks: Blocks,
        gpus: tuple[str, ...],
        broker: str,
        result: SimResult,
    ) -> None:
        key = self._key(layout, blocks, gpus, broker)
        if key is None:
            return
        known = self._by_key.get(key)
        if known is None or known.cost_usd is None or result.cost_usd < known.cost_usd:
            self._by_key[key] = PlacementTried(
                placement=dict(key[:-1]),
                broker=broker,
                makespan_s=result.makespan_s,
                cost_usd=result.cost_usd,
                transfer_usd=result.transfer_usd,
                transfer_s=sum(x.transfer_s for x in result.links),
                round_trips_s=sum(x.round_trips_s for x in result.links),
                round_trips=sum(x.round_trips for x in result.links),
                uploads=sum(x.uploads for x in result.links),
            )

    def ordered(self) -> list[PlacementTried]:
        """Cheapest first; those never simulated last."""
        return sorted(self._by_key.values(), key=lambda p: (p.cost_usd is None, p.cost_usd or 0))
