"""The curators' SQL: one interval's rows, filtered and sampled in DuckDB, every value bound.

Random order is a seeded hash of the join key, so the rows picked depend only on the
data and on (curator, interval): a rerun picks the same rows. A single selector is one
statement that also counts the interval (an ordered one finds the edge of its rows in the
same statement; a stratified one counts its strata and the interval first, in one scan).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..._db import storage_errors
from ..._sql import quote_ident
from ...errors import ValidationError
from ...records._duckdb_sink import table_name
from ...records.query import Query, Selection
from .selectors import (
    TIME_COLUMN_NAME,
    BoundsFilter,
    ContainsFilter,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    Selector,
    StratificationMode,
    StratifiedSampler,
    TagFilter,
    UniformSampler,
)

if TYPE_CHECKING:
    from ..._context import Context

__all__ = ["CATEGORY_TYPES", "Picked", "filter_sql", "label_counts", "labelled", "labelled_rows",
           "logical_types", "quotas_of", "select"]

# Logical field types whose values are categories (a stratified sampler's field).
CATEGORY_TYPES = frozenset({"str", "int", "bool", "date"})
FEEDBACK = "feedback."


@dataclass(frozen=True)
class Picked:
    """One interval's selection: the rows (logical names, time order) and the interval's size."""

    table: pa.Table
    rows_in_interval: int


# A seeded shuffle: DuckDB's two-argument hash only XORs the seed in, so the order by it
# barely depends on the seed; hashing that again mixes every bit (independent samples).
# Hashing the time in too makes it one integer sort key (a second key, e.g. the join key as
# a tie-break, makes DuckDB's window sort 5x slower); rows equal in key and time tie.
_SHUFFLE = 'hash(hash(base."__join_key", ?), base."__time")'
_KEY = '"__join_key"'
_TIME = '"__time"'
_TOTAL = "__gl_total"


def select(workspace: Context, application: str, selectors: list[Selector], seed: int,
           start: datetime, end: datetime, only_labelled: bool = False,
           who: str = "curator") -> Picked:
    """The rows `selectors` pick in ``[start, end)`` of `application` (OR, no duplicates).

    Raises:
        ValidationError: a selector names an unknown field, or stratifies a field whose
            values are not categories.
    """
    logical = logical_types(workspace, application)  # NotFoundError for no application
    selection = Query(workspace, application, start, end).selection(ordered=False)
    for selector in selectors:
        _check_fields(selector, selection, logical, who)
    physical = [_physical(selector, selection.columns) for selector in selectors]
    label = labelled(selection) if only_labelled else None
    count_sql = (f"SELECT count(*) AS {_TOTAL} FROM {table_name(application, 'records')} "
                 f"WHERE {_TIME} >= ? AND {_TIME} < ?")
    text = {selection.columns[f] for f, kind in logical.items()
            if kind == "str" and f in selection.columns}
    sampler = _Sampler(selection, label, seed, count_sql, [start, end], text)
    with workspace.database.cursor() as con, storage_errors(who):
        sampler.con = con
        if len(physical) == 1:
            table, total = sampler.one(physical[0])
            return Picked(selection.to_logical(table), total)
        total = sampler.count()
        parts = [sampler.run(selector, in_time_order=False) for selector in physical]
    frames = [_frame(p) for p in parts if p.num_rows]
    if not frames:
        return Picked(pa.table({n: pa.array([], pa.null()) for n in selection.fields}), total)
    merged = pl.concat(frames, how="diagonal_relaxed")
    unique = (merged.unique(subset=["__join_key", "__time"], keep="first", maintain_order=True)
              .sort(["__time", "__join_key"]))
    return Picked(selection.to_logical(unique.to_arrow()), total)


def logical_types(workspace: Context, application: str) -> dict[str, str]:
    state = workspace.app_state(application)
    return {**state.schema.snapshot("records"), **state.schema.snapshot("feedback")}


def _check_fields(selector: Selector, selection: Selection, logical: Mapping[str, str],
                  who: str) -> None:
    unknown = sorted(selector.fields() - set(selection.columns))
    if unknown:
        raise ValidationError(f"{who}: unknown field(s) {unknown}; known fields are: "
                              f"{', '.join(sorted(selection.columns))}")
    method = selector.method
    if isinstance(method, StratifiedSampler):
        kind = logical.get(method.field)
        if kind is not None and kind not in CATEGORY_TYPES:
            raise ValidationError(f"{who}: cannot stratify on {method.field!r}, a {kind} field; "
                                  "stratify on a field of categories (text, integer, boolean)")


def labelled(selection: Selection) -> str:
    """SQL over ``base``: the record has a feedback value (any ``feedback.*`` field)."""
    columns = [selection.column(name, "base") for name in selection.columns
               if name.startswith(FEEDBACK)]
    if not columns:
        return "FALSE"
    return "(" + " OR ".join(f"{c} IS NOT NULL" for c in columns) + ")"


def label_counts(workspace: Context, application: str, start: datetime, end: datetime,
                 who: str = "curator") -> tuple[int, int]:
    """(records with a feedback value, records) in ``[start, end)``."""
    workspace.app_state(application)  # NotFoundError for no application
    selection = Query(workspace, application, start, end).selection(ordered=False)
    sql = (f"SELECT count(*) FILTER (WHERE {labelled(selection)}), count(*) "
           f"FROM ({selection.sql}) AS base")
    with workspace.database.cursor() as con, storage_errors(who):
        rows = con.execute(sql, selection.params).fetchall()
    return (int(rows[0][0]), int(rows[0][1])) if rows else (0, 0)


def labelled_rows(table: pa.Table) -> int:
    """Rows of a curated table holding at least one feedback value."""
    columns = [c for c in table.column_names if c.startswith(FEEDBACK)]
    if not columns or table.num_rows == 0:
        return 0
    mask = pc.is_valid(table.column(columns[0]))
    for name in columns[1:]:
        mask = pc.or_(mask, pc.is_valid(table.column(name)))
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def filter_sql(item: BoundsFilter | EqualsFilter | ContainsFilter | TagFilter
               ) -> tuple[str, list[Any]]:
    """One filter as SQL over ``base`` and its bound parameters."""
    column = f"base.{quote_ident(item.field)}"
    if isinstance(item, BoundsFilter):
        sides = [(item.lower, ">"), (item.inclusive_lower, ">="), (item.upper, "<"),
                 (item.inclusive_upper, "<=")]
        bounds = [(value, op) for value, op in sides if value is not None]
        return ("(" + " AND ".join(f"{column} {op} ?" for _, op in bounds) + ")",
                [value for value, _ in bounds])
    if isinstance(item, ContainsFilter):
        return f"contains({column}, ?)", [item.contains]
    value = item.equals if isinstance(item, EqualsFilter) else item.value
    return f"{column} = ?", [value]


class _Sampler:
    """Builds and runs one interval's selector statements on one cursor."""

    def __init__(self, selection: Selection, label: str | None, seed: int, count_sql: str,
                 count_params: list[Any], text: set[str]) -> None:
        self.base, self.params = selection.sql, selection.params
        self.label, self.seed = label, seed
        self.count_sql, self.count_params = count_sql, count_params
        self.text = text  # the columns holding text (VARCHAR)
        self.con: Any = None

    def count(self) -> int:
        rows = self.con.execute(self.count_sql, self.count_params).fetchall()
        return int(rows[0][0]) if rows else 0

    def _where(self, selector: Selector) -> tuple[str, list[Any]]:
        """The selector's filters, tags and label condition over ``base``, and their values."""
        clauses, params = ["TRUE"], []
        for item in [*selector.filters, *selector.tags]:
            clause, values = filter_sql(item)
            clauses.append(clause)
            params.extend(values)
        if self.label is not None:
            clauses.append(self.label)
        return " AND ".join(clauses), params

    def _source(self, selector: Selector) -> tuple[str, list[Any]]:
        where, values = self._where(selector)
        return f"({self.base}) AS base WHERE {where}", [*self.params, *values]

    def one(self, selector: Selector) -> tuple[pa.Table, int]:
        """A single selector's rows in time order and the interval's size, in one statement
        where it can (the count rides along as a column)."""
        method = selector.method
        if isinstance(method, StratifiedSampler):
            table, total = self._stratified(selector, method)
        elif isinstance(method, OrderedSampler) and self._unfiltered(selector):
            table, total = self._ordered(selector, method)
        else:
            table, total = self._plain(selector)
        return _in_time_order(table), total

    def run(self, selector: Selector, in_time_order: bool) -> pa.Table:
        """One selector's picks (in time order when asked)."""
        method = selector.method
        if isinstance(method, StratifiedSampler):
            table = self._stratified(selector, method)[0]
        elif isinstance(method, OrderedSampler) and self._unfiltered(selector):
            table = self._ordered(selector, method)[0]
        else:
            sql, params = self._simple(selector)
            table = self.con.sql(sql, params=params).to_arrow_table()
        return _in_time_order(table) if in_time_order else table

    def _ordered(self, selector: Selector, method: OrderedSampler) -> tuple[pa.Table, int]:
        """An ordered selector's rows and the interval's size, in one statement of two scans.

        The first scan counts the interval and finds the edge, the `limit`-th value of the
        sort field; the second takes the first `limit` rows up to the edge. DuckDB pushes
        the edge into that scan, which skips what lies beyond it (for time, most of the
        interval). Exactly the plain query's rows: every one of them lies within the edge.
        Rows with no value sort last, so where fewer than `limit` rows have a value (or
        there are none), the plain query runs.
        """
        column = f"base.{quote_ident(method.field)}"
        if method.sort is OrderingDirection.ASCENDING:
            smallest, edge_of, within, direction = "min", "list_max", "<=", "ASC"
        else:
            smallest, edge_of, within, direction = "max", "list_min", ">=", "DESC"
        edge = (f"SELECT count(*) AS {_TOTAL}, count(__gl_v) AS __gl_valued, "
                f"{edge_of}({smallest}(__gl_v, ?)) AS __gl_edge "
                f"FROM (SELECT {column} AS __gl_v FROM ({self.base}) AS base)")
        sql = (f"WITH __gl_found AS ({edge}) SELECT base.*, found.{_TOTAL}, found.__gl_valued "
               f"FROM ({self.base}) AS base, __gl_found AS found "
               f"WHERE {column} {within} found.__gl_edge "
               f"ORDER BY {column} {direction} NULLS LAST, {_ties(method)} LIMIT ?")
        params = [selector.limit, *self.params, *self.params, selector.limit]
        table: pa.Table = self.con.sql(sql, params=params).to_arrow_table()
        if table.num_rows == 0:
            return self._plain(selector)
        total = int(table.column(_TOTAL)[0].as_py())
        if table.num_rows < selector.limit and total > table.column("__gl_valued")[0].as_py():
            return self._plain(selector)  # rows without a value to add after these
        return table.drop_columns([_TOTAL, "__gl_valued"]), total

    def _unfiltered(self, selector: Selector) -> bool:
        """Whether `selector` takes every row of the interval, so an ordered one runs with an
        edge (`_ordered`). Filters already skip most rows in the scan; there the edge's
        first scan measured 1.1x slower than the plain query's count."""
        return not (selector.filters or selector.tags or self.label is not None)

    def _plain(self, selector: Selector) -> tuple[pa.Table, int]:
        """A uniform or ordered selector's rows by its plain statement, and the interval's
        size (a column of the same statement; counted apart when no row is picked)."""
        sql, params = self._simple(selector, with_total=True)
        table: pa.Table = self.con.sql(sql, params=params).to_arrow_table()
        total = table.column(_TOTAL)[0].as_py() if table.num_rows else self.count()
        return table.drop_columns([_TOTAL]), int(total)

    def _simple(self, selector: Selector, with_total: bool = False) -> tuple[str, list[Any]]:
        """A uniform or ordered selector's plain statement (with the interval's size as a
        column when `with_total`: one statement instead of two)."""
        source, params = self._source(selector)
        method = selector.method
        if isinstance(method, UniformSampler):
            sql = f"SELECT base.* FROM {source} ORDER BY {_SHUFFLE}, base.{_KEY} LIMIT ?"
            params = [*params, self.seed, selector.limit]
        else:
            assert isinstance(method, OrderedSampler)
            direction = "ASC" if method.sort is OrderingDirection.ASCENDING else "DESC"
            sql = (f"SELECT base.* FROM {source} ORDER BY base.{quote_ident(method.field)} "
                   f"{direction} NULLS LAST, {_ties(method)} LIMIT ?")
            params = [*params, selector.limit]
        if not with_total:
            return sql, params
        # The count joins the picked rows after the LIMIT: as a scalar subquery in the select
        # list it made DuckDB's top-N twice as slow (a 1-day window of 10M records).
        return (f"SELECT picked.*, total.{_TOTAL} FROM ({sql}) AS picked, ({self.count_sql}) "
                "AS total",
                [*params, *self.count_params])

    def _stratified(self, selector: Selector, method: StratifiedSampler
                    ) -> tuple[pa.Table, int]:
        """A stratified selector's rows and the interval's size, in two statements.

        The first, a narrow scan, counts each stratum's rows passing the filters and the
        interval's, for the quotas (`quotas_of`). The second takes each stratum's first
        `quota` rows in shuffled order: a constant bound on the row number lets DuckDB keep a
        top-N per stratum instead of ranking the whole interval (one statement computing the
        quotas from the strata in SQL lost that, and took 1.3x as long).
        """
        where, values = self._where(selector)
        column = quote_ident(method.field)
        # strata are matched as text; a cast of text to text makes DuckDB's grouping slower
        text = method.field in self.text
        stratum = f"base.{column}" if text else f"CAST(base.{column} AS VARCHAR)"
        rows = self.con.execute(
            f"SELECT {stratum} AS s, count(*) FILTER (WHERE {where}), count(*) "
            f"FROM ({self.base}) AS base GROUP BY s ORDER BY s", [*values, *self.params]
        ).fetchall()
        counts = [(s, int(c)) for s, c, _ in rows if c]
        total = sum(int(n) for _, _, n in rows)
        source, params = f"({self.base}) AS base WHERE {where}", [*self.params, *values]
        if not counts:
            empty: pa.Table = self.con.sql(f"SELECT base.* FROM {source} LIMIT 0",
                                           params=params).to_arrow_table()
            return empty, total
        quotas = quotas_of([c for _, c in counts], selector.limit, method.mode)
        unqualified = column if text else f"CAST({column} AS VARCHAR)"  # outside `base`'s scope
        sql = (f"SELECT * EXCLUDE (__gl_rn) FROM (SELECT base.*, row_number() OVER (PARTITION "
               f"BY {stratum} ORDER BY {_SHUFFLE}) AS __gl_rn FROM {source}) WHERE __gl_rn <= ? "
               f"AND __gl_rn <= list_extract(?::BIGINT[], list_position(?::VARCHAR[], "
               f"{unqualified}))")
        values = [self.seed, *params, max(quotas), quotas, [s for s, _ in counts]]
        taken = sum(min(q, c) for q, (_, c) in zip(quotas, counts, strict=True))
        rest = selector.limit - taken if method.mode is StratificationMode.strict else 0
        if rest > 0:
            sql, values = self._with_rest(sql, values, source, params, rest, taken)
        table: pa.Table = self.con.sql(sql, params=values).to_arrow_table()
        return table, total

    def _with_rest(self, sql: str, values: list[Any], source: str, params: list[Any],
                   rest: int, taken: int) -> tuple[str, list[Any]]:
        """`sql`'s rows (the quotas' `taken`), then `rest` more drawn uniformly from the rows
        they left, in the same statement.

        The draw uses a second, independent shuffle: ranking the rest by the quotas' own
        shuffle would favour small strata (their rest starts lower in that order). The
        first ``taken + rest`` rows of the second shuffle hold enough rows not taken.
        """
        second = (self.seed * 2654435761 + 1) % 2**32
        candidates = (f"SELECT base.*, {_SHUFFLE} AS __gl_h2 FROM {source} "
                      f"ORDER BY __gl_h2, base.{_KEY} LIMIT ?")
        return (f"WITH __gl_taken AS MATERIALIZED ({sql}) SELECT * FROM __gl_taken UNION ALL "
                f"(SELECT c.* EXCLUDE (__gl_h2) FROM ({candidates}) AS c WHERE NOT EXISTS "
                f"(SELECT 1 FROM __gl_taken AS t WHERE t.{_KEY} = c.{_KEY} AND "
                f"t.{_TIME} = c.{_TIME}) ORDER BY c.__gl_h2, c.{_KEY} LIMIT ?)",
                [*values, second, *params, taken + rest, rest])


