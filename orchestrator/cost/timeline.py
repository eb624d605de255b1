"""Busy intervals from call traces: per worker, their union; per pool, busy workers over time.

A worker is busy while any forward pass runs on it; calls batched into one pass share
its interval, and overlapping passes of one worker (its concurrency) count once. Cached
and shared calls never occupied a worker and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable

from dicec.records import CallTrace

Interval = tuple[float, float]


def dedupe(traces: Iterable[CallTrace]) -> list[CallTrace]:
    """One trace per call id: a redelivered call is counted once (the last stored wins)."""
    return list({t.call_id: t for t in traces}.values())


def computed(trace: CallTrace) -> bool:
    """Did this call occupy a worker (not a cache hit, not a shared duplicate)?"""
    return (
        not trace.cached
        and trace.worker is not None
        and trace.started_at is not None
        and trace.finished_at is not None
    )


def union(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def total(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def busy_by_worker(traces: Iterable[CallTrace]) -> dict[tuple[str, str], list[Interval]]:
    """(pool, worker) -> the union of its busy intervals."""
    raw: dict[tuple[str, str], list[Interval]] = {}
    for t in traces:
        if computed(t):
            key = (t.pool or "?", t.worker or "?")
            raw.setdefault(key, []).append((t.started_at or 0.0, t.finished_at or 0.0))
    return {key: union(intervals) for key, intervals in raw.items()}


def busy_workers_binned(
    by_worker: dict[tuple[str, str], list[Interval]], t0: float, t1: float, bins: int
) -> dict[str, list[tuple[float, float]]]:
    """Per pool, the mean number of busy workers in each of `bins` equal time bins."""
    width = max(t1 - t0, 1e-9) / bins
    busy: dict[str, list[float]] = {}
    for (pool, _), intervals in by_worker.items():
        acc = busy.setdefault(pool, [0.0] * bins)
        for start, end in intervals:
            first = max(0, int((start - t0) / width))
            last = min(bins - 1, int((end - t0) / width))
            for b in range(first, last + 1):
                lo, hi = t0 + b * width, t0 + (b + 1) * width
                acc[b] += max(0.0, min(end, hi) - max(start, lo)) / width
    return {pool: [(b * width, v) for b, v in enumerate(acc)] for pool, acc in sorted(busy.items())}
