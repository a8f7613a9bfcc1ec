"""Row-level diff of two dataset versions, computed by DuckDB over the verified objects.

DuckDB reads the Parquet bytes (hash-checked first) itself and returns only the row numbers
that differ; pyarrow then decodes a side only when rows of it are returned, so a diff costs
about one DuckDB pass over both versions plus one decode.
"""

from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .._sql import quote_ident
from ..errors import IntegrityError, ValidationError
from . import _tables
from ._checks import check_filename, check_version_ref
from ._manifest import TABLE, FileEntry
from ._view import DatasetView

__all__ = ["DatasetDiff", "TableDiff", "diff_versions"]

_DECODER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gantry-local-diff")


@dataclass
class TableDiff:
    """What changed in one table from version `a` to version `b`.

    Rows are matched by `key` (``__join_key`` when both sides have it, a column the caller
    named, or else whole rows). `changed` holds the `b` side of rows whose key exists on
    both sides with different values in the shared columns. A table only one version has
    is all added (or all removed).
    """

    key: str | None
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    columns_retyped: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"added": self.added.height, "removed": self.removed.height,
                "changed": self.changed.height}


@dataclass
class DatasetDiff:
    """What changed from version `a` to version `b`: every file, and every table's rows.

    `files_added`, `files_removed` and `files_changed` name the files (tables and
    artifacts) whose content differs; `tables` holds the row-level `TableDiff` of each
    table that differs, and `counts` sums them. With one table, `added`, `removed`,
    `changed`, `key` and ``columns_*`` are that table's; with several, the frames are the
    tables' rows together with a ``__file`` column (when their columns agree in type) and
    column names are given as ``file:column``.
    """

    a: str
    b: str
    tables: dict[str, TableDiff]
    files_added: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        totals = {"added": 0, "removed": 0, "changed": 0}
        for table in self.tables.values():
            for kind, n in table.counts.items():
                totals[kind] += n
        return totals

    @property
    def key(self) -> str | None:
        keys = {t.key for t in self.tables.values()}
        return keys.pop() if len(keys) == 1 else None

    @property
    def added(self) -> pl.DataFrame:
        return self._rows("added")

    @property
    def removed(self) -> pl.DataFrame:
        return self._rows("removed")

    @property
    def changed(self) -> pl.DataFrame:
        return self._rows("changed")

    def _rows(self, kind: str) -> pl.DataFrame:
        frames = {name: getattr(t, kind) for name, t in self.tables.items()}
        if len(frames) <= 1:
            return next(iter(frames.values()), pl.DataFrame())
        try:
            combined: pl.DataFrame = pl.concat(
                [f.with_columns(pl.lit(name).alias("__file")) for name, f in frames.items()],
                how="diagonal_relaxed")
        except pl.exceptions.PolarsError:
            raise ValidationError(f"the diff spans tables {sorted(frames)} whose columns differ in "
                                  f"type; use diff.tables[name].{kind}") from None
        return combined

    def _columns(self, kind: str) -> list[str]:
        if len(self.tables) == 1:
            return list(getattr(next(iter(self.tables.values())), kind))
        return [f"{name}:{c}" for name, t in self.tables.items() for c in getattr(t, kind)]

    @property
    def columns_added(self) -> list[str]:
        return self._columns("columns_added")

    @property
    def columns_removed(self) -> list[str]:
        return self._columns("columns_removed")

    @property
    def columns_retyped(self) -> dict[str, tuple[str, str]]:
        if len(self.tables) == 1:
            return dict(next(iter(self.tables.values())).columns_retyped)
        return {f"{name}:{c}": types for name, t in self.tables.items()
                for c, types in t.columns_retyped.items()}

    def __str__(self) -> str:
        counts = self.counts
        keys = sorted({t.key or "whole rows" for t in self.tables.values()}) or ["whole rows"]
        lines = [f"diff {self.a[:12]} -> {self.b[:12]} (matched by {', '.join(keys)}): "
                 f"{counts['added']:,} added, {counts['removed']:,} removed, "
                 f"{counts['changed']:,} changed"]
        for label, names in (("files added", self.files_added),
                             ("files removed", self.files_removed),
                             ("files changed", self.files_changed)):
            if names and (len(self.tables) > 1 or label != "files changed"):
                lines.append(f"{label}: {', '.join(names)}")
        if self.columns_added:
            lines.append(f"columns added: {', '.join(self.columns_added)}")
        if self.columns_removed:
            lines.append(f"columns removed: {', '.join(self.columns_removed)}")
        for name, (old, new) in self.columns_retyped.items():
            lines.append(f"column {name}: {old} -> {new}")
        return "\n".join(lines)