def _ties(method: OrderedSampler) -> str:
    """What orders rows equal in an ordered sampler's field: time, then join key (cheaper
    than a hash, and deterministic)."""
    return f"base.{_KEY}" if method.field == TIME_COLUMN_NAME else f"base.{_TIME}, base.{_KEY}"


def _in_time_order(table: pa.Table) -> pa.Table:
    """The picked rows (at most 10,000) by time, then join key: sorted here, not in SQL."""
    return table.sort_by([("__time", "ascending"), ("__join_key", "ascending")])


def quotas_of(counts: list[int], limit: int, mode: StratificationMode) -> list[int]:
    """Rows to take from each stratum, Gantry's way (see `StratificationMode`)."""
    total = sum(counts)
    if mode is StratificationMode.proportional:  # round half to even, may exceed the limit
        return [round(limit * c / total) for c in counts]
    if mode is StratificationMode.balanced:
        return [min(min(counts), limit // len(counts))] * len(counts)
    return [min(limit * c // total, c) for c in counts]  # strict: the rest drawn at random


def _physical(selector: Selector, columns: Mapping[str, str]) -> Selector:
    """`selector` naming the columns of the interval's query (`Selection.columns`): fields
    differing only in case have suffixed columns there, as DuckDB ignores case."""
    if all(columns.get(name, name) == name for name in selector.fields()):
        return selector

    def moved(item: Any) -> Any:
        if isinstance(item, TagFilter):
            return replace(item, name=columns[item.field].removeprefix("tags."))
        return replace(item, field=columns[item.field])

    method = selector.method
    return replace(selector, method=method if isinstance(method, UniformSampler) else moved(method),
                   filters=[moved(f) for f in selector.filters],
                   tags=[moved(t) for t in selector.tags])


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame
