"""What sits in the log buffer, and how the flush thread turns it into Arrow tables.

A `log_record` prediction adds its values to a `RowSlot` (one per field layout) and its
feedback, if any, is a small tuple; `log_records` buffers a `RowBatch` (lists of flat
dicts) or an `ArrowBatch` (frames, already Arrow). The flush thread converts them into
at most two tables per application, feedback in the order it was logged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from operator import itemgetter
from typing import Any, Protocol

import pyarrow as pa

from . import _types as types
from ._schema import FEEDBACK, RECORDS, AppSchema

__all__ = [
    "ArrowBatch", "RowBatch", "TableWrite", "build_section_columns", "convert_apart",
    "convert_items",
]

TIME_TYPE = pa.timestamp("us", tz="UTC")
RECORD_META = ("__time", "__join_key", "__version")
FEEDBACK_META = ("__time", "__join_key")

# Feedback logged by `log_record`: (app uid, time_us, join_key, flat feedback dict). It
# keeps its place in the queue, since the latest feedback for a key wins.
FeedbackItem = tuple[int, int, str, dict[str, Any]]
FB_APP, FB_TIME, FB_KEY, FB_VALUES = range(4)  # its positions

# Where a `RowSlot` keeps each record's metadata, ahead of its input and output values.
class BatchApp(Protocol):
    """What a batch knows of the application it belongs to (`_single.AppState`)."""

    @property
    def name(self) -> str: ...
    @property
    def schema(self) -> AppSchema: ...
    @property
    def deleted(self) -> bool: ...
    @property
    def uid(self) -> int: ...


TIME, KEY, VERSION, TAGS = range(4)  # time_us, join_key, version, tags (a dict or None)
META_WIDTH = 4


@dataclass(slots=True, eq=False)
class RowSlot:
    """Predictions from `log_record` of one application and one field layout, gathered flat.

    Each record adds `width` values to `values`: time, join key, version, tags, then
    its inputs and outputs in `inputs`/`outputs` order. Only numbers, strings and None
    (tags aside) sit in the list, so holding records costs the garbage collector
    nothing, and the flush thread turns each column into Arrow with one strided slice.
    The buffer's lock guards `values` and `queued`.
    """

    app: BatchApp
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    values: list[Any] = field(default_factory=list)
    queued: bool = False  # waiting in the buffer's queue

    @property
    def width(self) -> int:
        return META_WIDTH + len(self.inputs) + len(self.outputs)

    def take(self, most: int) -> RowChunk:
        """The oldest `most` records (or all), removed from the slot."""
        values, cut = self.values, most * self.width
        if len(values) <= cut:
            self.values = []
        else:
            self.values, values = values[cut:], values[:cut]
        return RowChunk(self, values)


@dataclass(slots=True)
class RowChunk:
    """Records taken out of a `RowSlot` by the flush thread."""

    slot: RowSlot
    values: list[Any]

    @property
    def size(self) -> int:
        return len(self.values) // self.slot.width


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

    app: BatchApp
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

    def part(self, start: int, end: int) -> RowBatch:
        """The records in ``[start, end)``."""
        def rows(section: Any) -> Any:
            if section is None:
                return None
            return section.slice(start, end) if isinstance(section, SameShapeRows) \
                else section[start:end]

        return RowBatch(self.app, self.times[start:end], self.keys[start:end], self.version,
                        rows(self.inputs), rows(self.outputs), rows(self.feedback),
                        rows(self.tags))


@dataclass(slots=True)
class ArrowBatch:
    """Records from one `log_records` call given as frames, already converted to Arrow."""

    app: BatchApp
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

    def rows(self, start: int, end: int) -> TableWrite:
        """The rows ``[start, end)``, without the fields none of them has a value for (so
        a column that cannot be added holds up only the rows with a value in it)."""
        table = self.table.slice(start, end - start)
        empty = [name for name, column in zip(table.column_names, table.columns, strict=True)
                 if name in self.columns and column.null_count == len(column)]
        columns = {name: logical for name, logical in self.columns.items() if name not in empty}
        return TableWrite(self.app, self.kind, table.drop_columns(empty), columns, self.schema)


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
        return {f"{section}.{name}": typed_array(values, types.arrow_type(columns[f"{section}.{name}"]))
                for name, values in zip(rows.names, rows.columns, strict=True)}
    prefix = section + "."
    names = [c for c in columns if c.startswith(prefix)]
    if not names:
        return {}
    struct = pa.struct([(c[len(prefix):], types.arrow_type(columns[c])) for c in names])
    if None in rows:
        rows = [r if r is not None else {} for r in rows]
    try:
        array = pa.array(rows, type=struct)
    except pa.ArrowInvalid:
        floats = [c[len(prefix):] for c in names if pa.types.is_floating(types.arrow_type(columns[c]))]
        array = pa.array([_ints_as_floats(r or {}, floats) for r in rows], type=struct)
    assert isinstance(array, pa.StructArray)
    return {name: array.field(i) for i, name in enumerate(names)}


def typed_array(values: Sequence[Any], dtype: pa.DataType) -> pa.Array[Any]:
    """`pa.array(values, dtype)`, with ints in a float column converted as floats.

    An int column widens to float, but pyarrow refuses ints beyond 2**53 for a float type:
    they are converted by Python (rounded, as the widening implies) only when that happens.
    """
    try:
        return pa.array(values, dtype)
    except pa.ArrowInvalid:
        if not pa.types.is_floating(dtype):
            raise
        return pa.array([float(v) if isinstance(v, int) else v for v in values], dtype)


def _ints_as_floats(row: Mapping[str, Any], floats: Sequence[str]) -> Mapping[str, Any]:
    if not any(isinstance(row.get(name), int) for name in floats):
        return row
    return {**row, **{n: float(row[n]) for n in floats if isinstance(row.get(n), int)}}


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

    Feedback keeps its order (the latest for a key wins): single feedbacks of an
    application are converted before a later batch of the same application. Records
    of a deleted application are dropped; `resolve` maps a feedback item's application
    id to its live state, or None once it was deleted.
    """
    parts: dict[str, tuple[Any, list[pa.Table], list[pa.Table]]] = {}
    chunks: dict[str, list[RowChunk]] = {}
    singles: dict[int, list[FeedbackItem]] = {}

    def entry(app: Any) -> tuple[Any, list[pa.Table], list[pa.Table]]:
        found = parts.get(app.name)
        if found is None:
            found = parts[app.name] = (app, [], [])
        return found

    def close(uid: int) -> None:
        rows = singles.pop(uid, None)
        app = resolve(uid)
        if rows and app is not None:
            entry(app)[2].append(feedback_table(app.schema.snapshot(FEEDBACK),
                                                _column(rows, FB_TIME), _column(rows, FB_KEY),
                                                _column(rows, FB_VALUES)))

    for item in items:
        kind = type(item)
        if kind is tuple:
            singles.setdefault(item[FB_APP], []).append(item)  # type: ignore[index,arg-type]
            continue
        if kind is RowChunk:
            app = item.slot.app  # type: ignore[attr-defined]
            if not app.deleted:
                entry(app)
                chunks.setdefault(app.name, []).append(item)  # type: ignore[arg-type]
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
    for name, found in chunks.items():
        app, recs, _ = parts[name]
        recs.extend(_chunk_tables(app.schema.snapshot(RECORDS), found))
    return _writes(parts)


