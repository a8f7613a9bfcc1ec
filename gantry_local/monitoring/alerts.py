"""Alert measurements and records: an aggregate of an application's fields over a window,
and the alerts (fired, resolved) stored in the DuckDB file.

The triggers that decide when to measure, and the actions that run when an alert fires,
live above, in `gantry_local.automations` (``triggers``, ``actions``); this room only
measures and records. Aggregation names are Gantry's (``"maximum"``, ``"accuracy_score"``,
``"d1"`` ...); our shorter names are kept as aliases (``"max"``, ``"accuracy"``, ``"l1"``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from .._db import run, storage_errors
from ..clock import to_utc
from ..errors import ValidationError
from ._scaled import exponent, factor, unscale
from ._source import Records, check_workspace
from .quality import PAIRED, metrics_over_time

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["AGGREGATIONS", "GANTRY_AGGREGATIONS", "Alert", "Measure", "canonical_aggregation",
           "failing_automations", "list_alerts", "measure", "needs"]

_NOT_NAN = "(CASE WHEN isnan(CAST({c} AS DOUBLE)) THEN NULL ELSE {c} END)"
_TRUE = "CAST({c} AS DOUBLE) >= 0.5"  # booleans and 0/1 numbers
# our name -> SQL over one field (NaN is no value, as in `summarize`; `count` counts it)
_SIMPLE = {"mean": "avg({v})", "min": "min({v})", "max": "max({v})", "sum": "sum({v})",
           "std": "stddev_samp({v})", "count": "count({c})", "total": "count(*)",
           "percent_null": "avg(CAST({c} IS NULL AS DOUBLE))",
           "percent_true": f"coalesce(avg(CAST({_TRUE.format(c='{v}')} AS DOUBLE)), 0) * "
                           "count({v}) / nullif(count(*), 0)",
           "percent_false": f"coalesce(avg(CAST(NOT ({_TRUE.format(c='{v}')}) AS DOUBLE)), 0) * "
                            "count({v}) / nullif(count(*), 0)",
           "percent_true_not_null": f"avg(CAST({_TRUE.format(c='{v}')} AS DOUBLE))",
           "percent_false_not_null": f"avg(CAST(NOT ({_TRUE.format(c='{v}')}) AS DOUBLE))"}
# an output against its feedback, computed here (the rest come from `metrics_over_time`)
_MOMENTS = ("mean", "std")  # computed again on scaled values when too large or small (_scaled)
# mape: a difference beyond the largest float is taken of halves (exact), as the ratio is
_ERRORS = {"mape": "avg(abs(CASE WHEN isinf(__f - __o) THEN (__f / 2 - __o / 2) / (__f / 2) "
                   "ELSE (__f - __o) / nullif(__f, 0) END))",
           "max_error": "max(abs(__f - __o))"}
_DRIFT = ("psi", "js", "ks", "wasserstein", "l1", "linf", "kl", "chi2")
AGGREGATIONS = tuple(sorted({*_SIMPLE, *PAIRED, *_ERRORS, *_DRIFT}))
# Gantry's names (its AlertsAggregation values) -> ours
GANTRY_AGGREGATIONS = {
    "total": "total", "maximum": "max", "minimum": "min", "mean": "mean", "stddev": "std",
    "percent_null": "percent_null", "percent_true": "percent_true",
    "percent_false": "percent_false", "percent_true_not_null": "percent_true_not_null",
    "percent_false_not_null": "percent_false_not_null", "accuracy_score": "accuracy",
    "mean_absolute_error": "mae", "mean_squared_error": "mse",
    "mean_absolute_percentage_error": "mape", "maximum_error": "max_error", "f1_score": "f1",
    "r2_score": "r2", "precision_score": "precision", "recall_score": "recall",
    "roc_auc_score": "roc_auc", "d1": "l1", "dinf": "linf", "kl": "kl", "ks": "ks",
    "categorical_d1": "l1", "categorical_dinf": "linf", "categorical_kl": "kl", "x2": "chi2",
}
_NOT_A_NUMBER = {  # Gantry aggregations an alert cannot compare with bounds, and why
    **dict.fromkeys(("pdf", "quantiles", "category_percents", "confusion_matrix",
                     "roc_curve_plot", "pr_curve_plot", "distribution_sketch",
                     "categorical_sketch"), "it is not a single number"),
    "precision_recall_auc_score": "gantry-local does not compute it (use roc_auc_score)",
    **dict.fromkeys(("total_difference", "percent_difference"),
                    "it compares two queries: use QueriesAggregationTrigger(compare_aggregation=...)"),
}
_NUMBERS = ("number",)
_NEEDS = {**dict.fromkeys(("mean", "min", "max", "sum", "std"), _NUMBERS),
          **dict.fromkeys(("percent_true", "percent_false", "percent_true_not_null",
                           "percent_false_not_null"), ("number", "bool"))}


def canonical_aggregation(aggregation: object) -> str:
    """Our name for a Gantry aggregation name, an `AlertsAggregation` member or one of ours.

    Raises:
        ValidationError: unknown, or not comparable with bounds (saying why).
    """
    name = getattr(aggregation, "value", aggregation)  # AlertsAggregation is a str enum
    if not isinstance(name, str):
        raise ValidationError(f"aggregation must be a name such as 'maximum' or 'mean', got "
                              f"{type(aggregation).__name__}")
    if name in _NOT_A_NUMBER:
        raise ValidationError(f"aggregation {name!r} cannot be checked against bounds: "
                              f"{_NOT_A_NUMBER[name]}")
    if name in GANTRY_AGGREGATIONS:
        return GANTRY_AGGREGATIONS[name]
    if name in AGGREGATIONS:
        return name
    raise ValidationError(f"unknown aggregation {name!r}; Gantry's: "
                          f"{', '.join(GANTRY_AGGREGATIONS)} (ours too: {', '.join(AGGREGATIONS)})")


def needs(aggregation: str) -> tuple[int, tuple[str, ...] | None]:
    """How many fields an aggregation (our name) takes and the kinds the first must be."""
    paired = aggregation in PAIRED or aggregation in _ERRORS
    kinds = _NUMBERS if aggregation in _ERRORS else _NEEDS.get(aggregation)
    return (2 if paired else 1), kinds


@dataclass(frozen=True)
class Measure:
    """What to measure: an aggregation (our name) of `fields` over ``[start, end)``, of the
    records carrying `tags`. Drift compares the window with `reference` (``(start, end)``
    datetimes, a `Dataset` or ``(dataset, version_id)``; the window before it when None).
    Fewer than `min_rows` rows (on either drift side) measure nothing."""

    aggregation: str
    fields: Sequence[str]
    start: datetime
    end: datetime
    tags: Mapping[str, str] | None = None
    reference: Any = None
    min_rows: int = 1


def measure(ws: Context, application: str, spec: Measure) -> tuple[float | None, int]:
    """The aggregate (None when there is nothing to judge) and the rows it was measured on."""
    agg, fields = spec.aggregation, spec.fields
    if agg in _DRIFT:
        return _drift(ws, application, spec)
    records = Records.of(ws, application, spec.start, spec.end, tags=spec.tags)
    if agg in _SIMPLE:
        col = records.column(fields[0])
        value_sql = _NOT_NAN.format(c=col)
        sql = _SIMPLE[agg].format(c=col, v=value_sql)
        largest = f", max(abs(CAST({value_sql} AS DOUBLE)))" if agg in _MOMENTS else ", NULL"
        with ws.database.cursor() as con, storage_errors(f"measuring {agg} of {fields[0]!r}"):
            rows, value, top = run(con, f"SELECT count(*), {sql}{largest} FROM ({records.sql})",
                                   records.params)[0]
            k = exponent(top)
            if k is not None:  # the same on values times 2**-k, scaled back
                scaled = _SIMPLE[agg].format(c=col, v=f"(CAST({value_sql} AS DOUBLE) * ?)")
                value = unscale(run(con, f"SELECT {scaled} FROM ({records.sql})",
                                    [factor(k), *records.params])[0][0], k)
        return _judged(value, int(rows), spec.min_rows)
    if agg in _ERRORS:
        o, f = (f"CAST({_NOT_NAN.format(c=records.column(n))} AS DOUBLE)" for n in fields)
        with ws.database.cursor() as con, storage_errors(f"measuring {agg}"):
            rows, value = run(con, f"SELECT count(*), {_ERRORS[agg]} FROM (SELECT {o} AS __o, "
                              f"{f} AS __f FROM ({records.sql})) WHERE __o IS NOT NULL AND "
                              "__f IS NOT NULL", records.params)[0]
        return _judged(value, int(rows), spec.min_rows)
    output, feedback = fields
    table = metrics_over_time(ws, application, [agg], output, feedback, spec.end - spec.start,
                              spec.start, spec.end, tags=spec.tags)
    if not table.height:
        return None, 0
    labelled = int(table["rows_with_feedback"][0]) if "rows_with_feedback" in table.columns \
        else int(table["rows"][0])
    return _judged(table[agg][0], labelled, spec.min_rows)


def _judged(value: Any, rows: int, min_rows: int) -> tuple[float | None, int]:
    if rows < max(min_rows, 1) or value is None:
        return None, rows
    number = float(value)
    return (None if math.isnan(number) else number), rows


def _drift(ws: Context, application: str, spec: Measure) -> tuple[float | None, int]:
    from .drift import drift

    reference = spec.reference
    if reference is None:  # the window before
        reference = (spec.start - (spec.end - spec.start), spec.start)
    try:
        table = drift(ws, application, reference, (spec.start, spec.end), list(spec.fields))
    except ValidationError as exc:
        if "no values" in str(exc):  # a side without rows: nothing to judge
            return None, 0
        raise
    rows = min(int(table["n_reference"][0] or 0), int(table["n_current"][0] or 0))
    return _judged(table[spec.aggregation][0], rows, spec.min_rows)


@dataclass(frozen=True)
class Alert:
    """One breach: fired when the value left the bounds, resolved when it came back."""

    id: str
    automation: str
    application: str
    aggregation: str
    fields: list[str]
    lower_bound: float | None
    upper_bound: float | None
    value: float | None
    window_start: datetime
    window_end: datetime
    fired_at: datetime
    resolved_at: datetime | None = None
    resolved_value: float | None = None
    status: str = "fired"
    alert_id: str | None = None  # the stored alert definition (`gantry_local.alerts`), if any

    def describe(self) -> str:
        bounds = f"[{_show(self.lower_bound)}, {_show(self.upper_bound)}]"
        if self.status == "resolved":
            return (f"resolved: {self.aggregation} of {', '.join(self.fields)} in "
                    f"{self.application!r} is back in {bounds} ({_show(self.resolved_value)})")
        return (f"alert {self.automation}: {self.aggregation} of {', '.join(self.fields)} in "
                f"{self.application!r} is {_show(self.value)}, outside {bounds}, over "
                f"{self.window_start:%Y-%m-%d %H:%M} to {self.window_end:%Y-%m-%d %H:%M}")


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def store_alert(ws: Context, alert: Alert, error: str | None) -> None:
    """Record a fired alert (with the error of its action, if it failed)."""
    with ws.database.cursor() as con, storage_errors("recording an alert"):
        run(con, "INSERT INTO _gl_alerts (id, automation, application, aggregation, fields, "
            "lower_bound, upper_bound, value, window_start, window_end, fired_at, resolved_at, "
            "resolved_value, action_error, alert_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?)",
            [alert.id, alert.automation, alert.application, alert.aggregation,
             json.dumps(alert.fields), alert.lower_bound, alert.upper_bound, alert.value,
             alert.window_start, alert.window_end, alert.fired_at, None, None, error,
             alert.alert_id])


def resolve_alert(ws: Context, alert: Alert, error: str | None) -> None:
    """Record that a fired alert resolved."""
    with ws.database.cursor() as con, storage_errors("resolving an alert"):
        run(con, "UPDATE _gl_alerts SET resolved_at = ?, resolved_value = ?, action_error = "
            "coalesce(?, action_error) WHERE id = ?",
            [alert.resolved_at, alert.resolved_value, error, alert.id])


_COLUMNS = ("id, automation, application, aggregation, fields, lower_bound, upper_bound, value, "
            "window_start, window_end, fired_at, resolved_at, resolved_value")


def open_alert(ws: Context, automation: str, alert_id: str | None = None) -> Alert | None:
    """The automation's (or stored alert's) alert still open, if any."""
    key, value = ("alert_id", alert_id) if alert_id is not None else ("automation", automation)
    with ws.database.cursor() as con, storage_errors("reading alerts"):
        rows = run(con, f"SELECT {_COLUMNS}, alert_id FROM _gl_alerts WHERE {key} = ? AND "
                   "resolved_at IS NULL ORDER BY fired_at DESC LIMIT 1", [value])
    return _alert(rows[0]) if rows else None


def alerts_since(ws: Context, alert_id: str, since: datetime | None,
                 until: datetime | None = None) -> list[Alert]:
    """The stored alert's alerts fired after `since` and up to `until` (either may be None),
    oldest first."""
    with ws.database.cursor() as con, storage_errors("reading alerts"):
        rows = run(con, f"SELECT {_COLUMNS}, alert_id FROM _gl_alerts WHERE alert_id = ? AND "
                   "(? IS NULL OR fired_at > ?) AND (? IS NULL OR fired_at <= ?) ORDER BY "
                   "fired_at, id", [alert_id, since, since, until, until])
    return [_alert(row) for row in rows]


def _alert(row: Sequence[Any]) -> Alert:
    values = list(row)
    values[4] = json.loads(values[4])
    for i in (8, 9, 10, 11):
        values[i] = None if values[i] is None else to_utc(values[i])
    alert_id = values.pop()
    values.append("resolved" if values[11] is not None else "fired")
    return Alert(*values, alert_id=alert_id)  # type: ignore[misc]


def list_alerts(ws: WorkspaceLike, application: str | None = None) -> pl.DataFrame:
    """Every alert (of one application if given), newest first, with any action error."""
    ws = check_workspace(ws)
    with ws.database.cursor() as con, storage_errors("listing alerts"):
        table = con.sql(f"SELECT {_COLUMNS}, action_error, CASE WHEN resolved_at IS NULL THEN "
                        "'fired' ELSE 'resolved' END AS status, alert_id FROM _gl_alerts "
                        "WHERE ? IS NULL OR application = ? ORDER BY fired_at DESC, id",
                        params=[application, application]).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    # spelled UTC, as query() and dataset frames are (DuckDB says Etc/UTC)
    return frame.with_columns([pl.col(n).dt.convert_time_zone("UTC") for n in zoned])


def failing_automations(ws: WorkspaceLike, application: str | None = None) -> pl.DataFrame:
    """Automations failing now (of one application if given): name, kind, first and last
    failure, failing ticks, error; each leaves when it next succeeds (the scheduler's record)."""
    ws = check_workspace(ws)
    with ws.database.cursor() as con, storage_errors("listing failing automations"):
        table = con.sql("SELECT automation, kind, application, first_failed_at, last_failed_at, "
                        "failures, error FROM _gl_automation_failures WHERE ? IS NULL OR "
                        "application = ? ORDER BY last_failed_at DESC, automation",
                        params=[application, application]).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return frame.with_columns([pl.col(n).dt.convert_time_zone("UTC") for n in zoned])
