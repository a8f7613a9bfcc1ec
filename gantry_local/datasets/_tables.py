"""Frames and files in, Parquet bytes out: the formats a dataset version can hold.

Every table is checked before any byte is stored: a version that could not be read back
(duplicate or unnamed columns, Python objects, unions ...) is refused with a
`ValidationError`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from ..errors import IntegrityError, ValidationError
from ._checks import encodable

__all__ = ["SUPPORTED_TABLE_SUFFIXES", "check_table", "file_to_table", "frame_to_table",
           "parquet_bytes", "read_file", "read_parquet", "schema_of",
           "write_parquet"]

SUPPORTED_TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
                            ".jsonl": "jsonl", ".ndjson": "jsonl"}
_ARROW_ERRORS = (pa.ArrowException, ValueError, TypeError, OverflowError)


def frame_to_table(frame: Any) -> pa.Table:
    """A checked Arrow table from a polars or pandas DataFrame or an Arrow table/record batch."""
    if isinstance(frame, pa.Table):
        table = frame
    elif isinstance(frame, pa.RecordBatch):
        table = pa.Table.from_batches([frame])
    elif _is_frame(frame, "polars"):
        table = _from_polars(frame)
        check_table(table.schema, "the table", from_polars=True)
        return table
    elif _is_frame(frame, "pandas"):
        table = _from_pandas(frame)
    else:
        raise ValidationError(f"expected a polars or pandas DataFrame or an Arrow table, got "
                              f"{type(frame).__name__}")
    check_table(table.schema, "the table")
    return table


def _is_frame(frame: Any, module: str) -> bool:
    return (type(frame).__module__.split(".")[0] == module
            and type(frame).__name__ == "DataFrame")


def _from_polars(frame: Any) -> pa.Table:
    for name, dtype in frame.schema.items():  # polars panics converting a name with NUL
        _check_polars_name(name, dtype, "")
    objects = [name for name, dtype in frame.schema.items() if dtype == pl.Object]
    if objects:
        raise ValidationError(f"columns {objects} hold Python objects (polars Object), which "
                              "cannot be stored; convert them to numbers, strings or lists")
    return frame.to_arrow()  # type: ignore[no-any-return]


def _check_polars_name(name: str, dtype: Any, path: str) -> None:
    where = f"{path}{name}"
    _check_name(name, "the table", where)
    if isinstance(dtype, pl.Struct):
        for child in dtype.fields:
            _check_polars_name(child.name, child.dtype, f"{where}.")
    elif isinstance(dtype, pl.List | pl.Array):
        _check_polars_name("item", dtype.inner, f"{where}[].")


def _from_pandas(frame: Any) -> pa.Table:
    names = [str(c) for c in frame.columns]
    for name in names:
        _check_name(name, "the table", name)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"the DataFrame has duplicate columns {duplicates}; rename them")
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except _ARROW_ERRORS as exc:
        raise ValidationError(f"cannot store this pandas DataFrame: {_reason(exc)}. Convert "
                              "object, complex or mixed-type columns to numbers, strings, "
                              "booleans, datetimes or lists") from exc


def _reason(exc: Exception) -> str:
    return "; ".join(str(a) for a in exc.args) if exc.args else type(exc).__name__


def check_table(schema: pa.Schema, what: str, from_polars: bool = False) -> None:
    """Refuse a schema whose table could not be stored and read back faithfully."""
    names = schema.names
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(f"{what} has duplicate columns {duplicates}; rename them")
    for field in schema:
        _check_field(field, what)
    if from_polars:
        return
    try:  # polars must be able to read what we store (read() returns polars)
        pl.from_arrow(schema.empty_table())
    except Exception as exc:  # polars raises several unrelated classes here
        raise ValidationError(f"{what} cannot be read back by polars: {exc}") from None


def _check_field(field: pa.Field[Any], what: str, path: str = "") -> None:
    name = field.name
    where = f"{path}{name}"
    _check_name(name, what, where)
    kind = field.type
    if pa.types.is_union(kind):
        raise ValidationError(f"{what}: column {where!r} is a {kind} union, which Parquet cannot "
                              "store; split it into one column per type")
    if pa.types.is_struct(kind):
        children = [kind.field(i) for i in range(kind.num_fields)]
        if not children:
            raise ValidationError(f"{what}: struct column {where!r} has no fields")
        child_names = [c.name for c in children]
        if len(set(child_names)) != len(child_names):
            raise ValidationError(f"{what}: struct column {where!r} has duplicate fields "
                                  f"{child_names}")
        for child in children:
            _check_field(child, what, f"{where}.")
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or \
            pa.types.is_fixed_size_list(kind):
        _check_field(pa.field("item", kind.value_type), what, f"{where}[].")
    elif pa.types.is_map(kind):
        _check_field(pa.field("key", kind.key_type), what, f"{where}.")
        _check_field(pa.field("value", kind.item_type), what, f"{where}.")


def _check_name(name: str, what: str, where: str) -> None:
    """Refuse a column or field name that is empty, holds NUL or is not UTF-8 text."""
    if not name or "\x00" in name or not encodable(name):
        raise ValidationError(f"{what} has a column named {where!r}: column names must be "
                              "non-empty UTF-8 text without NUL bytes")


def write_parquet(table: pa.Table, sink: Any) -> None:
    """Write deterministic Parquet (one chunk layout for one content, zstd) to `sink`.

    Raises:
        ValidationError: a table Parquet cannot hold (a failing sink raises `OSError`).
    """
    try:
        pq.write_table(table.combine_chunks(), sink, compression="zstd")
    except _ARROW_ERRORS as exc:
        raise ValidationError(f"cannot store this table as Parquet: {_reason(exc)}") from exc


def parquet_bytes(table: pa.Table) -> bytes:
    """Deterministic Parquet bytes of `table` (see `write_parquet`)."""
    sink = io.BytesIO()
    write_parquet(table, sink)
    return sink.getvalue()


def read_parquet(data: bytes, context: str = "stored object") -> pa.Table:
    """A stored table; bytes that are not Parquet are an IntegrityError naming `context`."""
    try:
        return pq.read_table(pa.BufferReader(data))
    except _ARROW_ERRORS as exc:
        raise IntegrityError(f"{context}: the object is not a readable Parquet table "
                             f"({_reason(exc)[:120]})") from None


def schema_of(table: pa.Table) -> tuple[tuple[str, str], ...]:
    return tuple((f.name, str(f.type)) for f in table.schema)


def read_file(path: Path) -> bytes:
    """A user's file's bytes (ValidationError when it cannot be read)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from exc


