"""`GantryDataFrame` and `GantrySeries`: Gantry's query objects over a local `Query`."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from .._context import narrow
from .._db import storage_errors
from .._names import is_valid_text
from ..clock import datetime_to_us
from ..errors import GantryLocalError, NotFoundError, ValidationError
from ..records._schema import FEEDBACK, RECORDS
from ..records.query import Query

if TYPE_CHECKING:
    from typing import TypeAlias

    import pandas

    from .._context import Context, WorkspaceLike

    # A series statistic: one value, or a frame of them (``num_points`` > 1 or ``group_by``).
    Statistic: TypeAlias = "float | int | datetime | pandas.DataFrame | None"

__all__ = ["Filters", "GantryDataFrame", "GantrySeries"]

# GantrySeries statistics a GantryDataFrame applies to every series (Gantry's __getattr__)
_FRAME_STATISTICS = frozenset((
    "mean", "std", "median", "min", "max", "sum", "histogram", "unique", "quantile",
    "percent_true", "percent_false", "percent_null", "percent_true_not_null",
    "percent_false_not_null", "pdf", "cdf"))


class UnknownColumnError(NotFoundError, KeyError):
    """``df[name]`` for a column the frame does not have (a `KeyError`, as in Gantry)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - pandas is installed in the dev extra
        raise GantryLocalError("GantryDataFrame results are pandas objects, as in Gantry: "
                               "install pandas (pip install pandas), or use to_polars() / "
                               "to_arrow()") from exc
    return pandas


