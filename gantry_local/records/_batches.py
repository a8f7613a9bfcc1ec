"""What sits in the log buffer, and how the flush thread turns it into Arrow tables.

A single `log_record` call buffers a plain tuple (cheapest to build); `log_records`
buffers a `RowBatch` (lists of flat dicts) or an `ArrowBatch` (frames, already Arrow).
The flush thread converts them, in order, into at most two tables per application.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any

import pyarrow as pa

from . import _types as types
from ._schema import FEEDBACK, RECORDS

__all__ = ["ArrowBatch", "RowBatch", "TableWrite", "build_section_columns", "convert_items"]

TIME_TYPE = pa.timestamp("us", tz="UTC")
RECORD_META = ("__time", "__join_key", "__version")
FEEDBACK_META = ("__time", "__join_key")

# A single record: (app uid, time_us, join_key, version, input names, input values,
# output names, output values, feedback dict, tags dict). Only ids, strings, numbers and
# tuples of them: once the GC sees such a tuple it stops tracking it, so a full buffer
# does not slow down garbage collection for the whole process.
SingleItem = tuple[int, int, str, "str | None", "tuple[str, ...] | None", "tuple[Any, ...] | None",
                   "tuple[str, ...] | None", "tuple[Any, ...] | None", "dict[str, Any] | None",
                   "dict[str, str] | None"]


@dataclass(slots=True)
class SameShapeRows:
    """One section of a batch whose rows all have the same fields, held column by column.

    The common case of a batch: it is checked and stored with C-level loops only.
    """

    names: tuple[str, ...]
    columns: list[list[Any]]

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def slice(self, start: int, end: int) -> SameShapeRows:
        return SameShapeRows(self.names, [column[start:end] for column in self.columns])


@dataclass(slots=True)
class RowBatch:
    """Records from one `log_records` call with dict rows (already validated and flattened)."""

    app: Any
    times: pa.Array[Any]
    keys: pa.Array[Any]
    version: str | None
    inputs: list[dict[str, Any]] | SameShapeRows | None
    outputs: list[dict[str, Any]] | SameShapeRows | None
    feedback: list[dict[str, Any]] | SameShapeRows | None
    tags: list[dict[str, str]] | SameShapeRows | None

    @property
    def size(self) -> int:
        return len(self.keys)


@dataclass(slots=True)
class ArrowBatch:
    """Records from one `log_records` call given as frames, already converted to Arrow."""

    app: Any
    records: pa.Table | None
    feedback: pa.Table | None

    @property
    def size(self) -> int:
        tables = [t for t in (self.records, self.feedback) if t is not None]
        return max(t.num_rows for t in tables) if tables else 0


@dataclass(slots=True)
class TableWrite:
    """One Arrow table to append to one application's table, with its logical columns."""

    app: str
    kind: str  # "records" or "feedback"
    table: pa.Table
    columns: dict[str, str] = field(default_factory=dict)
    schema: Any = None  # the application's AppSchema, to conform to its latest columns


def merge_writes(writes: Sequence[TableWrite]) -> list[TableWrite]:
    """One write per (application, table), every part cast to the schema's latest columns."""
    groups: dict[tuple[str, str], list[TableWrite]] = {}
    for write in writes:
        groups.setdefault((write.app, write.kind), []).append(write)
    merged = []
    for (app, kind), parts in groups.items():
        if len(parts) == 1:
            merged.append(parts[0])
            continue
        schema = parts[-1].schema
        columns = schema.snapshot(kind) if schema is not None else parts[-1].columns
        table = conform([p.table for p in parts], columns, kind)
        merged.append(TableWrite(app, kind, table, columns, schema))
    return merged


def item_size(item: object) -> int:
    """How many records a buffered item holds."""
    return 1 if type(item) is tuple else item.size  # type: ignore[attr-defined]


def build_section_columns(
    section: str, rows: Sequence[Mapping[str, Any] | None] | SameShapeRows,
    columns: Mapping[str, str],
) -> dict[str, pa.Array[Any]]:
    """Arrow arrays for one section's columns from flat dict rows (None rows become nulls)."""
    if isinstance(rows, SameShapeRows):
        return {f"{section}.{name}": pa.array(values, types.arrow_type(columns[f"{section}.{name}"]))
                for name, values in zip(rows.names, rows.columns, strict=True)}
    prefix = section + "."
    names = [c for c in columns if c.startswith(prefix)]
    if not names:
        return {}
    struct = pa.struct([(c[len(prefix):], types.arrow_type(columns[c])) for c in names])
    if None in rows:
        rows = [r if r is not None else {} for r in rows]
    array = pa.array(rows, type=struct)
    assert isinstance(array, pa.StructArray)
    return {name: array.field(i) for i, name in enumerate(names)}