def diff_versions(dataset: DatasetView, a: str, b: str | None, key: str | None = None,
                  filename: str | None = None) -> DatasetDiff:
    """Diff every file of two versions (or only table `filename`)."""
    check_version_ref(a, "a", optional=False)
    check_version_ref(b, "b")
    if key is not None and (not isinstance(key, str) or not key):
        raise ValidationError(f"key must be a column name, got {key!r}")
    if filename is not None:
        check_filename(filename)
    full_a, full_b = dataset.resolve(a), dataset.resolve(b)
    files_a, files_b = dataset.manifest(full_a).files, dataset.manifest(full_b).files
    if filename is not None:
        left, right = files_a.get(filename), files_b.get(filename)
        if not _is_table(left) and not _is_table(right):
            raise ValidationError(f"neither version has a table {filename!r}")
        files_a = {filename: left} if left is not None else {}
        files_b = {filename: right} if right is not None else {}
    if key is not None:
        _check_key(key, files_a, files_b)
    result = DatasetDiff(
        full_a, full_b, {},
        files_added=sorted(n for n in files_b if n not in files_a),
        files_removed=sorted(n for n in files_a if n not in files_b),
        files_changed=sorted(n for n in files_a if n in files_b and files_a[n] != files_b[n]))
    for name in sorted(set(files_a) | set(files_b)):
        left, right = files_a.get(name), files_b.get(name)
        if (_is_table(left) or _is_table(right)) and (left != right or filename is not None):
            result.tables[name] = _table_diff(dataset, full_a, full_b, name, left, right, key)
    return result


def _check_key(key: str, files_a: dict[str, FileEntry], files_b: dict[str, FileEntry]) -> None:
    """An explicit key must be a column of every table both versions have."""
    for name, left in files_a.items():
        right = files_b.get(name)
        if _is_table(left) and right is not None and _is_table(right) and not (
                key in dict(left.schema) and key in dict(right.schema)):
            raise ValidationError(f"key {key!r} is not a column of both versions of table "
                                  f"{name!r}")


def _is_table(entry: FileEntry | None) -> bool:
    return entry is not None and entry.kind == TABLE


def _table_diff(dataset: DatasetView, full_a: str, full_b: str, name: str, left: FileEntry | None,
                right: FileEntry | None, key: str | None) -> TableDiff:
    """The row-level diff of one table; a side without the table counts as empty."""
    if left is None or left.kind != TABLE or right is None or right.kind != TABLE:
        table_a = dataset._read_table(full_a, name, left, True) \
            if left is not None and left.kind == TABLE else None
        table_b = dataset._read_table(full_b, name, right, True) \
            if right is not None and right.kind == TABLE else None
        only = table_b if table_a is None else table_a
        assert only is not None
        rows = _frame(only)
        empty = rows.clear()
        return TableDiff(key, rows if table_a is None else empty,
                         empty if table_a is None else rows, empty)
    side_a = _Side(dataset, full_a, name, left)
    side_b = _Side(dataset, full_b, name, right)
    types_a = {f.name: str(f.type) for f in side_a.schema}
    types_b = {f.name: str(f.type) for f in side_b.schema}
    shared = [c for c in types_b if c in types_a and types_a[c] == types_b[c]]
    table_key = key
    if key is None and "__join_key" in types_a and "__join_key" in types_b:
        table_key = "__join_key"
    if table_key is not None and (table_key not in types_a or table_key not in types_b):
        raise ValidationError(f"key {table_key!r} is not a column of both versions of table "
                              f"{name!r}")
    added, removed, changed = _row_differences(side_a, side_b, shared, table_key)
    return TableDiff(
        table_key, added, removed, changed,
        columns_added=[c for c in types_b if c not in types_a],
        columns_removed=[c for c in types_a if c not in types_b],
        columns_retyped={c: (types_a[c], types_b[c]) for c in types_b
                         if c in types_a and types_a[c] != types_b[c]})


