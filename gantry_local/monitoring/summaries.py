"""Per-interval summaries of every field: one grouped DuckDB query over time buckets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from .._db import storage_errors
from ._scaled import exponent, factor, unscale
from ._source import Records, check_workspace, choose_fields, field_kinds, grid_for

if TYPE_CHECKING:
    from .._context import WorkspaceLike

__all__ = ["QUANTILES", "TOP_CATEGORIES", "summarize"]

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TOP_CATEGORIES = 5

SCHEMA: dict[str, Any] = {
    "interval_start": pl.Datetime("us", "UTC"), "interval_end": pl.Datetime("us", "UTC"),
    "partial": pl.Boolean, "field": pl.String, "kind": pl.String, "count": pl.Int64,
    "null_rate": pl.Float64, "nan_count": pl.Int64, "mean": pl.Float64, "std": pl.Float64, "min": pl.Float64,
    "p5": pl.Float64, "p25": pl.Float64, "p50": pl.Float64, "p75": pl.Float64,
    "p95": pl.Float64, "max": pl.Float64, "distinct": pl.Int64,
    "top": pl.List(pl.Struct({"value": pl.String, "share": pl.Float64})),
    "true_rate": pl.Float64,
}


def summarize(ws: WorkspaceLike, application: str, interval: timedelta = timedelta(days=1),
              start_time: datetime | None = None, end_time: datetime | None = None,
              fields: Sequence[str] | None = None, version: int | str | None = None,
              tags: Mapping[str, str] | None = None) -> pl.DataFrame:
    """One row per (interval, field): count (rows in the interval), null rate; for numbers
    the NaN count, mean, std, min, p5, p25, p50, p75, p95, max (NaN is left out of every one
    of them; ±inf are values); for categories the distinct count and the top categories'
    shares of non-null values; for booleans the true rate.

    Intervals with no rows appear with count 0; a last interval cut short by `end_time`
    is marked ``partial``. Naive datetimes are UTC.

    Raises:
        ValidationError: unknown fields (the message lists the known ones), a bad interval,
            or no records at all.
    """
    ws = check_workspace(ws)
    kinds = choose_fields(field_kinds(ws, application), fields)
    grid = grid_for(ws, application, interval, start_time, end_time)
    records = Records.of(ws, application, grid.origin, grid.end, version, tags)
    bucket, bucket_params = grid.bucket_sql()
    aggregates: list[str] = ["count(*) AS n"]
    tops: list[str] = []
    top_params: list[Any] = []
    quantile_params: list[Any] = []
    cleaned: list[str] = []
    for i, (name, kind) in enumerate(kinds.items()):
        col = records.column(name)
        aggregates.append(f"count({col}) AS c{i}")
        if kind == "number":  # NaN is left out of every statistic, and counted
            value = f"__v{i}"  # the value with NaN as NULL, computed once per row
            cleaned.append(f"CASE WHEN isnan(CAST({col} AS DOUBLE)) THEN NULL ELSE {col} END "
                           f"AS {value}")
            aggregates.append(f"count({col}) - count({value}) AS nan{i}, avg({value}) AS mean{i}, "
                              f"stddev_samp({value}) AS std{i}, min({value}) AS min{i}, "
                              f"max({value}) AS max{i}, "
                              f"quantile_cont({value}, ?::DOUBLE[]) AS q{i}")
            quantile_params.append(list(QUANTILES))
        elif kind == "bool":
            aggregates.append(f"avg(CAST({col} AS INTEGER)) AS true{i}")
        else:
            aggregates.append(f"count(DISTINCT {col}) AS d{i}")
            tops.append(f"SELECT __b, CAST(? AS BIGINT) AS f, CAST({col} AS VARCHAR) AS v, "
                        f"count(*) AS k FROM b WHERE {col} IS NOT NULL GROUP BY ALL")
            top_params.append(i)
    source = (f"WITH base AS ({records.sql}), b AS (SELECT {bucket} AS __b, "
              f"{''.join(c + ', ' for c in cleaned)}* FROM base)")
    sql = f"{source} SELECT __b, {', '.join(aggregates)} FROM b GROUP BY __b"
    params = [*records.params, *bucket_params]
    top_rows: list[tuple[Any, ...]] = []
    with ws.database.cursor() as con, storage_errors(f"summarizing {application!r}"):
        rows = con.sql(sql, params=[*params, *quantile_params]).fetchall()
        rows = _rescaled(con, source, params, rows, kinds)
        if tops:
            top_sql = (f"WITH base AS ({records.sql}), b AS (SELECT {bucket} AS __b, * FROM base), "
                       f"t AS ({' UNION ALL '.join(tops)}) SELECT __b, f, v, k FROM t QUALIFY "
                       "row_number() OVER (PARTITION BY __b, f ORDER BY k DESC, v) <= ?")
            top_rows = con.sql(top_sql, params=[*params, *top_params, TOP_CATEGORIES]).fetchall()
    return _long_frame(rows, top_rows, kinds, grid)


def _starts(kinds: Mapping[str, str]) -> list[int]:
    """Where each field's aggregates begin in a result row (after ``__b`` and ``n``): count,
    then for numbers NaN count, mean, std, min, max, quantiles."""
    starts, position = [], 2
    for kind in kinds.values():
        starts.append(position)
        position += 7 if kind == "number" else 2
    return starts


def _rescaled(con: Any, source: str, params: list[Any], rows: list[tuple[Any, ...]],
              kinds: Mapping[str, str]) -> list[tuple[Any, ...]]:
    """`rows` with the mean and std of a number whose largest value in an interval is too
    large or too small for its squares computed again on scaled values (see `_scaled`)."""
    starts = _starts(kinds)
    todo: dict[int, dict[int, int]] = {}  # field -> interval -> k
    for row in rows:
        for i, kind in enumerate(kinds.values()):
            k = exponent(row[starts[i] + 4], row[starts[i] + 5]) if kind == "number" else None
            if k is not None:
                todo.setdefault(i, {})[row[0]] = k
    if not todo:
        return rows
    buckets = sorted({b for scales in todo.values() for b in scales})
    fields = sorted(todo)
    scales = ", ".join(["unnest(?::BIGINT[]) AS __b",
                        *(f"unnest(?::DOUBLE[]) AS __s{i}" for i in fields)])
    moments = ", ".join(f"avg(__v{i} * __s{i}), stddev_samp(__v{i} * __s{i})" for i in fields)
    sql = (f"{source}, s AS (SELECT {scales}) SELECT __b, {moments} FROM b JOIN s USING (__b) "
           "GROUP BY __b")
    factors = [[factor(todo[i].get(b, 0)) for b in buckets] for i in fields]
    found = {r[0]: r for r in con.sql(sql, params=[*params, buckets, *factors]).fetchall()}
    out = []
    for row in rows:
        fixed, again = list(row), found.get(row[0])
        for j, i in enumerate(fields):
            k = todo[i].get(row[0])
            if k is not None and again is not None:
                fixed[starts[i] + 2] = unscale(again[1 + 2 * j], k)
                fixed[starts[i] + 3] = unscale(again[2 + 2 * j], k)
        out.append(tuple(fixed))
    return out


def _long_frame(rows: list[tuple[Any, ...]], top_rows: list[tuple[Any, ...]],
                kinds: Mapping[str, str], grid: Any) -> pl.DataFrame:
    by_bucket = {row[0]: row for row in rows}
    starts = _starts(kinds)
    tops: dict[tuple[int, int], list[tuple[str, int]]] = {}
    for b, f, v, k in top_rows:
        tops.setdefault((b, f), []).append((v, k))
    records = []
    for k in range(grid.first, grid.last + 1):
        start, end, partial = grid.bounds(k)
        row = by_bucket.get(k)
        n = int(row[1]) if row else 0
        for i, (name, kind) in enumerate(kinds.items()):
            at = starts[i]
            count = int(row[at]) if row else 0
            record: dict[str, Any] = {"interval_start": start, "interval_end": end,
                                      "partial": partial, "field": name, "kind": kind,
                                      "count": n, "null_rate": (n - count) / n if n else None}
            if row and kind == "number":
                nans, mean, std, low, high, quantiles = row[at + 1:at + 7]
                record.update(nan_count=int(nans), mean=mean, std=std, min=low, max=high)
                if quantiles is not None:
                    record.update(zip(("p5", "p25", "p50", "p75", "p95"), quantiles,
                                      strict=True))
            elif row and kind == "bool":
                record["true_rate"] = row[at + 1]
            elif row:
                record["distinct"] = int(row[at + 1])
                record["top"] = [{"value": v, "share": c / count}
                                 for v, c in tops.get((k, i), [])] if count else []
            records.append(record)
    return pl.DataFrame(records, schema=SCHEMA)