def convert_apart(items: Sequence[object], resolve: Callable[[int], Any]
                  ) -> tuple[list[TableWrite], int, Exception | None]:
    """Convert items that failed together: each alone, halving any that still fails.

    Converting is deterministic, so a record that failed once (a string with a lone
    surrogate, say) would fail forever and hold up every record behind it. This finds
    such records in a few conversions and leaves them out.

    Returns:
        The tables, how many records were left out, and why the first one failed.
    """
    writes: list[TableWrite] = []
    dropped = 0
    cause: Exception | None = None
    stack = list(reversed(items))
    while stack:
        item = stack.pop()
        try:
            writes.extend(convert_items([item], resolve))
        except Exception as exc:
            halves = _halves(item)
            if halves is None:
                dropped += item_size(item)
                cause = cause or exc
            else:
                stack.extend(reversed(halves))
    return writes, dropped, cause


def _halves(item: object) -> list[object] | None:
    """Two items holding the records of `item`, or None for one record (or a frame's chunk,
    already Arrow, which cannot fail to convert)."""
    if isinstance(item, RowChunk) and item.size > 1:
        cut = item.size // 2 * item.slot.width
        return [RowChunk(item.slot, item.values[:cut]), RowChunk(item.slot, item.values[cut:])]
    if isinstance(item, RowBatch) and item.size > 1:
        middle = item.size // 2
        return [item.part(0, middle), item.part(middle, item.size)]
    return None