class _Side:
    """One version's table: its objects' verified bytes, read once, decoded only if needed."""

    def __init__(self, dataset: DatasetView, full: str, name: str, entry: FileEntry) -> None:
        self.context = f"dataset {dataset.name!r} version {full} file {name!r}"
        self.data = [dataset.store.read_object(p.object, self.context) for p in entry.parts]
        self._table: pa.Table | None = None
        self._decoding: Future[pa.Table] | None = None
        try:  # footers: the schema, and each part's row count (not the manifest's word)
            footers = [pq.read_metadata(pa.BufferReader(data)) for data in self.data]
            self.schema = footers[0].schema.to_arrow_schema() if footers else pa.schema([])
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise IntegrityError(f"{self.context}: the object is not a readable Parquet table "
                                 f"({exc})") from None
        self.rows_per_part = [footer.num_rows for footer in footers]

    def decode_ahead(self) -> None:
        """Start decoding in another thread (DuckDB scans each one-row-group object on one
        core, so the other is free while it pairs the rows)."""
        if self._decoding is None and self._table is None:
            self._decoding = _DECODER.submit(self._decode)

    @property
    def table(self) -> pa.Table:
        """The decoded table (every part, in order)."""
        if self._table is None:
            self._table = self._decoding.result() if self._decoding is not None \
                else self._decode()
        return self._table

    def _decode(self) -> pa.Table:
        tables = [_tables.read_parquet(data, self.context) for data in self.data]
        return pa.table({}) if not tables else tables[0] if len(tables) == 1 \
            else pa.concat_tables(tables)

    def rows(self, positions: pa.ChunkedArray[Any]) -> pl.DataFrame:
        """The rows at `positions`, in order; no decode when there are none."""
        if not len(positions):
            return _frame(self.schema.empty_table())
        return _frame(self.table.take(positions.take(pc.sort_indices(positions))))


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _row_differences(left: _Side, right: _Side, shared: list[str], key: str | None
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The added, removed and changed rows: DuckDB pairs row numbers by key and row hash
    over the Parquet bytes; Arrow tables instead if DuckDB cannot read them."""
    right.decode_ahead()  # rows added or changed come from it: nearly every diff needs them
    con = duckdb.connect()
    try:
        try:
            rows = _pairs(con, _parquet_rows(con, "a", left, shared, key),
                          _parquet_rows(con, "b", right, shared, key), key)
        except duckdb.Error:  # a type or name DuckDB's Parquet reader refuses
            con.close()
            con = duckdb.connect()
            rows = _pairs(con, _arrow_rows(con, "a", left.table, shared, key),
                          _arrow_rows(con, "b", right.table, shared, key), key)
    finally:
        con.close()
    in_a, in_b = rows.column("ra"), rows.column("rb")
    removed = pc.filter(in_a, pc.is_null(in_b))
    added = pc.filter(in_b, pc.is_null(in_a))
    changed = pc.filter(in_b, pc.and_(pc.is_valid(in_a), pc.is_valid(in_b)))
    return right.rows(added), left.rows(removed), right.rows(changed)


def _pairs(con: duckdb.DuckDBPyConnection, a: tuple[str, list[int]], b: tuple[str, list[int]],
           key: str | None) -> pa.Table:
    """``(ra, rb)``: the row numbers of rows only one side has, or (by key) that differ.

    By key, a key may repeat or be null (a null is a key like any other): a key's rows equal
    on both sides cancel one for one, and its remaining rows pair up in file order as changed,
    the surplus of a side being added or removed.

    `a` and `b` are queries of ``(k, h, r)`` (key, row hash, row number) with their parameters.
    """
    (query_a, params_a), (query_b, params_b) = a, b
    if key is None:  # whole rows: multiset difference of row hashes
        numbered = "SELECT h, row_number() OVER (PARTITION BY h) AS n, r FROM"
        sql = (f"SELECT x.r AS ra, y.r AS rb FROM ({numbered} ({query_a})) x FULL OUTER JOIN "
               f"({numbered} ({query_b})) y ON x.h = y.h AND x.n = y.n "
               "WHERE x.h IS NULL OR y.h IS NULL")
    else:  # by key: equal rows of a key cancel (as multisets), the rest pair up in order
        same = "x.k IS NOT DISTINCT FROM y.k AND x.h = y.h AND x.n = y.n"
        numbered = "SELECT k, h, r, row_number() OVER (PARTITION BY k, h ORDER BY r) AS n FROM"
        rest = "SELECT x.k, x.r, row_number() OVER (PARTITION BY x.k ORDER BY x.r) AS m FROM"
        sql = (f"WITH a AS ({numbered} ({query_a})), b AS ({numbered} ({query_b})), "
               f"la AS ({rest} a x ANTI JOIN b y ON {same}), "
               f"lb AS ({rest} b x ANTI JOIN a y ON {same}) "
               "SELECT x.r AS ra, y.r AS rb FROM la x FULL OUTER JOIN lb y "
               "ON x.k IS NOT DISTINCT FROM y.k AND x.m = y.m")
    pairs: pa.Table = con.sql(sql, params=[*params_a, *params_b]).to_arrow_table()
    return pairs


def _hashed(positions: dict[str, int], shared: list[str], key: str | None) -> str:
    """``k, h`` over columns named positionally (``p0``, ``p1`` ...): names that differ only in
    case, or hold any character, cannot confuse DuckDB."""
    row_hash = f"hash({', '.join(quote_ident(f'p{positions[c]}') for c in shared)})" \
        if shared else "0"
    k = quote_ident(f"p{positions[key]}") if key is not None else "NULL"
    return f"{k} AS k, {row_hash} AS h"


def _parquet_rows(con: duckdb.DuckDBPyConnection, label: str, side: _Side, shared: list[str],
                  key: str | None) -> tuple[str, list[int]]:
    """The ``(k, h, r)`` query of one side, DuckDB reading each part's bytes itself."""
    names = side.schema.names
    positions = {name: i for i, name in enumerate(names)}
    aliases = ", ".join(quote_ident(f"p{i}") for i in range(len(names) + 1))
    selects: list[str] = []
    offsets: list[int] = []
    offset = 0
    for index, (rows, data) in enumerate(zip(side.rows_per_part, side.data, strict=True)):
        view = f"{label}{index}"
        con.read_parquet(io.BytesIO(data), file_row_number=True).create_view(view)
        selects.append(f"SELECT {_hashed(positions, shared, key)}, "
                       f"{quote_ident(f'p{len(names)}')} + ? AS r FROM {view} AS t({aliases})")
        offsets.append(offset)
        offset += rows
    if not selects:
        return "SELECT NULL AS k, 0 AS h, 0 AS r WHERE false", []
    return " UNION ALL ".join(selects), offsets


def _arrow_rows(con: duckdb.DuckDBPyConnection, label: str, table: pa.Table, shared: list[str],
                key: str | None) -> tuple[str, list[int]]:
    """The ``(k, h, r)`` query of one side from its decoded Arrow table."""
    positions = {name: i for i, name in enumerate(table.column_names)}
    columns: list[Any] = [*table.columns, pl.int_range(0, table.num_rows, eager=True).to_arrow()]
    names = [f"p{i}" for i in range(len(columns))]
    con.register(label, pa.Table.from_arrays(columns, names=names))
    return (f"SELECT {_hashed(positions, shared, key)}, {quote_ident(names[-1])} AS r "
            f"FROM {label}"), []


