"""Frames and files in, Parquet bytes out: the formats a dataset version can hold."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ..errors import ValidationError

__all__ = ["SUPPORTED_TABLE_SUFFIXES", "file_to_table", "frame_to_table", "parquet_bytes",
           "read_parquet", "schema_of"]

SUPPORTED_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
                            ".jsonl": "jsonl", ".ndjson": "jsonl"}


def frame_to_table(frame: Any) -> pa.Table:
    """An Arrow table from a polars or pandas DataFrame or an Arrow table/record batch."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatch):
        return pa.Table.from_batches([frame])
    module = type(frame).__module__.split(".")[0]
    if module == "polars" and type(frame).__name__ == "DataFrame":
        return frame.to_arrow()  # type: ignore[no-any-return]
    if module == "pandas" and type(frame).__name__ == "DataFrame":
        return pa.Table.from_pandas(frame, preserve_index=False)
    raise ValidationError(f"expected a polars or pandas DataFrame or an Arrow table, got "
                          f"{type(frame).__name__}")


def parquet_bytes(table: pa.Table) -> bytes:
    """Deterministic Parquet bytes: one chunk layout for one content (zstd)."""
    sink = io.BytesIO()
    pq.write_table(table.combine_chunks(), sink, compression="zstd")
    return sink.getvalue()


def read_parquet(data: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(data))


def schema_of(table: pa.Table) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in table.schema)


def parquet_entry(path: Path) -> tuple[bytes, int, tuple[tuple[str, str], ...]] | None:
    """A Parquet file's bytes, row count and schema, read from its footer; None if not Parquet."""
    if SUPPORTED_TABLE_SUFFIXES.get(path.suffix.lower()) != "parquet":
        return None
    data = path.read_bytes()
    try:
        meta = pq.ParquetFile(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"cannot read {str(path)!r} as parquet: {exc}") from exc
    return data, meta.metadata.num_rows, schema_of(meta.schema_arrow.empty_table())


def file_to_table(path: Path) -> pa.Table | None:
    """The table in a CSV, Parquet or JSONL file; None for any other file (an artifact)."""
    kind = SUPPORTED_TABLE_SUFFIXES.get(path.suffix.lower())
    try:
        if kind == "csv":
            return pacsv.read_csv(path)
        if kind == "parquet":
            return pq.read_table(path)
        if kind == "jsonl":
            if path.stat().st_size == 0:
                return pa.table({})
            return pajson.read_json(path)
    except (pa.ArrowInvalid, OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read {str(path)!r} as {kind}: {exc}") from exc
    return None
