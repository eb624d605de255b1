"""A multi-site pools file as the planner reads it: where each GPU type is, the links."""

from __future__ import annotations

from dicec.errors import PlanError
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

    def link_to(self, gpu: str) -> Link | None:
        """The link a pool on this GPU type fetches its images over (None: beside them)."""
        return self.pools.link(self.pools.images_at, self.site_of_gpu(gpu))

    def max_nodes(self, gpu: str) -> int | None:
        declared = self.pools.gpu_types.get(gpu)
        return declared.max_nodes if declared is not None else None

    def gpu_type(self, gpu: str) -> GpuType:
        try:
            return self.pools.gpu_types[gpu]
        except KeyError:
            raise PlanError(f"pools file {self.pools.name!r} prices no GPU type {gpu!r}") from None

    def pools_file(self, name: str, gpu_types: dict[str, GpuType], pools: list[Pool]) -> PoolsFile:
        return PoolsFile(
            name=name,
            gpu_types=gpu_types,
            pools=pools,
            links=self.pools.links,
            images_at=self.pools.images_at,
        )
