"""What sits in the log buffer, and how the flush thread turns it into Arrow tables.

A single `log_record` call buffers a plain tuple (cheapest to build); `log_records`
buffers a `RowBatch` (lists of flat dicts) or an `ArrowBatch` (frames, already Arrow).
The flush thread converts them, in order, into at most two tables per application.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from . import _types as types
from ._schema import FEEDBACK, RECORDS

__all__ = ["ArrowBatch", "RowBatch", "TableWrite", "build_section_columns", "convert_items"]

TIME_TYPE = pa.timestamp("us", tz="UTC")
RECORD_META = ("__time", "__join_key", "__version")
FEEDBACK_META = ("__time", "__join_key")

# A single record: (app_state, time_us, join_key, version, inputs, outputs, feedback, tags)
SingleItem = tuple[Any, int, str, "str | None", "dict[str, Any] | None", "dict[str, Any] | None",
                   "dict[str, Any] | None", "dict[str, str] | None"]


@dataclass(slots=True)
class RowBatch:
    """Records from one `log_records` call with dict rows (already validated and flattened)."""

    app: Any
    times: list[int]
    keys: list[str]
    version: str | None
    inputs: list[dict[str, Any]] | None
    outputs: list[dict[str, Any]] | None
    feedback: list[dict[str, Any]] | None
    tags: list[dict[str, str]] | None

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


def item_size(item: object) -> int:
    """How many records a buffered item holds."""
    return 1 if type(item) is tuple else item.size  # type: ignore[attr-defined]


def build_section_columns(
    section: str, rows: Sequence[Mapping[str, Any] | None], columns: Mapping[str, str]
) -> dict[str, pa.Array[Any]]:
    """Arrow arrays for one section's columns from flat dict rows (None rows become nulls)."""
    prefix = section + "."
    names = [c for c in columns if c.startswith(prefix)]
    if not names:
        return {}
    struct = pa.struct([(c[len(prefix):], types.arrow_type(columns[c])) for c in names])
    rows = [r if r is not None else {} for r in rows]
    array = pa.array(rows, type=struct)
    assert isinstance(array, pa.StructArray)
    return {name: array.field(i) for i, name in enumerate(names)}


class _Pending:
    """Rows of one application gathered from consecutive single records."""

    __slots__ = ("app", "fb_inputs", "fb_keys", "fb_times", "inputs", "keys", "outputs", "tags",
                 "times", "versions")

    def __init__(self, app: Any) -> None:
        self.app = app
        self.times: list[int] = []
        self.keys: list[str] = []
        self.versions: list[str | None] = []
        self.inputs: list[dict[str, Any] | None] = []
        self.outputs: list[dict[str, Any] | None] = []
        self.tags: list[dict[str, str] | None] = []
        self.fb_times: list[int] = []
        self.fb_keys: list[str] = []
        self.fb_inputs: list[dict[str, Any] | None] = []


def records_table(
    columns: Mapping[str, str],
    times: Sequence[int],
    keys: Sequence[str],
    versions: Sequence[str | None] | pa.Array[Any],
    sections: Iterable[tuple[str, Sequence[Mapping[str, Any] | None]]],
) -> pa.Table:
    """A records table (meta columns plus each section's columns) from flat dict rows."""
    arrays: dict[str, pa.Array[Any]] = {
        "__time": pa.array(times, TIME_TYPE),
        "__join_key": pa.array(keys, pa.string()),
        "__version": versions if isinstance(versions, pa.Array) else pa.array(versions, pa.string()),
    }
    for section, rows in sections:
        arrays.update(build_section_columns(section, rows, columns))
    return pa.table(arrays)


def feedback_table(
    columns: Mapping[str, str], times: Sequence[int], keys: Sequence[str],
    rows: Sequence[Mapping[str, Any] | None],
) -> pa.Table:
    """A feedback table from flat dict rows."""
    arrays: dict[str, pa.Array[Any]] = {
        "__time": pa.array(times, TIME_TYPE),
        "__join_key": pa.array(keys, pa.string()),
    }
    arrays.update(build_section_columns("feedback", rows, columns))
    return pa.table(arrays)


def convert_items(items: Sequence[object]) -> list[TableWrite]:
    """Turn buffered items into at most one records and one feedback table per application."""
    parts: dict[str, tuple[Any, list[pa.Table], list[pa.Table]]] = {}
    pending: dict[str, _Pending] = {}

    def entry(app: Any) -> tuple[Any, list[pa.Table], list[pa.Table]]:
        found = parts.get(app.name)
        if found is None:
            found = parts[app.name] = (app, [], [])
        return found

    def close(app: Any) -> None:
        rows = pending.pop(app.name, None)
        if rows is None:
            return
        _, recs, fbs = entry(app)
        if rows.keys:
            cols = app.schema.snapshot(RECORDS)
            sections = (("inputs", rows.inputs), ("outputs", rows.outputs), ("tags", rows.tags))
            recs.append(records_table(cols, rows.times, rows.keys, rows.versions, sections))
        if rows.fb_keys:
            cols = app.schema.snapshot(FEEDBACK)
            fbs.append(feedback_table(cols, rows.fb_times, rows.fb_keys, rows.fb_inputs))

    for item in items:
        if type(item) is tuple:
            app, time_us, key, version, inputs, outputs, feedback, tags = item
            rows = pending.get(app.name)
            if rows is None:
                rows = pending[app.name] = _Pending(app)
            if inputs is not None:
                rows.times.append(time_us)
                rows.keys.append(key)
                rows.versions.append(version)
                rows.inputs.append(inputs)
                rows.outputs.append(outputs)
                rows.tags.append(tags)
            if feedback is not None:
                rows.fb_times.append(time_us)
                rows.fb_keys.append(key)
                rows.fb_inputs.append(feedback)
            continue
        app = item.app  # type: ignore[attr-defined]
        close(app)
        _, recs, fbs = entry(app)
        if isinstance(item, RowBatch):
            _convert_row_batch(item, recs, fbs)
        elif isinstance(item, ArrowBatch):
            if item.records is not None:
                recs.append(item.records)
            if item.feedback is not None:
                fbs.append(item.feedback)
    for rows in list(pending.values()):
        close(rows.app)

    writes: list[TableWrite] = []
    for app, recs, fbs in parts.values():
        for kind, tables in ((RECORDS, recs), (FEEDBACK, fbs)):
            if tables:
                columns = app.schema.snapshot(kind)
                writes.append(TableWrite(app.name, kind, conform(tables, columns, kind), columns))
    return writes


def _convert_row_batch(batch: RowBatch, recs: list[pa.Table], fbs: list[pa.Table]) -> None:
    app = batch.app
    if batch.inputs is not None:
        cols = app.schema.snapshot(RECORDS)
        versions = pa.array([batch.version] * batch.size, pa.string())
        sections: list[tuple[str, Sequence[Mapping[str, Any] | None]]] = [
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