def _array(values: Sequence[Any] | pa.Array[Any], dtype: pa.DataType) -> pa.Array[Any]:
    return values if isinstance(values, pa.Array) else pa.array(values, dtype)


def records_table(
    columns: Mapping[str, str],
    times: Sequence[int] | pa.Array[Any],
    keys: Sequence[str] | pa.Array[Any],
    versions: Sequence[str | None] | pa.Array[Any],
    sections: Iterable[tuple[str, Sequence[Mapping[str, Any] | None] | SameShapeRows]],
) -> pa.Table:
    """A records table (meta columns plus each section's columns) from flat dict rows."""
    arrays: dict[str, pa.Array[Any]] = {
        "__time": _array(times, TIME_TYPE),
        "__join_key": _array(keys, pa.string()),
        "__version": _array(versions, pa.string()),
    }
    for section, rows in sections:
        arrays.update(build_section_columns(section, rows, columns))
    return pa.table(arrays)


def feedback_table(
    columns: Mapping[str, str], times: Sequence[int] | pa.Array[Any],
    keys: Sequence[str] | pa.Array[Any],
    rows: Sequence[Mapping[str, Any] | None] | SameShapeRows,
) -> pa.Table:
    """A feedback table from flat dict rows."""
    arrays: dict[str, pa.Array[Any]] = {
        "__time": _array(times, TIME_TYPE),
        "__join_key": _array(keys, pa.string()),
    }
    arrays.update(build_section_columns("feedback", rows, columns))
    return pa.table(arrays)


def convert_items(items: Sequence[object], resolve: Callable[[int], Any]) -> list[TableWrite]:
    """Turn buffered items into at most one records and one feedback table per application.

    `resolve` maps a single record's application id to its live state (None once the
    application was deleted: its records are dropped). This runs for every logged
    record, so single records are transposed with ``zip(*...)`` in C, not field by field.
    """
    if items and set(map(type, items)) == {tuple}:  # the common case: only log_record calls
        ids = set(map(itemgetter(0), items))  # type: ignore[arg-type]
        if len(ids) == 1:
            app = resolve(ids.pop())
            if app is None:
                return []
            recs: list[pa.Table] = []
            fbs: list[pa.Table] = []
            _convert_singles(app, items, recs, fbs)  # type: ignore[arg-type]
            return _writes({app.name: (app, recs, fbs)})
    parts: dict[str, tuple[Any, list[pa.Table], list[pa.Table]]] = {}
    singles: dict[int, list[SingleItem]] = {}

    def entry(app: Any) -> tuple[Any, list[pa.Table], list[pa.Table]]:
        found = parts.get(app.name)
        if found is None:
            found = parts[app.name] = (app, [], [])
        return found

    def close(uid: int) -> None:
        rows = singles.pop(uid, None)
        app = resolve(uid)
        if rows and app is not None:
            _, recs, fbs = entry(app)
            _convert_singles(app, rows, recs, fbs)

    for item in items:
        if type(item) is tuple:
            singles.setdefault(item[0], []).append(item)  # type: ignore[arg-type]
            continue
        app = item.app  # type: ignore[attr-defined]
        if app.deleted:
            continue
        close(app.uid)
        _, recs, fbs = entry(app)
        if isinstance(item, RowBatch):
            _convert_row_batch(item, recs, fbs)
        elif isinstance(item, ArrowBatch):
            if item.records is not None:
                recs.append(item.records)
            if item.feedback is not None:
                fbs.append(item.feedback)
    for uid in list(singles):
        close(uid)
    return _writes(parts)


def _writes(parts: Mapping[str, tuple[Any, list[pa.Table], list[pa.Table]]]) -> list[TableWrite]:
    writes: list[TableWrite] = []
    for app, recs, fbs in parts.values():
        for kind, tables in ((RECORDS, recs), (FEEDBACK, fbs)):
            if tables:
                columns = app.schema.snapshot(kind)
                writes.append(TableWrite(app.name, kind, conform(tables, columns, kind), columns,
                                         app.schema))
    return writes


