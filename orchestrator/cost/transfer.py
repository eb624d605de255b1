"""What crossed the links between sites: bytes per link from the call traces, their price.

The images live in Redis, at the broker's site (`broker_at`, default the images' site).
A call served at another site has its image (or crop) shipped over the link between the
two (CallTrace.transfer_bytes). When the broker is not where the photos are taken, each
distinct photo is also uploaded to it once, before its tasks start (its stored bytes: the
largest image any call of its tasks read). The link's price per GB gives the bill; its
bandwidth and round-trip time give the transfer time each call paid before it ran
(`transfer_s`, what the Gantt chart draws in front of the call).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from dicec.records import BatchMeta, CallTrace, LinkRecord
from orchestrator.cost.timeline import dedupe

BITS_PER_BYTE = 8
BITS_PER_MBIT = 1e6
SECONDS_PER_MS = 1e-3
BYTES_PER_GB = 1e9


class TransferCost(BaseModel):
    link: str = Field(description="'a<->b'")
    calls: int = Field(description="calls that shipped images over it")
    uploads: int = Field(default=0, description="photos uploaded over it to the broker")
    bytes: int
    price_per_gb: float
    cost_usd: float
    transfer_s: float = Field(description="sum over calls of rtt + bytes / bandwidth")


def link_transfer_s(link: LinkRecord, nbytes: int | float) -> float:
    wire_s = nbytes * BITS_PER_BYTE / (link.bandwidth_mbps * BITS_PER_MBIT)
    return link.rtt_ms * SECONDS_PER_MS + wire_s


def link_between(meta: BatchMeta, a: str, b: str) -> LinkRecord | None:
    if a == b:
        return None
    return next((link for link in meta.links if set(link.between) == {a, b}), None)


def call_transfer_s(meta: BatchMeta, trace: CallTrace) -> float:
    """What the call's shipped bytes took on its link (0: none shipped or no link known)."""
    if not trace.transfer_bytes or trace.site is None:
        return 0.0
    link = link_between(meta, meta.broker_site(), trace.site)
    return link_transfer_s(link, trace.transfer_bytes) if link else 0.0


def photo_uploads(meta: BatchMeta, traces: list[CallTrace]) -> dict[str, int]:
    """Bytes of each distinct photo uploaded to a broker away from the images' site
    (empty when the broker is with the images)."""
    if meta.broker_site() == meta.images_at:
        return {}
    photos: dict[str, int] = {}
    for t in traces:
        if t.task_index is None or not 0 <= t.task_index < len(meta.images):
            continue
        image = meta.images[t.task_index]
        photos[image] = max(photos.get(image, 0), t.image_bytes)
    return photos


def transfer_costs(meta: BatchMeta, traces: list[CallTrace]) -> list[TransferCost]:
    """One row per link of the batch (empty for a one-site batch)."""
    rows = []
    broker = meta.broker_site()
    traces = dedupe(traces)
    photos = photo_uploads(meta, traces)
    for link in meta.links:
        shipped = [
            t
            for t in traces
            if t.transfer_bytes and t.site in link.between and broker in link.between
        ]
        uploaded = list(photos.values()) if {broker, meta.images_at} == set(link.between) else []
        sizes = [t.transfer_bytes for t in shipped] + uploaded
        nbytes = sum(sizes)
        rows.append(
            TransferCost(
                link=f"{link.between[0]}<->{link.between[1]}",
                calls=len(shipped),
                uploads=len(uploaded),
                bytes=nbytes,
                price_per_gb=link.price_per_gb,
                cost_usd=nbytes / BYTES_PER_GB * link.price_per_gb,
                transfer_s=sum(link_transfer_s(link, n) for n in sizes),
            )
        )
    return rows
