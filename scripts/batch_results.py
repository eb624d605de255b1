"""A batch's task records written as a file: JSONL (the records as stored), CSV or
Parquet (one row per task; `value` and `printed` as JSON text)."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any, Literal

from dicec.errors import DicecError
from dicec.records import TaskRecord
from dicec.redis_conn import async_client, sync_client
from dicec.settings import Settings
from orchestrator.batch.status import load_meta, load_records
from orchestrator.batch.store import BatchStore

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
COLUMNS = (
    "index",
    "image",
    "status",
    "value",
    "printed",
    "error_type",
    "error",
    "started_at",
    "finished_at",
    "calls",
    "node",
)


def row(record: TaskRecord) -> dict[str, Any]:
    data = record.model_dump()
    data["value"] = json.dumps(record.value)
    data["printed"] = json.dumps(record.printed)
    return {c: data[c] for c in COLUMNS}


def write_results(settings: Settings, batch_id: str, path: Path, fmt: str) -> int:
    """Write every task record of the batch; how many were written."""
    if fmt not in FORMATS:
        raise DicecError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    r = sync_client(settings)
    load_meta(r, batch_id)  # an unknown id is refused, not written as an empty file
    records = load_records(r, batch_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        WRITERS[fmt](records, path)
    except OSError as exc:
        raise DicecError(f"cannot write {path}: {exc.strerror}") from None
    return len(records)


def _jsonl(records: list[TaskRecord], path: Path) -> None:
    with path.open("w") as fh:
        for record in records:
            fh.write(record.model_dump_json() + "\n")


def _csv(records: list[TaskRecord], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(row(r) for r in records)


def _parquet(records: list[TaskRecord], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("index", pa.int64()),
            ("image", pa.string()),
            ("status", pa.string()),
            ("value", pa.string()),
            ("printed", pa.string()),
            ("error_type", pa.string()),
            ("error", pa.string()),
            ("started_at", pa.float64()),
            ("finished_at", pa.float64()),
            ("calls", pa.int64()),
            ("node", pa.string()),
        ]
    )
    pq.write_table(pa.Table.from_pylist([row(r) for r in records], schema=schema), path)


WRITERS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}


def drop_failed(settings: Settings, batch_id: str) -> int:
    """Forget the failed tasks' records (a resume then runs exactly those); how many."""

    async def drop() -> int:
        aredis = async_client(settings)
        try:
            return len(await BatchStore(aredis, batch_id).drop_failed())
        finally:
            await aredis.aclose()

    return asyncio.run(drop())


def request_cancel(settings: Settings, batch_id: str) -> None:
    async def cancel() -> None:
        aredis = async_client(settings)
        try:
            await BatchStore(aredis, batch_id).request_cancel()
        finally:
            await aredis.aclose()

    asyncio.run(cancel())