def _writes(parts: Mapping[str, tuple[Any, list[pa.Table], list[pa.Table]]]) -> list[TableWrite]:
    writes: list[TableWrite] = []
    for app, recs, fbs in parts.values():
        for kind, tables in ((RECORDS, recs), (FEEDBACK, fbs)):
            if tables:
                columns = app.schema.snapshot(kind)
                writes.append(TableWrite(app.name, kind, conform(tables, columns, kind), columns,
                                         app.schema))
    return writes


_MAX_SLOT_TABLES = 8


def _column(rows: Sequence[tuple[Any, ...]], index: int) -> list[Any]:
    return list(map(itemgetter(index), rows))


def _chunk_tables(schema: Mapping[str, str], chunks: Sequence[RowChunk]) -> list[pa.Table]:
    """Tables from single predictions: one per field layout, each column one strided slice.

    Past a few layouts (records with optional fields) the records go through dicts once
    instead, since every extra table costs more than the rows in it.
    """
    groups: dict[RowSlot, list[list[Any]]] = {}
    for chunk in chunks:
        groups.setdefault(chunk.slot, []).append(chunk.values)
    slots = [(slot, parts[0] if len(parts) == 1 else list(chain.from_iterable(parts)))
             for slot, parts in groups.items()]
    if len(slots) <= _MAX_SLOT_TABLES:
        return [_slot_table(schema, slot, values) for slot, values in slots]
    times: list[Any] = []
    keys: list[Any] = []
    versions: list[Any] = []
    tags: list[Any] = []
    inputs: list[dict[str, Any]] = []
    outputs: list[dict[str, Any]] = []
    for slot, values in slots:
        width, split = slot.width, META_WIDTH + len(slot.inputs)
        times += values[TIME::width]
        keys += values[KEY::width]
        versions += values[VERSION::width]
        tags += values[TAGS::width]
        inputs += [dict(zip(slot.inputs, values[i + META_WIDTH:i + split], strict=True))
                   for i in range(0, len(values), width)]
        outputs += [dict(zip(slot.outputs, values[i + split:i + width], strict=True))
                    for i in range(0, len(values), width)]
    return [records_table(schema, times, keys, versions,
                          (("inputs", inputs), ("outputs", outputs), ("tags", tags)))]


def _slot_table(schema: Mapping[str, str], slot: RowSlot, values: list[Any]) -> pa.Table:
    """A records table from one slot's flat values."""
    width = slot.width
    arrays: dict[str, pa.Array[Any]] = {
        "__time": pa.array(values[TIME::width], pa.int64()).view(TIME_TYPE),
        "__join_key": pa.array(values[KEY::width], pa.string()),
        "__version": pa.array(values[VERSION::width], pa.string()),
    }
    tags = values[TAGS::width]
    if tags.count(None) != len(tags):
        arrays.update(build_section_columns("tags", tags, schema))
    offset = META_WIDTH
    for section, names in (("inputs", slot.inputs), ("outputs", slot.outputs)):
        for name in names:
            column = f"{section}.{name}"
            arrays[column] = typed_array(values[offset::width], types.arrow_type(schema[column]))
            offset += 1
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
