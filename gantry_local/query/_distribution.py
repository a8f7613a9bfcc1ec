"""`GantrySeries.pdf()` and `cdf()`: a series' distribution as a pandas DataFrame.

Numbers are split into `BINS` equal-width bins between the smallest and the largest present
value (fewer when there are fewer distinct values): ``pdf()`` has one row per bin with
``bin_start``, ``bin_end``, ``count`` and ``pdf`` (the density: the bin's share divided by its
width, so the bars' areas add up to 1; a series of one value has one row, ``pdf`` 1.0);
``cdf()`` has ``value`` (a bin's end) and ``cdf`` (the share of values up to it). Booleans,
strings and tags have one row per value, in sorted order, with ``value``, ``count`` and
``pdf`` (its share) or ``cdf`` (the running share). Missing values are left out; no present
value gives an empty frame with those columns.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Protocol

from .._db import storage_errors
from ..errors import ValidationError

if TYPE_CHECKING:
    import pandas


class Series(Protocol):
    """What a distribution reads of a `GantrySeries`."""

    name: str
    parent_dataframe: Any

    @property
    def dtype(self) -> str:
        """The series' type."""

__all__ = ["BINS", "distribution"]

BINS = 10
_NUMERIC = ("int", "float")
_CATEGORICAL = ("bool", "str", "tag", "uuid")


def distribution(series: Series, cumulative: bool, pd: Any) -> pandas.DataFrame:
    """The pdf (or, `cumulative`, the cdf) of `series` as described in the module, built
    with the pandas module `pd`."""
    if series.dtype not in (*_NUMERIC, *_CATEGORICAL, "null"):
        raise ValidationError(f"{'cdf' if cumulative else 'pdf'} works on int, float, bool, str "
                              f"and tag series; {series.name!r} holds {series.dtype} values")
    if series.dtype in _NUMERIC:
        rows = _bins(series)
        total = sum(count for _, _, count in rows)
        if cumulative:
            running = list(itertools.accumulate(count for _, _, count in rows))
            frame: pandas.DataFrame = pd.DataFrame(
                {"value": [end for _, end, _ in rows], "cdf": [c / total for c in running]},
                columns=["value", "cdf"])
            return frame
        frame = pd.DataFrame(
            {"bin_start": [s for s, _, _ in rows], "bin_end": [e for _, e, _ in rows],
             "count": [c for _, _, c in rows],
             "pdf": [c / total / (e - s) if e > s else 1.0 for s, e, c in rows]},
            columns=["bin_start", "bin_end", "count", "pdf"])
        return frame
    counts = [(v, int(c)) for v, c in series.parent_dataframe._aggregate(
        "count(*)", series.name, (), series.name) if v is not None]
    counts.sort(key=lambda vc: vc[0])
    total = sum(c for _, c in counts)
    shares = [c / total for _, c in counts]
    column = "cdf" if cumulative else "pdf"
    values = list(itertools.accumulate(shares)) if cumulative else shares
    frame = pd.DataFrame({"value": [v for v, _ in counts], "count": [c for _, c in counts],
                          column: values}, columns=["value", "count", column])
    return frame


def _bins(series: Series) -> list[tuple[float, float, int]]:
    """(start, end, count) of each equal-width bin of the present values, in order."""
    frame = series.parent_dataframe
    selection = frame.selection(ordered=False)
    column = selection.column(series.name, "s") or "NULL"
    stats_sql = (f"SELECT min({column})::DOUBLE, max({column})::DOUBLE, "
                 f"count(DISTINCT {column}) FROM ({selection.sql}) AS s")
    with frame._ws.database.cursor() as con, storage_errors(f"querying {frame.application!r}"):
        low, high, distinct = _row(con.execute(stats_sql, selection.params).fetchone())
        if distinct == 0:
            return []
        if high <= low:
            count = con.execute(f"SELECT count({column}) FROM ({selection.sql}) AS s",
                                selection.params).fetchone()
            return [(low, high, int(count[0]) if count else 0)]
        bins = min(BINS, int(distinct))
        width = (high - low) / bins
        sql = (f"SELECT least(floor(({column}::DOUBLE - ?) / ?)::BIGINT, ?) AS k, count(*) "
               f"FROM ({selection.sql}) AS s WHERE {column} IS NOT NULL GROUP BY k")
        found = dict(con.execute(sql, [low, width, bins - 1, *selection.params]).fetchall())
    return [(low + k * width, high if k == bins - 1 else low + (k + 1) * width,
             int(found.get(k, 0))) for k in range(bins)]


def _row(row: Any) -> tuple[float, float, int]:
    if row is None or row[0] is None:
        return 0.0, 0.0, 0
    return float(row[0]), float(row[1]), int(row[2])