class GantryDataFrame(Query):
    """Gantry's query result: a lazy, filterable view of an application's records.

    It is also a `Query` (``to_polars()``, ``to_arrow()``, ``count()`` ...). Series are
    the logged ``inputs.*``, ``outputs.*``, ``feedback.*`` fields and ``tags.*``.
    """

    _ws: Context

    def __init__(
        self,
        workspace: WorkspaceLike,
        application: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        version: int | str | None = None,
        env: str | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(application, str):
            raise ValidationError(f"application must be an application name, got "
                                  f"{type(application).__name__}")
        if tags is not None and not isinstance(tags, Mapping):
            raise ValidationError(f"tags must be a dict of strings, got {type(tags).__name__}")
        if env is not None and not isinstance(env, str):
            raise ValidationError(f"environment must be a string, got {type(env).__name__}")
        merged = {**(tags or {}), **({"env": env} if env is not None else {})}
        self.env = env
        # a relative window's length and offset (`Application.query`), kept by save_query
        self.relative_time_window: timedelta | None = None
        self.relative_time_delay: timedelta | None = None
        super().__init__(narrow(workspace), application, start_time, end_time, version, merged,
                         filters)

    # -- Gantry's interface -------------------------------------------------------------------

    def __getitem__(self, key: object) -> Any:
        if isinstance(key, Filters):
            return self._clone_with_extra_filters(key)
        if isinstance(key, str):
            series = self.series
            if key not in series:
                raise UnknownColumnError(f"{key!r} is not a valid column; columns are: "
                                         f"{', '.join(series) or 'none yet'}")
            return series[key]
        raise ValidationError("a GantryDataFrame is indexed by a column name or a mask such "
                              "as df[df['inputs.x'] > 3]")

    def __len__(self) -> int:
        return self.count()

    def __getattr__(self, name: str) -> Callable[..., pandas.DataFrame | dict[str, Any]]:
        """Gantry's frame-wide statistics: ``df.mean()`` is every series' ``mean()``, as a
        one-row pandas DataFrame (a dict when a statistic is itself a frame, e.g. ``pdf``);
        a series whose type the statistic does not take raises, as in Gantry."""
        if name not in _FRAME_STATISTICS:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

        def each_series(*args: Any, **kwargs: Any) -> pandas.DataFrame | dict[str, Any]:
            results = {key: getattr(series, name)() for key, series in self.series.items()}
            pd = _pandas()
            if any(isinstance(v, pd.DataFrame) for v in results.values()):
                return results
            frame: pandas.DataFrame = pd.DataFrame([list(results.values())],
                                                   columns=list(results))
            return frame

        return each_series

    def create_view(self, name: str) -> None:
        """Save this frame's window, version, tags and filters as view `name` (Gantry's
        ``GantryDataFrame.create_view``); query it with ``gquery.query(app, view=name)``."""
        from ._views import create_view

        create_view(self._ws, name, self.application, self.start_time, self.end_time, None,
                    self.version, self.tags or None, self.filters, lambda *_: None)

    def __repr__(self) -> str:
        return (f"GantryDataFrame(application={self.application!r}, from={self.start_time!r}, "
                f"to={self.end_time!r}, series={list(self.series)})")

    @property
    def gantry_filters(self) -> list[dict[str, Any]]:
        """The Gantry filter dicts this frame applies (also `filters`)."""
        return [dict(f) for f in self.filters]

    @property
    def series(self) -> dict[str, GantrySeries]:
        """Every column as a `GantrySeries`, by name."""
        return {name: GantrySeries(name, dtype, self) for name, dtype in self._dtypes().items()}

    @property
    def dtypes(self) -> pandas.Series:
        """Each column's type (int, float, str, bool, datetime, tag ...), sorted by name."""
        series: pandas.Series = _pandas().Series(self._dtypes(), dtype=object)
        return series.sort_index(ascending=True)

    def fetch(self) -> pandas.DataFrame:
        """All matching records as a pandas DataFrame, with Gantry's extra ``join_id``."""
        return self._frame()

    def head(self, n: int = 5) -> pandas.DataFrame:
        """The first `n` records by time."""
        return self._frame(limit=_count(n), newest=False)

    def tail(self, n: int = 5) -> pandas.DataFrame:
        """The last `n` records by time (oldest of them first)."""
        return self._frame(limit=_count(n), newest=True)

    def describe(self) -> pandas.DataFrame:
        """Basic statistics of every column (rows: application, from, to, then stats)."""
        pd = _pandas()
        table = {name: s._describe() for name, s in self.series.items()}
        stats: list[str] = []
        for described in table.values():
            stats.extend(k for k in described if k not in stats)
        data = [[self.application] * len(table), [self.start_time] * len(table),
                [self.end_time] * len(table)]
        data += [[table[name].get(stat, "N/A") for name in table] for stat in stats]
        result: pandas.DataFrame = pd.DataFrame(data, index=["application", "from", "to",
                                                             *stats], columns=list(table))
        return result

    # -- internals ----------------------------------------------------------------------------

    def _dtypes(self) -> dict[str, str]:
        state = self._ws.app_state(self.application)
        fields = {**state.schema.snapshot(RECORDS), **state.schema.snapshot(FEEDBACK)}
        return {name: ("tag" if name.startswith("tags.") else dtype)
                for name, dtype in fields.items()
                if name.split(".", 1)[0] in ("inputs", "outputs", "feedback", "tags")}

    def _clone_with_extra_filters(self, filters: Filters) -> GantryDataFrame:
        for f in filters.filter_objs:
            if f.series.parent_dataframe is not self:
                raise ValidationError("a mask made from another GantryDataFrame cannot filter "
                                      "this one: build it from this frame's own series")
        clone = GantryDataFrame(self._ws, self.application, self.start_time, self.end_time,
                                self.version, self.env,
                                [*self.gantry_filters, *(f.filter_ for f in filters.filter_objs)],
                                {k: v for k, v in self.tags.items() if k != "env" or
                                 self.env is None})
        clone.batch_id = self.batch_id
        clone.relative_time_window = self.relative_time_window
        clone.relative_time_delay = self.relative_time_delay
        return clone

    def _frame(self, limit: int | None = None, newest: bool = False) -> pandas.DataFrame:
        _pandas()
        if limit is None:
            table = self.to_arrow()
        else:
            selection = self.selection(ordered=False)
            direction = "DESC" if newest else "ASC"
            sql = (f"SELECT * FROM ({selection.sql}) AS s ORDER BY s.\"__time\" {direction}, "
                   f"s.\"__join_key\" {direction} LIMIT ?")
            with self._ws.database.cursor() as con, storage_errors(f"querying {self.application!r}"):
                table = selection.to_logical(con.sql(sql, params=[*selection.params, limit])
                                             .to_arrow_table())
            if newest:
                table = table.take(list(range(table.num_rows - 1, -1, -1)))
        frame: pandas.DataFrame = table.to_pandas()
        frame["join_id"] = frame.get("__join_key", None)
        return frame

    def _time_series(self, expression: str, field: str, params: Sequence[Any],
                     num_points: int, what: str) -> pandas.DataFrame:
        return _time_series(self, expression, field, params, num_points, what)

    def _aggregate(self, expression: str, field: str, params: Sequence[Any] = (),
                   group_by: str | None = None) -> Any:
        """Run ``SELECT expression`` over this frame's rows, `field` bound to ``{col}``."""
        selection = self.selection(ordered=False)
        column = selection.column(field, "s")
        if column is None:  # declared by the schema, no value stored yet
            column = "NULL"
        sql = expression.format(col=column)
        if group_by is None:
            with self._ws.database.cursor() as con, storage_errors(f"querying {self.application!r}"):
                row = con.execute(f"SELECT {sql} FROM ({selection.sql}) AS s",
                                  [*params, *selection.params]).fetchone()
            return None if row is None else row[0]
        group = selection.column(group_by, "s") or "NULL"
        query = (f"SELECT {group} AS g, {sql} AS v FROM ({selection.sql}) AS s "
                 "GROUP BY g ORDER BY g NULLS LAST")
        with self._ws.database.cursor() as con, storage_errors(f"querying {self.application!r}"):
            rows = con.execute(query, [*params, *selection.params]).fetchall()
        return rows


def _time_series(frame: GantryDataFrame, expression: str, field: str,
                 params: Sequence[Any], num_points: int, what: str) -> pandas.DataFrame:
    """The statistic over `num_points` equal slices of the frame's window, oldest first."""
    start, end = frame.start_time, frame.end_time
    if start is None or end is None or end <= start:
        raise ValidationError("num_points > 1 needs a query with both start_time and end_time")
    selection = frame.selection(ordered=False)
    column = selection.column(field, "s") or "NULL"
    span = (end - start) // num_points
    if span.total_seconds() <= 0:
        raise ValidationError(f"the window is too short to split into {num_points} points")
    start_us = datetime_to_us(start)
    span_us = max(1, int(span.total_seconds() * 1_000_000))
    bucket = 'least((epoch_us(s."__time") - ?) // ?, ?)'
    sql = (f"SELECT {bucket} AS k, {expression.format(col=column)} AS v FROM "
           f"({selection.sql}) AS s GROUP BY k ORDER BY k")
    with frame._ws.database.cursor() as con, storage_errors(f"querying {frame.application!r}"):
        rows = dict(con.execute(sql, [start_us, span_us, num_points - 1, *params,
                                      *selection.params])
                    .fetchall())
    times = [start + span * k for k in range(num_points)]
    result: pandas.DataFrame = _pandas().DataFrame(
        {"time": times, what: [rows.get(k) for k in range(num_points)]})
    return result


def _count(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValidationError(f"n must be a whole number of 0 or more, got {n!r}")
    return n


class _FilterObj:
    """One filter dict and the series it came from."""

    def __init__(self, filter_: dict[str, Any], series: GantrySeries) -> None:
        self.filter_ = filter_
        self.series = series


class Filters:
    """A mask: what ``series > 10`` returns; index a frame or series with it, chain with &."""

    def __init__(self, filter_objs: list[_FilterObj]) -> None:
        self.filter_objs = filter_objs

    def __and__(self, other: object) -> Filters:
        if not isinstance(other, Filters):
            raise ValidationError("masks chain with & only with other masks")
        parent = self.filter_objs[0].series.parent_dataframe
        if any(f.series.parent_dataframe is not parent for f in other.filter_objs):
            raise ValidationError("cannot &-combine masks from different dataframes")
        return Filters([*self.filter_objs, *other.filter_objs])

    def __bool__(self) -> bool:
        raise ValidationError("a mask has no truth value: combine masks with &, not 'and'")


_NUMERIC = ("int", "float")


def _exact(aggregate: str) -> str:
    """`aggregate` (avg, stddev_samp) of ``{col}``, exact across the float range: DuckDB's
    sums of squares overflow near 1e154 and lose every digit near 1e-154, so values far from
    1 are aggregated times 2**-600 or 2**600 (exact) and scaled back, in the same pass."""
    down = f"{aggregate}(CAST({{col}} AS DOUBLE) * pow(2.0, -600)) * pow(2.0, 600)"
    up = f"{aggregate}(CAST({{col}} AS DOUBLE) * pow(2.0, 600)) * pow(2.0, -600)"
    return (f"(CASE WHEN max(abs({{col}})) > pow(2.0, 450) THEN {down} "
            f"WHEN max(abs({{col}})) < pow(2.0, -450) THEN {up} ELSE {aggregate}({{col}}) END)")


_SORTABLE = ("int", "float", "datetime", "date")
_EQUATABLE = ("bool", "str", "uuid", "tag", "int", "float")
_KIND_OF_VALUE: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str"}


def _runs_on(series: GantrySeries, what: str, kinds: tuple[str, ...]) -> None:
    """Gantry's ``runs_on``: `what` only works on series of `kinds` (or with no value yet)."""
    if series.dtype not in kinds and series.dtype != "null":
        raise ValidationError(f"{what} works on {', '.join(kinds)} series; {series.name!r} "
                              f"holds {series.dtype} values")


def _valid_text(value: object, name: str) -> None:
    if isinstance(value, str) and not is_valid_text(value):
        raise ValidationError(f"{name}: the string {value[:40]!r} is not valid Unicode (it holds "
                              "a lone surrogate)")


class GantrySeries:
    """One column of a `GantryDataFrame`; comparisons make masks, methods aggregate."""

    def __init__(self, name: str, datatype: str, parent_dataframe: GantryDataFrame) -> None:
        self.name = name
        self.datatype = datatype
        self.parent_dataframe = parent_dataframe

    @property
    def dtype(self) -> str:
        """The column's type: int, float, str, bool, datetime, date, tag or null."""
        return self.datatype

    @property
    def series_type(self) -> str:
        """Where the column comes from: ``inputs``, ``outputs``, ``feedback`` or ``tags``."""
        return self.name.split(".", 1)[0]

    @property
    def filters(self) -> list[dict[str, Any]]:
        """The parent frame's Gantry filter dicts (Gantry's ``GantrySeries.filters``)."""
        return self.parent_dataframe.gantry_filters

    def __repr__(self) -> str:
        frame = self.parent_dataframe
        return (f"GantrySeries(application={frame.application!r}, from={frame.start_time!r}, "
                f"to={frame.end_time!r}, name={self.name!r}, type={self.dtype!r})")

    def __getitem__(self, key: object) -> GantrySeries:
        if isinstance(key, Filters):
            result: GantrySeries = self.parent_dataframe._clone_with_extra_filters(key)[self.name]
            return result
        raise ValidationError("a GantrySeries is indexed only by a mask, e.g. "
                              f"series[series > 10]; got {key!r}")

    def __hash__(self) -> int:
        return hash((id(self.parent_dataframe), self.name))

    def __len__(self) -> int:
        return int(cast(int, self.count()))  # one value: no num_points, no group_by

    # -- masks --------------------------------------------------------------------------------

    def _mask(self, kind: str, value: Any, **extra: Any) -> Filters:
        return Filters([_FilterObj({"feature_name": self.name, kind: value, **extra}, self)])

    def _compare(self, other: object, what: str, kinds: tuple[str, ...]) -> None:
        if isinstance(other, GantrySeries):
            raise ValidationError("series cannot be compared with each other; chain masks with "
                                  "&, e.g. df[(df['a'] > 1) & (df['b'] < 2)]")
        _runs_on(self, what, kinds)
        if other is None or not isinstance(other, (bool, int, float, str, datetime, date)):
            raise ValidationError(f"{self.name} {what} needs a number, string, bool or datetime"
                                  f" (use isnull()/notnull() for None), got {other!r}")

    def _equality(self, other: object, what: str) -> str:
        """The filter kind Gantry's ``==``/``!=`` makes for this series and value."""
        self._compare(other, what, _EQUATABLE)
        kind = self.dtype if self.dtype != "null" else _KIND_OF_VALUE.get(type(other), "")
        wanted = {"bool": (bool,), "str": (str,), "uuid": (str,), "tag": (str,),
                  "int": (int, float), "float": (int, float)}.get(kind, ())
        if not isinstance(other, wanted) or (kind in _NUMERIC and isinstance(other, bool)):
            raise ValidationError(f"cannot compare {self.name!r} ({self.dtype} values) with "
                                  f"{other!r} using {what}")
        return kind

    def __eq__(self, other: object) -> Filters:  # type: ignore[override]
        kind = self._equality(other, "==")
        if kind == "bool":
            return self._mask("boolean_query", other)
        if kind == "tag":  # ours: a tag series is filtered through Gantry's tag filter
            return self._mask("category_query", [other], dtype="tag")
        if kind in ("str", "uuid"):
            return self._mask("string_query", other)
        return self._mask("equals", other)

    def __ne__(self, other: object) -> Filters:  # type: ignore[override]
        kind = self._equality(other, "!=")
        if kind == "bool":
            return self._mask("boolean_query", not other)
        if kind in ("str", "uuid", "tag"):
            _valid_text(other, self.name)
            return self._mask("string_query", f"^(?!({other})$).*$",
                              **({"dtype": "tag"} if kind == "tag" else {}))
        return self._mask("not_number_query", other)

    def __gt__(self, other: object) -> Filters:
        self._compare(other, ">", _SORTABLE)
        return self._mask("lower_bound", other)

    def __ge__(self, other: object) -> Filters:
        self._compare(other, ">=", _SORTABLE)
        return self._mask("inclusive_lower_bound", other)

    def __lt__(self, other: object) -> Filters:
        self._compare(other, "<", _SORTABLE)
        return self._mask("upper_bound", other)

    def __le__(self, other: object) -> Filters:
        self._compare(other, "<=", _SORTABLE)
        return self._mask("inclusive_upper_bound", other)

    def __invert__(self) -> Filters:
        _runs_on(self, "~series", ("bool",))
        return self._mask("boolean_query", False)

    def isin(self, other: list[str]) -> Filters:
        """Mask: the value is one of `other`."""
        _runs_on(self, "isin", ("str", "uuid", "tag"))
        if isinstance(other, (str, bytes)) or not isinstance(other, Sequence):
            raise ValidationError(f"isin takes a list of values, got {other!r}")
        return self._mask("category_query", list(other),
                          **({"dtype": "tag"} if self.dtype == "tag" else {}))

    def contains(self, other: str) -> Filters:
        """Mask: a string value contains `other`."""
        _runs_on(self, "contains", ("str", "uuid", "tag"))
        if not isinstance(other, str):
            raise ValidationError(f"contains takes a string, got {other!r}")
        return self._mask("string_query", other,
                          **({"dtype": "tag"} if self.dtype == "tag" else {}))

    def notnull(self) -> Filters:
        """Mask: the value is present."""
        return self._mask("null_value", False)

    def notna(self) -> Filters:
        """Alias of `notnull`."""
        return self.notnull()

    def isnull(self) -> Filters:
        """Mask: the value is missing."""
        return self._mask("null_value", True)

    def isna(self) -> Filters:
        """Alias of `isnull`."""
        return self.isnull()

    # -- fetching -----------------------------------------------------------------------------

    def _columns(self, frame: pandas.DataFrame) -> pandas.DataFrame:
        keep = [c for c in (self.name, "join_id") if c in frame]
        result: pandas.DataFrame = frame[keep]
        return result

    def fetch(self) -> pandas.DataFrame:
        """Every value of this column (with ``join_id``), as a pandas DataFrame."""
        return self._columns(self.parent_dataframe.fetch())

    def head(self, n: int = 5) -> pandas.DataFrame:
        """The first `n` values by time."""
        return self._columns(self.parent_dataframe.head(n))

    def tail(self, n: int = 5) -> pandas.DataFrame:
        """The last `n` values by time."""
        return self._columns(self.parent_dataframe.tail(n))

    # -- aggregations (Gantry's names and defaults) -------------------------------------------

    def _stat(self, expression: str, kinds: tuple[str, ...] | None, what: str,
              num_points: int = 1, group_by: str | None = None, params: Sequence[Any] = ()
              ) -> Statistic:
        if kinds is not None and self.dtype not in (*kinds, "null"):
            raise ValidationError(f"{what} works on {', '.join(kinds)} series; {self.name!r} "
                                  f"holds {self.dtype} values")
        if isinstance(num_points, bool) or not isinstance(num_points, int) or num_points <= 0:
            raise ValidationError(f"num_points must be an int > 0, got {num_points!r}")
        if num_points != 1:
            if group_by is not None:
                raise ValidationError("a statistic grouped by a column cannot also be split "
                                      "into num_points")
            return self.parent_dataframe._time_series(expression, self.name, params,
                                                      num_points, what)
        if group_by is None:
            return cast("Statistic", self.parent_dataframe._aggregate(expression, self.name, params))
        if not isinstance(group_by, str) or group_by not in self.parent_dataframe.series:
            raise ValidationError(f"cannot find column {group_by!r} to group by")
        rows = self.parent_dataframe._aggregate(expression, self.name, params, group_by)
        frame: pandas.DataFrame = _pandas().DataFrame([{group_by: g, what: v} for g, v in rows])
        return frame

    def mean(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """The average (int and float series)."""
        return self._stat(_exact("avg"), _NUMERIC, "mean", num_points, group_by)

    def std(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """The sample standard deviation (int and float series)."""
        return self._stat(_exact("stddev_samp"), _NUMERIC, "stddev", num_points, group_by)

    def median(self, num_points: int = 1) -> Statistic:
        """The median (int and float series)."""
        return self._stat("quantile_cont({col}, 0.5)", _NUMERIC, "median", num_points)

    def count(self, num_points: int = 1, group_by: str | None = None, limit: int = 20
              ) -> int | pandas.DataFrame:
        """How many records the series covers (nulls included), any type."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise ValidationError(f"limit must be an int > 0, got {limit!r}")
        result: Any = self._stat("count(*)", None, "total", num_points, group_by)
        if group_by is not None:
            return cast("pandas.DataFrame", result.head(limit))
        if num_points != 1:  # a time series: empty slices count 0
            result["total"] = [int(v) if v is not None and v == v else 0
                               for v in result["total"]]
            return cast("pandas.DataFrame", result)
        return int(result or 0)

    def min(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """The smallest value (int, float and datetime series)."""
        return self._stat("min({col})", _SORTABLE, "minimum", num_points, group_by)

    def max(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """The largest value (int, float and datetime series)."""
        return self._stat("max({col})", _SORTABLE, "maximum", num_points, group_by)

    def sum(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """The total (int and float series; ours, Gantry had no sum)."""
        return self._stat("sum({col})", _NUMERIC, "sum", num_points, group_by)

    def quantile(self, quantile_vals: list[float] = [0.5]) -> dict[float, Any]:  # noqa: B006
        """The requested quantiles (default ``[0.5]``) as {quantile: value}."""
        values = quantile_vals  # never mutated: the shared default stays [0.5]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values or \
                not all(isinstance(q, (int, float)) and not isinstance(q, bool) and 0 <= q <= 1
                        for q in values):
            raise ValidationError(f"quantile_vals must be a list of numbers in [0, 1], got "
                                  f"{quantile_vals!r}")
        found: Any = self._stat("quantile_cont({col}, ?::DOUBLE[])", _NUMERIC, "quantiles",
                                params=[[float(q) for q in values]])
        answers = found if found is not None else [None] * len(values)
        return {float(q): v for q, v in zip(values, answers, strict=True)}

    def histogram(self) -> dict[Any, float]:
        """The share of each present value, from 0 to 1 (bool, int, float, str, tag)."""
        kinds = ("bool", "int", "float", "str", "tag", "null")
        if self.dtype not in kinds:
            raise ValidationError(f"histogram works on bool, int, float, str and tag series; "
                                  f"{self.name!r} holds {self.dtype} values")
        rows = self.parent_dataframe._aggregate("count(*)", self.name, (), self.name)
        present = [(g, int(v)) for g, v in rows if g is not None]
        total = builtins.sum(v for _, v in present)
        return {g: v / total for g, v in present}

    def unique(self) -> set[Any]:
        """The distinct values present (bool, str and tag series)."""
        if self.dtype not in ("bool", "str", "tag", "null"):
            raise ValidationError(f"unique works on bool, str and tag series; {self.name!r} "
                                  f"holds {self.dtype} values")
        return set(self.histogram())

    def pdf(self) -> pandas.DataFrame:
        """The distribution: a density per bin for numbers, a share per value otherwise.

        A pandas DataFrame, as Gantry's; its columns are described in
        `gantry_local.query._distribution`.
        """
        from ._distribution import distribution

        return distribution(self, False, _pandas())

    def cdf(self) -> pandas.DataFrame:
        """The cumulative distribution: the share of values up to each bin end or value."""
        from ._distribution import distribution

        return distribution(self, True, _pandas())

    def _share(self, condition: str, what: str, dropna: bool = False,
               num_points: int = 1, group_by: str | None = None) -> Statistic:
        base = "count({col})" if dropna else "count(*)"
        return self._stat(f"coalesce(count(*) FILTER (WHERE {condition}) / "
                          f"nullif({base}, 0), 0)", ("bool",), what, num_points, group_by)

    def percent_true(self, dropna: bool = False, num_points: int = 1,
                     group_by: str | None = None) -> Statistic:
        """Share of true values (bool series); `dropna` leaves nulls out of the total."""
        return self._share("{col}", "percent_true", dropna, num_points, group_by)

    def percent_false(self, dropna: bool = False, num_points: int = 1,
                      group_by: str | None = None) -> Statistic:
        """Share of false values (bool series)."""
        return self._share("NOT {col}", "percent_false", dropna, num_points, group_by)

    def percent_null(self, num_points: int = 1, group_by: str | None = None) -> Statistic:
        """Share of missing values."""
        return self._stat("coalesce(count(*) FILTER (WHERE {col} IS NULL) / "
                          "nullif(count(*), 0), 0)", None, "percent_null", num_points, group_by)

    def percent_true_not_null(self, dropna: bool = False, num_points: int = 1,
                              group_by: str | None = None) -> Statistic:
        """Share of true values among the present ones (bool series)."""
        return self._share("{col}", "percent_true_not_null", True, num_points, group_by)

    def percent_false_not_null(self, dropna: bool = False, num_points: int = 1,
                               group_by: str | None = None) -> Statistic:
        """Share of false values among the present ones (bool series)."""
        return self._share("NOT {col}", "percent_false_not_null", True, num_points, group_by)

    def _describe(self) -> dict[str, Any]:
        count = self.count()
        table: dict[str, Any] = {"series type": self.series_type, "type": self.dtype,
                                 "count": count,
                                 "not null count": self[self.notnull()].count(),
                                 "null count": self[self.isnull()].count()}
        if self.dtype in _NUMERIC:
            q = self.quantile([0.25, 0.5, 0.75])
            table.update({"q25": q[0.25], "q50": q[0.5], "q75": q[0.75], "mean": self.mean(),
                          "min": self.min(), "max": self.max()})
        if self.dtype == "bool":
            table["True rate"] = self.percent_true()
        return table

    def describe(self) -> pandas.DataFrame:
        """Basic statistics of this series (rows: application, from, to, then stats)."""
        stats = self._describe()
        frame = self.parent_dataframe
        result: pandas.DataFrame = _pandas().DataFrame(
            [frame.application, frame.start_time, frame.end_time, *stats.values()],
            index=["application", "from", "to", *stats], columns=[self.name])
        return result