def parquet_meta(data: bytes, what: str) -> tuple[int, tuple[tuple[str, str], ...], pa.Table]:
    """A Parquet file's row count and schema from its footer, plus its feedback columns."""
    try:
        meta = pq.ParquetFile(io.BytesIO(data))
        schema = meta.schema_arrow
        feedback = [n for n in schema.names if n.startswith("feedback.")]
        table = meta.read(columns=feedback) if feedback else schema.empty_table()
    except _ARROW_ERRORS as exc:
        raise ValidationError(f"cannot read {what} as parquet: {_reason(exc)}") from exc
    check_table(schema, what)
    return meta.metadata.num_rows, schema_of(schema.empty_table()), table


def bytes_to_table(data: bytes, kind: str, what: str) -> pa.Table:
    """The checked table held by a CSV, Parquet or JSONL file's bytes."""
    try:
        if kind == "csv":
            table = pacsv.read_csv(io.BytesIO(data))
        elif kind == "parquet":
            table = pq.read_table(io.BytesIO(data))
        else:
            table = pa.table({}) if not data.strip() else pajson.read_json(io.BytesIO(data))
    except (*_ARROW_ERRORS, OSError) as exc:
        raise ValidationError(f"cannot read {what} as {kind}: {_reason(exc)}") from exc
    check_table(table.schema, what)
    return table


def file_to_table(path: Path, types: dict[str, pa.DataType] | None = None) -> pa.Table | None:
    """The checked table in a CSV, Parquet or JSONL file; None for any other file (an artifact).

    `types` are the columns' types where known (a pulled table): a CSV column of lists or
    structs holds JSON text, decoded back to that type.
    """
    kind = SUPPORTED_TABLE_SUFFIXES.get(path.suffix.lower())
    try:
        if kind == "csv":
            table = _decode_nested(pacsv.read_csv(path), types or {}, path)
        elif kind == "parquet":
            table = pq.read_table(path)
        elif kind == "jsonl":
            table = pa.table({}) if path.stat().st_size == 0 else pajson.read_json(path)
        else:
            return None
    except (*_ARROW_ERRORS, OSError, json.JSONDecodeError) as exc:
        raise ValidationError(f"cannot read {str(path)!r} as {kind}: {_reason(exc)}") from exc
    check_table(table.schema, repr(str(path)))
    return table


# -- CSV: lists and structs as JSON text ---------------------------------------------------------

def is_nested(kind: pa.DataType) -> bool:
    return bool(pa.types.is_list(kind) or pa.types.is_large_list(kind)
                or pa.types.is_fixed_size_list(kind) or pa.types.is_struct(kind)
                or pa.types.is_map(kind))


def write_csv(table: pa.Table, target: Path | str) -> None:
    """Write a table as CSV; list, struct and map columns become JSON text."""
    columns = [pa.array([None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                         for v in column.to_pylist()], pa.string())
               if is_nested(column.type) else column for column in table.columns]
    pacsv.write_csv(pa.Table.from_arrays(columns, names=table.column_names), target)


def _decode_nested(table: pa.Table, types: dict[str, pa.DataType], path: Path) -> pa.Table:
    """Turn the JSON text of list and struct columns (as `write_csv` wrote them) back."""
    for index, name in enumerate(table.column_names):
        kind = types.get(name)
        if kind is None or not is_nested(kind):
            continue
        column = table.column(index)
        try:
            values = [None if v is None or v == "" else json.loads(v)
                      for v in column.cast(pa.string()).to_pylist()]
            if pa.types.is_map(kind):
                values = [None if v is None else [tuple(pair) for pair in v] for v in values]
            decoded = pa.array(values, kind)
        except (*_ARROW_ERRORS, json.JSONDecodeError) as exc:
            raise ValidationError(f"column {name!r} of {str(path)!r} must hold JSON values of "
                                  f"type {kind}: {_reason(exc)[:120]}") from exc
        table = table.set_column(index, pa.field(name, kind), decoded)
    return table
