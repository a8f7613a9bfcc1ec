"""What monitoring reads: an application's records (feedback joined) by time, field kinds,
and the interval grid."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._db import run, storage_errors
from .._limits import shown
from .._sql import quote_ident
from ..clock import EPOCH, datetime_to_us, to_utc
from ..errors import ValidationError
from ..records._duckdb_sink import table_name
from ..records._schema import RECORDS
from ..records.query import Query

if TYPE_CHECKING:
    from .._context import Context

__all__ = ["MAX_INTERVALS", "Grid", "Records", "check_dataset", "check_interval", "check_workspace",
           "field_kinds", "finite", "grid_for", "shown", "utc_time"]

MAX_INTERVALS = 100_000  # intervals one summary, metric or drift table may have
_KINDS = {"int": "number", "float": "number", "str": "category", "bool": "bool"}


def field_kinds(ws: Context, application: str) -> dict[str, str]:
    """Every monitored field (inputs, outputs, feedback) and its kind: number, category, bool."""
    schema = ws.app_state(application).schema
    logical = {**schema.snapshot("records"), **schema.snapshot("feedback")}
    return {name: _KINDS[kind] for name, kind in sorted(logical.items())
            if kind in _KINDS and name.split(".", 1)[0] in ("inputs", "outputs", "feedback")}


def choose_fields(kinds: Mapping[str, str], fields: Sequence[str] | None,
                  allowed: Sequence[str] = ("number", "category", "bool")) -> dict[str, str]:
    """The fields asked for (default: all), with their kinds; unknown ones listed in the error."""
    if fields is None:
        chosen = {f: k for f, k in kinds.items() if k in allowed}
        if not chosen:
            raise ValidationError("the application has no fields to monitor yet; log some records")
        return chosen
    if not isinstance(fields, (list, tuple)) or not fields:
        raise ValidationError(f"fields must be a non-empty list of field names, got {fields!r}")
    out = {}
    for name in fields:
        if not isinstance(name, str) or name not in kinds:
            raise ValidationError(f"unknown field {name!r}; known fields: {', '.join(kinds)}")
        if kinds[name] not in allowed:
            raise ValidationError(f"field {name!r} is a {kinds[name]}; this needs "
                                  f"{' or '.join(allowed)} fields")
        out[name] = kinds[name]
    return out


@dataclass(frozen=True)
class Records:
    """One application's records in [start, end), filtered, as SQL with bound parameters.

    `columns` are the fields; refer to one in SQL over ``sql`` with `column` (fields that
    differ only in case have suffixed columns there, see `records.query.Selection`).
    """

    sql: str
    params: list[Any]
    columns: list[str]
    physical: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, ws: Context, application: str, start: datetime | None, end: datetime | None,
           version: int | str | None = None, tags: Mapping[str, str] | None = None) -> Records:
        selection = Query(ws, application, start, end, version, tags).selection(ordered=False)
        return cls(selection.sql, selection.params, selection.fields, selection.columns)

    def column(self, name: str) -> str:
        """The quoted column of field `name` in the output of `sql`, or ``NULL`` if absent."""
        physical = self.physical.get(name)
        return "NULL" if physical is None else quote_ident(physical)


@dataclass(frozen=True)
class Grid:
    """Intervals ``[origin + k*step, origin + (k+1)*step)`` from `first` to `last`, the last
    cut at `end` (partial) when `end` does not fall on the grid."""

    origin: datetime
    step: timedelta
    first: int
    last: int
    end: datetime

    def bounds(self, k: int) -> tuple[datetime, datetime, bool]:
        start = self.origin + k * self.step
        partial = self.end - start < self.step  # never computes a time past `end`
        return start, self.end if partial else start + self.step, partial

    @property
    def step_us(self) -> int:
        return self.step // timedelta(microseconds=1)

    def bucket_sql(self, column: str = '"__time"') -> tuple[str, list[Any]]:
        """The interval number of a row, as SQL and parameters."""
        return (f"CAST(floor((epoch_us({column}) - ?) / ?) AS BIGINT)",
                [datetime_to_us(self.origin), self.step_us])


def utc_time(value: Any, what: str) -> datetime:
    """`value` as an aware UTC datetime (naive is UTC), or a `ValidationError` saying why not."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {type(value).__name__} {value!r}")
    try:
        return to_utc(value, what)
    except OverflowError:
        raise ValidationError(f"{what} {value.isoformat()} is outside the datetime range once "
                              "converted to UTC; give a time between years 1 and 9999 UTC"
                              ) from None