def _convert_singles(app: Any, rows: Sequence[SingleItem], recs: list[pa.Table],
                     fbs: list[pa.Table]) -> None:
    in_keys = list(map(itemgetter(4), rows))
    if None in in_keys:  # some are feedback alone
        picked = [n for n, k in enumerate(in_keys) if k is not None]
        predictions = [rows[n] for n in picked]
    else:
        predictions = list(rows)
    if predictions:
        schema = app.schema.snapshot(RECORDS)
        shapes: dict[tuple[Any, Any], list[SingleItem]] = {}
        for row in predictions:
            shapes.setdefault((row[4], row[6]), []).append(row)
        if len(shapes) <= _MAX_SHAPE_GROUPS:
            recs.extend(_shape_table(schema, group) for group in shapes.values())
        else:  # many shapes (optional fields): go through dicts once
            _, p_times, p_keys, p_versions, ik, iv, ok, ov, _, p_tags = zip(*predictions, strict=True)
            sections = (("inputs", list(map(dict, map(zip, ik, iv)))),
                        ("outputs", list(map(dict, map(zip, ok, ov)))), ("tags", p_tags))
            recs.append(records_table(schema, p_times, p_keys, p_versions, sections))
    feedback = list(map(itemgetter(8), rows))
    if feedback.count(None) != len(feedback):
        with_fb = [row for row in rows if row[8] is not None]
        fbs.append(feedback_table(app.schema.snapshot(FEEDBACK), _column(with_fb, 1),
                                  _column(with_fb, 2), _column(with_fb, 8)))


_MAX_SHAPE_GROUPS = 8


def _column(rows: Sequence[tuple[Any, ...]], index: int) -> list[Any]:
    return list(map(itemgetter(index), rows))


def _same_shape_columns(section: str, names: Sequence[str], values: Sequence[tuple[Any, ...]],
                        schema: Mapping[str, str]) -> dict[str, pa.Array[Any]]:
    """Arrow arrays from value tuples sharing one field order: a flat list, strided slices."""
    flat = list(chain.from_iterable(values))
    width = len(names)
    return {f"{section}.{name}": pa.array(flat[offset::width],
                                          types.arrow_type(schema[f"{section}.{name}"]))
            for offset, name in enumerate(names)}


def _shape_table(schema: Mapping[str, str], rows: Sequence[SingleItem]) -> pa.Table:
    """A records table from single records that all share one inputs and one outputs shape."""
    arrays: dict[str, pa.Array[Any]] = {
        "__time": pa.array(_column(rows, 1), TIME_TYPE),
        "__join_key": pa.array(_column(rows, 2), pa.string()),
        "__version": pa.array(_column(rows, 3), pa.string()),
    }
    for section, names_at, values_at in (("inputs", 4, 5), ("outputs", 6, 7)):
        names: tuple[str, ...] = rows[0][names_at] or ()  # type: ignore[assignment]
        arrays.update(_same_shape_columns(section, names, _column(rows, values_at), schema))
    tags = _column(rows, 9)
    if tags.count(None) != len(tags):
        arrays.update(build_section_columns("tags", tags, schema))
    return pa.table(arrays)


def _convert_row_batch(batch: RowBatch, recs: list[pa.Table], fbs: list[pa.Table]) -> None:
    app = batch.app
    if batch.inputs is not None:
        cols = app.schema.snapshot(RECORDS)
        versions = pa.array([batch.version] * batch.size, pa.string())
        sections: list[tuple[str, Sequence[Mapping[str, Any] | None] | SameShapeRows]] = [
            ("inputs", batch.inputs), ("outputs", batch.outputs or [])]
        if batch.tags is not None:
            sections.append(("tags", batch.tags))
        recs.append(records_table(cols, batch.times, batch.keys, versions, sections))
    if batch.feedback is not None:
        cols = app.schema.snapshot(FEEDBACK)
        fbs.append(feedback_table(cols, batch.times, batch.keys, batch.feedback))


def conform(tables: list[pa.Table], columns: Mapping[str, str], kind: str) -> pa.Table:
    """Concatenate tables and cast every column to the schema's current type."""
    meta = RECORD_META if kind == RECORDS else FEEDBACK_META
    target = pa.schema(
        [(name, TIME_TYPE if name == "__time" else pa.string()) for name in meta]
        + [(name, types.arrow_type(logical)) for name, logical in columns.items()]
    )
    fixed = []
    for table in tables:
        arrays = []
        for fld in target:
            if fld.name in table.column_names:
                column = table.column(fld.name)
                arrays.append(column if column.type == fld.type else column.cast(fld.type))
            else:
                arrays.append(pa.nulls(table.num_rows, fld.type))
        fixed.append(pa.Table.from_arrays(arrays, schema=target))
    return fixed[0] if len(fixed) == 1 else pa.concat_tables(fixed)
