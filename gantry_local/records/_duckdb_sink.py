"""The default sink: appends flushed Arrow tables to the application's DuckDB tables.

Each `write` is one transaction: columns are added or widened (and recorded in
``_gl_columns`` with the physical name that holds them, see `_naming`), then every
table is inserted ``BY NAME`` from Arrow. Either all tables of a write land, or none do.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import duckdb
import pyarrow as pa

from .._db import Database, run, transaction
from .._sql import quote_ident
from . import _types as types
from ._batches import TableWrite
from ._naming import physical_name, to_physical
from ._schema import FEEDBACK, RECORDS

__all__ = ["DuckDBSink", "create_app_tables", "drop_app_tables", "table_name"]

_META_DDL = {
    RECORDS: '"__time" TIMESTAMPTZ, "__join_key" VARCHAR, "__version" VARCHAR',
    FEEDBACK: '"__time" TIMESTAMPTZ, "__join_key" VARCHAR, "__seq" BIGINT',
}


_META_COLUMNS = ("__time", "__join_key", "__version", "__seq")


_ROW_GROUP = 122_880  # rows of a DuckDB row group


def _row_group_chunks(data: pa.Table) -> pa.Table:
    """`data` in one chunk per column, unless its chunks are whole row groups already
    (a frame's): DuckDB inserts a table of many small chunks at about half speed."""
    for column in data.columns:
        if any(len(chunk) < _ROW_GROUP for chunk in column.chunks[:-1]):
            return data.combine_chunks()
    return data


def table_name(app: str, kind: str) -> str:
    """The quoted DuckDB table holding `kind` ("records" or "feedback") of application `app`."""
    return quote_ident(f"{kind}_{app}")


def create_app_tables(con: duckdb.DuckDBPyConnection, app: str) -> None:
    for kind, ddl in _META_DDL.items():
        run(con, f"CREATE TABLE {table_name(app, kind)} ({ddl})")


def drop_app_tables(con: duckdb.DuckDBPyConnection, app: str) -> None:
    for kind in _META_DDL:
        run(con, f"DROP TABLE IF EXISTS {table_name(app, kind)}")


class DuckDBSink:
    """Writes to DuckDB through its own cursor; used only by the flush thread."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._con = database.con.cursor()
        self._lock = threading.Lock()
        # (app, kind) -> logical column -> (logical type, physical column)
        self._known: dict[tuple[str, str], dict[str, tuple[str, str]]] = {}
        self._next_seq: dict[str, int] = {}
        self._altered = False

    def forget(self, app: str) -> None:
        """Drop cached state for `app` (its tables were dropped)."""
        with self._lock:
            self._db.columns_changed()
            for kind in (RECORDS, FEEDBACK):
                self._known.pop((app, kind), None)
            self._next_seq.pop(app, None)

    def write(self, writes: Sequence[TableWrite],
              also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> None:
        """Append `writes` in one transaction; `also(con)` runs inside it (the spool's ledger)."""
        con = self._con
        with self._lock:
            known_before = {k: dict(v) for k, v in self._known.items()}  # undone on rollback
            seq_before = dict(self._next_seq)
            self._altered = False
            try:
                with transaction(con):
                    for write in writes:
                        self._append(con, write)
                    if also is not None:
                        also(con)
            except BaseException:
                self._known, self._next_seq = known_before, seq_before
                raise
            finally:
                if self._altered:  # after the commit (or rollback) readers can see
                    self._db.columns_changed()

    def close(self) -> None:
        self._con.close()

    def _append(self, con: duckdb.DuckDBPyConnection, write: TableWrite) -> None:
        table = table_name(write.app, write.kind)
        known = self._ensure_columns(con, write, table)
        data = to_physical(write.table, {name: column for name, (_, column) in known.items()})
        if write.kind == FEEDBACK:
            start = self._seq_start(con, write.app, table)
            data = data.append_column("__seq", pa.array(range(start, start + data.num_rows),
                                                         pa.int64()))
            self._next_seq[write.app] = start + data.num_rows
        con.register("_gl_batch", _row_group_chunks(data))
        try:
            run(con, f"INSERT INTO {table} BY NAME SELECT * FROM _gl_batch")
        finally:
            con.unregister("_gl_batch")

    def _seq_start(self, con: duckdb.DuckDBPyConnection, app: str, table: str) -> int:
        if app not in self._next_seq:
            rows = run(con, f'SELECT coalesce(max("__seq"), 0) + 1 FROM {table}')
            self._next_seq[app] = int(rows[0][0])
        return self._next_seq[app]

    def _ensure_columns(self, con: duckdb.DuckDBPyConnection, write: TableWrite, table: str
                        ) -> dict[str, tuple[str, str]]:
        """Add or widen the columns `write` needs; the table's logical columns afterwards."""
        key = (write.app, write.kind)
        known = self._known.get(key)
        if known is None:
            rows = run(
                con,
                "SELECT column_name, logical_type, physical_name FROM _gl_columns "
                "WHERE application = ? AND table_kind = ?", [write.app, write.kind],
            )
            known = self._known[key] = {name: (logical, physical)
                                        for name, logical, physical in rows}
        for name, logical in write.columns.items():
            current, physical = known.get(name, (None, ""))
            if current is not None:
                logical = types.widen(current, logical) or current
            if current == logical:
                continue
            self._altered = True
            if current is None:
                physical = physical_name(name, [*_META_COLUMNS, *(p for _, p in known.values())])
                run(con, f"ALTER TABLE {table} ADD COLUMN {quote_ident(physical)} "
                         f"{types.duckdb_type(logical)}")
            else:
                run(con, f"ALTER TABLE {table} ALTER COLUMN {quote_ident(physical)} "
                         f"TYPE {types.duckdb_type(logical)}")
            run(con, "INSERT OR REPLACE INTO _gl_columns (application, table_kind, column_name, "
                     "logical_type, physical_name) VALUES (?, ?, ?, ?, ?)",
                [write.app, write.kind, name, logical, physical])
            known[name] = (logical, physical)
        return known