def check_interval(interval: Any) -> timedelta:
    """A positive `timedelta`, or a `ValidationError`."""
    if not isinstance(interval, timedelta) or interval <= timedelta(0):
        raise ValidationError(f"interval must be a positive timedelta, got {interval!r}")
    return interval


def grid_for(ws: Context, application: str, interval: timedelta, start: datetime | None,
             end: datetime | None) -> Grid:
    """The interval grid over [start, end); defaults: the first and last records' intervals,
    aligned to the Unix epoch (so days start at midnight UTC).

    Raises:
        ValidationError: a bad interval or time, or more than `MAX_INTERVALS` intervals.
    """
    check_interval(interval)
    start = None if start is None else utc_time(start, "start_time")
    end = None if end is None else utc_time(end, "end_time")
    try:
        grid = _grid(ws, application, interval, start, end)
    except OverflowError:
        raise ValidationError(f"interval {interval} is too long: the intervals would run past "
                              "the datetime range (years 1 to 9999); pick a shorter interval or "
                              "give start_time and end_time") from None
    count = grid.last - grid.first + 1
    if count > MAX_INTERVALS:
        raise ValidationError(f"interval {interval} makes {count:,} intervals between "
                              f"{grid.origin} and {grid.end}; at most {MAX_INTERVALS:,} are "
                              "allowed: pick a longer interval or a shorter time range")
    return grid


def _grid(ws: Context, application: str, interval: timedelta, start: datetime | None,
          end: datetime | None) -> Grid:
    if start is not None and end is not None and end <= start:
        raise ValidationError(f"end_time {end} is not after start_time {start}")
    if start is None or end is None:
        ws.flush()
        ws.app_state(application)
        table = table_name(application, RECORDS)
        with ws.database.cursor() as con, storage_errors(f"reading {application!r}"):
            low, high = run(con, f'SELECT min("__time"), max("__time") FROM {table}')[0]
        if low is None:
            raise ValidationError(f"application {application!r} has no records yet")
        origin = start or EPOCH + ((to_utc(low) - EPOCH) // interval) * interval
        if end is None:
            last_start = origin + ((to_utc(high) - origin) // interval) * interval
            end = last_start + interval
    else:
        origin = start
    count = -(-(end - origin) // interval)  # ceiling: a partial last interval counts
    return Grid(origin, interval, 0, count - 1, end)


def check_workspace(ws: object) -> Context:
    """The context of the Workspace these functions take first (narrowed here, at the room's
    boundary), else a `ValidationError` naming what was given."""
    from .._context import narrow

    try:
        return narrow(ws)
    except ValidationError:
        raise ValidationError(f"the first argument must be a Workspace, got {type(ws).__name__}; "
                              "or call the Application's method (app.summarize(...), ...)"
                              ) from None


def check_dataset(dataset: object) -> None:
    """Refuse a first argument that is not a Dataset (``workspace.datasets.get_dataset(name)``)."""
    from ..datasets.dataset import Dataset

    if not isinstance(dataset, Dataset):
        raise ValidationError(f"the first argument must be a Dataset (workspace.datasets.get_dataset("
                              f"name)), got {type(dataset).__name__}")

def finite(value: float) -> bool:
    """math.isfinite, False for an int beyond any float (instead of OverflowError)."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond any float
        return False
