"""Reading series' values for `gquery.metric` and `gquery.distance` (no pandas needed)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Protocol

import numpy as np

from .._db import storage_errors
from ..clock import datetime_to_us
from ..errors import ValidationError

__all__ = ["Series", "paired_slices", "values"]


class Series(Protocol):
    """What these read of a `GantrySeries`."""

    name: str
    parent_dataframe: Any

    @property
    def dtype(self) -> str:
        """The series' type."""


def check_series(value: object, what: str) -> Series:
    """`value` if it is a `GantrySeries` (checked by its parts), else a ValidationError."""
    from ._frame import GantrySeries

    if not isinstance(value, GantrySeries):
        raise ValidationError(f"{what} must be a GantrySeries (df['outputs.x']), got "
                              f"{type(value).__name__}")
    return value


def values(series: Series) -> np.ndarray[Any, Any]:
    """The present values of `series` (its frame's window, tags and filters), in time order."""
    frame = series.parent_dataframe
    selection = frame.selection()
    column = selection.column(series.name, "s")
    if column is None:
        return np.array([], dtype=object)
    sql = f"SELECT {column} FROM ({selection.sql}) AS s WHERE {column} IS NOT NULL"
    with frame._ws.database.cursor() as con, storage_errors(f"querying {frame.application!r}"):
        rows = con.execute(sql, selection.params).fetchall()
    return np.array([r[0] for r in rows], dtype=object)


def paired_slices(outputs: Series, feedback: Series, num_points: int
                  ) -> list[tuple[datetime | None, np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    """Per slice of the window (`num_points` equal ones): its start and the records' output
    and feedback values where both are present."""
    frame = outputs.parent_dataframe
    if feedback.parent_dataframe.application != frame.application:
        raise ValidationError("outputs and feedback must be series of the same application")
    if list(feedback.parent_dataframe.filters) != list(frame.filters):
        raise ValidationError(f"Series A and series B do not have the same filters. Series A "
                              f"filters: {frame.filters}\nSeries B filters: "
                              f"{feedback.parent_dataframe.filters}")
    start, end = frame.start_time, frame.end_time
    if num_points > 1 and (start is None or end is None or end <= start):
        raise ValidationError("num_points > 1 needs a query with both start_time and end_time")
    selection = frame.selection()
    out_col, fb_col = selection.column(outputs.name, "s"), selection.column(feedback.name, "s")
    if out_col is None or fb_col is None:
        rows: list[tuple[Any, ...]] = []
    else:
        sql = (f'SELECT epoch_us(s."__time"), {out_col}, {fb_col} FROM ({selection.sql}) AS s '
               f"WHERE {out_col} IS NOT NULL AND {fb_col} IS NOT NULL")
        with frame._ws.database.cursor() as con, \
                storage_errors(f"querying {frame.application!r}"):
            rows = con.execute(sql, selection.params).fetchall()
    if num_points == 1:
        return [(start, np.array([r[1] for r in rows], dtype=object),
                 np.array([r[2] for r in rows], dtype=object))]
    assert start is not None and end is not None
    span = (end - start) / num_points
    span_us, start_us = max(1, int(span / timedelta(microseconds=1))), datetime_to_us(start)
    slices: list[list[tuple[Any, Any]]] = [[] for _ in range(num_points)]
    for at, out, fb in rows:
        slices[min(max((at - start_us) // span_us, 0), num_points - 1)].append((out, fb))
    return [(start + span * k, np.array([p[0] for p in pairs], dtype=object),
             np.array([p[1] for p in pairs], dtype=object)) for k, pairs in enumerate(slices)]
