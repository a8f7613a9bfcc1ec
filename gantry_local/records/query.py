"""Reading logged records back: a lazy `Query` over one application, feedback joined by key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import polars as pl
import pyarrow as pa

from .._db import storage_errors
from .._names import is_valid_text
from .._sql import quote_ident
from ..clock import to_utc
from ..errors import ValidationError
from ._duckdb_sink import table_name
from ._filters import filter_sql, tag_column
from ._inputs import check_version
from ._naming import to_logical
from ._schema import FEEDBACK, RECORDS

if TYPE_CHECKING:
    import pandas

    from .._db import Database
    from ._logger import AppState

__all__ = ["Query", "Selection"]

_SECTION_ORDER = {"__time": 0, "__join_key": 1, "__version": 2, "inputs": 3, "outputs": 4,
                  "tags": 5}


class Source(Protocol):
    """What a `Query` reads through (a room's `Context`): the database, flush and the
    applications' states."""

    @property
    def database(self) -> Database:
        """The workspace's database."""

    @property
    def flush(self) -> Callable[[], None]:
        """Block until every record logged before the call is in the database."""

    def app_state(self, name: object) -> AppState:
        """The live state of application `name`."""


class Query:
    """The records of one application matching the given bounds, read when asked for.

    Records are ordered by time, then join key. Feedback logged later is joined by
    join key (the most recently logged feedback wins) as ``feedback.*`` columns, with
    its own timestamp as ``__feedback_time``. Pending records are flushed first, so a
    query always sees everything logged before it ran.
    """

    def __init__(
        self,
        workspace: Source,
        application: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        version: int | str | None = None,
        tags: Mapping[str, str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        # a Workspace reads through the context it exposes (the one the rooms are handed)
        self._ws: Source = getattr(workspace, "__gantry_context__", workspace)
        self.application = application
        self.start_time = None if start_time is None else to_utc(start_time, "start_time")
        self.end_time = None if end_time is None else to_utc(end_time, "end_time")
        if self.start_time and self.end_time and self.start_time > self.end_time:
            raise ValidationError(f"start_time {self.start_time} is after end_time {self.end_time}")
        self.version = check_version(version)
        if tags is not None and not isinstance(tags, Mapping):
            raise ValidationError(f"tags must be a dict of strings, got {type(tags).__name__}")
        self.tags = dict(tags or {})
        for key, value in self.tags.items():
            if not isinstance(key, str) or not isinstance(value, str) or not is_valid_text(value):
                raise ValidationError(f"tags must map tag names to strings of valid Unicode, got "
                                      f"{key!r}: {value!r}")
        if filters is not None and (isinstance(filters, (str, bytes, Mapping))
                                    or not isinstance(filters, Sequence)):
            raise ValidationError("filters must be a list of filter dicts")
        self.filters = [dict(f) if isinstance(f, Mapping) else f for f in (filters or [])]
        self.batch_id: str | None = None  # only the records of this batch (see _batch_log)
        self._sql(self._columns())  # validate now, not at read time

    def __repr__(self) -> str:
        return (f"Query(application={self.application!r}, start_time={self.start_time}, "
                f"end_time={self.end_time}, version={self.version!r}, tags={self.tags}, "
                f"filters={self.filters})")

    def to_arrow(self) -> pa.Table:
        """The matching records as an Arrow table."""
        self._ws.flush()
        columns = self._columns()
        sql, params = self._sql(columns)
        with self._ws.database.cursor() as con, storage_errors(f"querying {self.application!r}"):
            table = con.sql(sql, params=params).to_arrow_table()
        return _utc_labels(to_logical(table, columns.logical))

    def to_polars(self) -> pl.DataFrame:
        """The matching records as a polars DataFrame."""
        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def to_pandas(self) -> pandas.DataFrame:
        """The matching records as a pandas DataFrame (needs pandas installed)."""
        return self.to_arrow().to_pandas()

    def count(self) -> int:
        """How many records match."""
        self._ws.flush()
        sql, params = self._sql(self._columns(), count=True)
        with self._ws.database.cursor() as con, storage_errors(f"counting {self.application!r}"):
            row = con.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    # -- SQL ----------------------------------------------------------------------------------

    def _columns(self) -> Columns:
        with storage_errors(f"reading {self.application!r}'s columns"):
            return self._ws.database.cached_columns(self.application, self._read_columns)

    def _read_columns(self, con: duckdb.DuckDBPyConnection) -> Columns:
        recs = [r[0] for r in con.execute(f"DESCRIBE {table_name(self.application, RECORDS)}")
                .fetchall()]
        fbs = [r[0] for r in con.execute(f"DESCRIBE {table_name(self.application, FEEDBACK)}")
               .fetchall()]
        names = con.execute("SELECT physical_name, column_name FROM _gl_columns WHERE "
                            "application = ?", [self.application]).fetchall()
        recs.sort(key=lambda c: _SECTION_ORDER.get(c.partition(".")[0] if "." in c else c, 9))
        return Columns(recs, [c for c in fbs if c.startswith("feedback.")], dict(names))

    def selection(self, ordered: bool = True) -> Selection:
        """The query as SQL with its bound parameters (after a flush), for composing bigger
        queries (curators and monitoring wrap it); see `Selection`."""
        self._ws.flush()
        columns = self._columns()
        sql, params = self._sql(columns, ordered=ordered)
        physical = [*columns.records, *columns.feedback,
                    *(["__feedback_time"] if columns.feedback else [])]
        return Selection(sql, params, {columns.logical.get(c, c): c for c in physical})

    def select_sql(self, ordered: bool = True) -> tuple[str, list[Any], list[str]]:
        """`selection()` as (SQL, parameters, the output's physical column names)."""
        selection = self.selection(ordered)
        return selection.sql, selection.params, list(selection.columns.values())

    def _sql(self, columns: Columns, count: bool = False,
             ordered: bool = True) -> tuple[str, list[Any]]:
        recs, fbs = columns.records, columns.feedback
        known = {columns.logical.get(c, c): f"r.{quote_ident(c)}" for c in recs}
        known.update({columns.logical.get(c, c): f"f.{quote_ident(c)}" for c in fbs})
        if fbs:
            known["__feedback_time"] = 'f."__time"'
        logged = set(self._ws.app_state(self.application).schema.snapshot(RECORDS)) | set(
            self._ws.app_state(self.application).schema.snapshot(FEEDBACK))
        where: list[str] = ["TRUE"]
        params: list[Any] = []
        if self.start_time is not None:
            where.append('r."__time" >= ?')
            params.append(self.start_time)
        if self.end_time is not None:
            where.append('r."__time" < ?')
            params.append(self.end_time)
        if self.version is not None:
            where.append('r."__version" = ?')
            params.append(self.version)
        if self.batch_id is not None:
            where.append('r."__join_key" IN (SELECT join_key FROM _gl_batch_keys WHERE '
                         "batch_id = ?)")
            params.append(self.batch_id)
        for key, value in self.tags.items():
            if not isinstance(value, str):
                raise ValidationError(f"tag {key!r} must be matched against a string")
            where.append(f"{tag_column(known, logged, key)} = ?")
            params.append(value)
        logical = {**self._ws.app_state(self.application).schema.snapshot(RECORDS),
                   **self._ws.app_state(self.application).schema.snapshot(FEEDBACK)}
        for spec in self.filters:
            clause, values = filter_sql(spec, known, logged, logical)
            where.append(clause)
            params.extend(values)
        source = f"{table_name(self.application, RECORDS)} AS r"
        if fbs:
            source += (f" LEFT JOIN (SELECT * FROM {table_name(self.application, FEEDBACK)} "
                       'QUALIFY row_number() OVER (PARTITION BY "__join_key" ORDER BY "__seq" '
                       'DESC) = 1) AS f ON r."__join_key" = f."__join_key"')
        condition = " AND ".join(where)
        if count:
            return f"SELECT count(*) FROM {source} WHERE {condition}", params
        select = ", ".join([f"r.{quote_ident(c)}" for c in recs]
                           + [f"f.{quote_ident(c)}" for c in fbs]
                           + (['f."__time" AS "__feedback_time"'] if fbs else []))
        order = ' ORDER BY r."__time", r."__join_key"' if ordered else ""
        return f"SELECT {select} FROM {source} WHERE {condition}{order}", params


@dataclass(frozen=True)
class Columns:
    """An application's stored columns (physical names, in output order) and the logical
    field each holds (physical -> logical; meta columns are absent and keep their names)."""

    records: list[str]
    feedback: list[str]
    logical: dict[str, str]


@dataclass(frozen=True)
class Selection:
    """A query's SQL for wrapping in a bigger one (as ``(sql) AS base``).

    DuckDB matches names regardless of case, but field names are case-sensitive, so the
    output columns have physical names (``inputs.amount~2`` beside ``inputs.Amount``):
    refer to a field with `column` and turn fetched tables back with `to_logical`.

    Attributes:
        sql: the SELECT, with ``?`` placeholders.
        params: its bound parameters.
        columns: each output field's logical name -> its physical output column, in order.
    """

    sql: str
    params: list[Any]
    columns: dict[str, str]

    @property
    def fields(self) -> list[str]:
        """The output's logical field names, in order."""
        return list(self.columns)

    def column(self, field: str, alias: str = "") -> str | None:
        """The quoted SQL reference to `field`'s output column (``alias.`` prefixed if
        given), or None when the query has no such column."""
        physical = self.columns.get(field)
        if physical is None:
            return None
        return f"{alias}.{quote_ident(physical)}" if alias else quote_ident(physical)

    def to_logical(self, table: pa.Table) -> pa.Table:
        """A table fetched from this query (or a wrapper) with logical column names."""
        return to_logical(table, {p: f for f, p in self.columns.items()})


def _utc_labels(table: pa.Table) -> pa.Table:
    """Label DuckDB's timestamp columns (exported as ``Etc/UTC``) plainly ``UTC``."""
    fields = [pa.field(f.name, pa.timestamp(f.type.unit, tz="UTC"), f.nullable)
              if pa.types.is_timestamp(f.type) and f.type.tz else f for f in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table
