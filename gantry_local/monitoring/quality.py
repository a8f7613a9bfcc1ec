"""Gantry's metric family per interval: an output field against a feedback field, in DuckDB.

Feedback is joined by key at query time, so late labels count as soon as they arrive.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from .._db import storage_errors
from .._labels import BINARY, LABEL_METRICS, MULTICLASS, LabelRule, label_rule
from ..errors import ValidationError
from ._scaled import exponent, factor, unscale
from ._source import Records, check_workspace, field_kinds, finite, grid_for, shown

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["QUALITY_METRICS", "metrics_over_time"]

PAIRED = ("accuracy", "precision", "recall", "f1", "roc_auc", "mse", "mae", "r2")
SINGLE = ("percent_null", "percent_true", "percent_false")
QUALITY_METRICS = PAIRED + SINGLE
_NUMERIC = ("mse", "mae", "r2", "roc_auc")
_TRUE_FALSE = ("percent_true", "percent_false")
_LABELLED = ("accuracy", "precision", "recall", "f1", "roc_auc", "percent_true", "percent_false")
_MACRO = ("precision", "recall", "f1")
_LABELLED_ROW = "__o IS NOT NULL AND __f IS NOT NULL"
_SCALES = {"mse": 2, "mae": 1, "r2": 0}  # the power of the values' scale in each metric
_SCORE_FIX = ("pass threshold= to count a score >= threshold as the positive class, or log the "
              "predicted label")


def metrics_over_time(ws: WorkspaceLike, application: str, metrics: Sequence[str],
                      output: str | None = None, feedback: str | None = None,
                      interval: timedelta = timedelta(days=1),
                      start_time: datetime | None = None, end_time: datetime | None = None,
                      version: int | str | None = None, tags: Mapping[str, str] | None = None,
                      threshold: float | None = None, positive_label: Any = None
                      ) -> pl.DataFrame:
    """One row per interval: rows, rows with feedback, each metric, and the label rule.

    `output` and `feedback` name the compared fields (default: the only ``outputs.*`` and
    ``feedback.*`` fields). Label metrics follow the rule `evaluate` follows (see
    `gantry_local._labels`), decided from the values over the whole range and stated in the
    ``labels`` column: binary labels (0/1, booleans, "0"/"1", "false"/"true", or two classes
    and a stated `positive_label`) give the positive class's precision, recall and f1; other
    labels (10 digit classes) give macro averages. A score output (0.73) is turned into a
    label only by a stated `threshold` (positive when >= it; binary labels only); without
    one it is a ValidationError. roc_auc ranks the output score against the positive class.
    percent_null/true/false describe the output alone. NaN counts as missing. Metrics over
    rows with feedback; intervals without any get nulls.

    Raises:
        ValidationError: an unknown metric, a missing or ill-typed field, a score without a
            threshold, labels that do not fit the metric.
    """
    ws = check_workspace(ws)
    if isinstance(metrics, str) or not metrics:
        raise ValidationError(f"metrics must be a non-empty list, e.g. ['accuracy']; known: "
                              f"{', '.join(QUALITY_METRICS)}")
    if threshold is not None and (isinstance(threshold, bool) or
                                  not isinstance(threshold, (int, float)) or not finite(threshold)):
        raise ValidationError(f"threshold must be a finite number (the score from which an "
                              f"output is positive), got {shown(threshold)}")
    unknown = [m for m in metrics if not isinstance(m, str) or m not in QUALITY_METRICS]
    if unknown:
        raise ValidationError(f"unknown metric(s) {unknown}; known: {', '.join(QUALITY_METRICS)}")
    kinds = field_kinds(ws, application)
    output = _pick(kinds, output, "outputs.", "output")
    needs_feedback = any(m in PAIRED for m in metrics)
    fb = _pick(kinds, feedback, "feedback.", "feedback") if needs_feedback else None
    for metric in metrics:
        for name in ([output] + ([fb] if fb and metric in PAIRED else [])):
            if metric in _NUMERIC and kinds[name] == "category":
                raise ValidationError(f"{metric} needs numbers; {name!r} is a category")
            if metric in _TRUE_FALSE and kinds[name] == "category":
                raise ValidationError(f"{metric} needs booleans, 0/1 or scores; {name!r} is a "
                                      "category")
    grid = grid_for(ws, application, interval, start_time, end_time)
    records = Records.of(ws, application, grid.origin, grid.end, version, tags)
    bucket, bucket_params = grid.bucket_sql()
    o = _value(output, kinds[output], records)
    f = _value(fb, kinds[fb], records) if fb else "NULL"
    as_number = fb is None or (kinds[output] != "category" and kinds[fb] != "category")
    same = "DOUBLE" if as_number else "VARCHAR"  # booleans and numbers compare as numbers
    rule, scored = None, False
    if any(m in _LABELLED for m in metrics):
        rule, scored = _label_rule(ws, records, o, f, kinds[output], threshold, positive_label,
                                   application, [m for m in metrics if m in _LABELLED])
    positives, positive_params = _positives(o, f, same, kinds[output], rule, scored, threshold)
    macro = rule is not None and rule.kind == MULTICLASS
    parts = _aggregates([m for m in metrics if not (macro and m in _MACRO)], same, scored)
    scaled = [m for m in metrics if m in _SCALES]
    if scaled:  # each interval's largest value, last: whether to compute them again, scaled
        parts.append("max(greatest(abs(CAST(__o AS DOUBLE)), abs(CAST(__f AS DOUBLE)))) "
                     f"FILTER (WHERE {_LABELLED_ROW})")
    source = (f"WITH base AS ({records.sql}), b AS (SELECT {bucket} AS __b, {o} AS __o, "
              f"{f} AS __f, {positives} FROM base)")
    sql = (f"{source} SELECT __b, count(*), count(*) FILTER (WHERE __o IS NOT NULL AND __f IS NOT "
           f"NULL){''.join(', ' + p for p in parts)} FROM b GROUP BY __b")
    params = [*records.params, *bucket_params, *positive_params]
    with ws.database.cursor() as con, storage_errors(f"computing metrics of {application!r}"):
        rows = {r[0]: r for r in con.sql(sql, params=params).fetchall()}
        again = _rescaled(con, source, params, rows, scaled) if scaled else {}
        auc = _roc_auc(con, source, params) if "roc_auc" in metrics else {}
        averages = _macro(con, source, params, same) if macro and any(
            m in _MACRO for m in metrics) else {}
    out = []
    for k in range(grid.first, grid.last + 1):
        start, end, partial = grid.bounds(k)
        row = rows.get(k)
        record: dict[str, Any] = {"interval_start": start, "interval_end": end,
                                  "partial": partial, "rows": int(row[1]) if row else 0,
                                  "rows_with_feedback": int(row[2]) if row else 0}
        values = iter(row[3:]) if row else iter(())
        for metric in metrics:
            if metric == "roc_auc":
                record[metric] = auc.get(k)
            elif macro and metric in _MACRO:
                record[metric] = averages.get(k, {}).get(metric)
            else:
                record[metric] = next(values, None)
                if metric in again.get(k, {}):
                    record[metric] = again[k][metric]
        if rule is not None:
            record["labels"] = _describe(rule, scored, threshold)
        out.append(record)
    schema: dict[str, Any] = {"interval_start": pl.Datetime("us", "UTC"),
                              "interval_end": pl.Datetime("us", "UTC"), "partial": pl.Boolean,
                              "rows": pl.Int64, "rows_with_feedback": pl.Int64,
                              **{m: pl.Float64 for m in metrics},
                              **({"labels": pl.String} if rule is not None else {})}
    return pl.DataFrame(out, schema=schema)


def _pick(kinds: Mapping[str, str], name: str | None, prefix: str, what: str) -> str:
    if name is not None and not isinstance(name, str):
        raise ValidationError(f"{what} must be a field name such as {prefix}value, got {name!r}")
    if name is not None:
        if name not in kinds:
            raise ValidationError(f"unknown {what} field {name!r}; known fields: "
                                  f"{', '.join(kinds)}")
        return name
    found = [k for k in kinds if k.startswith(prefix)]
    if len(found) != 1:
        raise ValidationError(f"name the {what} field with {what}= (candidates: "
                              f"{', '.join(found) or 'none'})")
    return found[0]


def _value(name: str | None, kind: str | None, records: Records) -> str:
    """A field's value in SQL: numbers as DOUBLE with NaN as NULL (NaN counts as missing)."""
    if name is None or name not in records.columns:
        return "NULL"
    col = records.column(name)
    if kind == "number":
        return f"CASE WHEN isnan(CAST({col} AS DOUBLE)) THEN NULL ELSE CAST({col} AS DOUBLE) END"
    return col


_DISTINCT = 1_000  # distinct values read to decide the label rule


def _label_rule(ws: Context, records: Records, o: str, f: str, output_kind: str,
                threshold: float | None, positive_label: Any, application: str,
                metrics: list[str]) -> tuple[LabelRule, bool]:
    """The label rule over the whole range, and whether the output is a thresholded score."""
    paired = any(m in PAIRED for m in metrics)
    where = "__o IS NOT NULL" + (" AND __f IS NOT NULL" if paired else "")
    sql = (f"WITH v AS (SELECT {o} AS __o, {f} AS __f FROM ({records.sql})) "
           f"SELECT DISTINCT {{c}} FROM v WHERE {where} LIMIT {_DISTINCT + 1}")
    with ws.database.cursor() as con, storage_errors(f"reading the labels of {application!r}"):
        outs = [r[0] for r in con.sql(sql.format(c="__o"), params=records.params).fetchall()]
        refs = [r[0] for r in con.sql(sql.format(c="__f"), params=records.params).fetchall()
                ] if paired else []
    scored = threshold is not None and output_kind == "number"
    if "roc_auc" in metrics or scored:  # the output is a score: the classes are the labels'
        rule = label_rule(refs, [], positive_label) if paired else label_rule([], [1, 0])
        if rule.kind == MULTICLASS:
            raise ValidationError(f"{' and '.join(metrics)} need two classes (a score is "
                                  f"compared with a positive class); the labels have "
                                  f"{len(rule.classes)}: leave threshold= out and log the "
                                  "predicted label for macro averages")
        if not scored and any(m in metrics for m in LABEL_METRICS):
            label_rule(refs, outs, positive_label, _SCORE_FIX)
        return rule, scored
    return label_rule(refs, outs, positive_label, _SCORE_FIX), False


def _describe(rule: LabelRule, scored: bool, threshold: float | None) -> str:
    text = rule.describe()
    return f"{text}; an output score >= {threshold:g} is the positive class" if scored else text


def _positives(o: str, f: str, same: str, output_kind: str, rule: LabelRule | None,
               scored: bool, threshold: float | None) -> tuple[str, list[Any]]:
    """Whether the output (``__po``) and the label (``__pf``) are the positive class, as SQL."""
    if rule is None or rule.kind != BINARY:
        return "NULL AS __po, NULL AS __pf", []
    positive = rule.positive_label
    if scored:
        po, params = f"({o}) >= ?", [threshold]
    elif output_kind == "bool":
        po, params = f"CAST({o} AS BOOLEAN) = CAST(? AS BOOLEAN)", [positive]
    else:
        po, params = f"CAST({o} AS {same}) = CAST(? AS {same})", [positive]
    pf = f"CAST({f} AS {same}) = CAST(? AS {same})"
    return f"{po} AS __po, {pf} AS __pf", [*params, positive]


def _aggregates(metrics: Sequence[str], same: str, scored: bool) -> list[str]:
    labelled = _LABELLED_ROW
    tp = f"count(*) FILTER (WHERE {labelled} AND __po AND __pf)"
    fp = f"count(*) FILTER (WHERE {labelled} AND __po AND NOT __pf)"
    fn = f"count(*) FILTER (WHERE {labelled} AND NOT __po AND __pf)"
    precision = f"CAST({tp} AS DOUBLE) / nullif({tp} + {fp}, 0)"
    recall = f"CAST({tp} AS DOUBLE) / nullif({tp} + {fn}, 0)"
    equal = "__po = __pf" if scored else f"CAST(__o AS {same}) = CAST(__f AS {same})"
    sql = {
        "accuracy": f"avg(CASE WHEN {labelled} THEN CAST({equal} AS DOUBLE) END)",
        "precision": precision,
        "recall": recall,
        "f1": f"2.0 * {tp} / nullif(2 * {tp} + {fp} + {fn}, 0)",
        **{m: _numeric(m, "CAST(__o AS DOUBLE)", "CAST(__f AS DOUBLE)") for m in _SCALES},
        "percent_null": "avg(CAST(__o IS NULL AS DOUBLE))",
        "percent_true": "avg(CAST(__po AS DOUBLE))",
        "percent_false": "avg(CAST(NOT __po AS DOUBLE))",
    }
    return [sql[m] for m in metrics if m != "roc_auc"]


def _numeric(metric: str, o: str, f: str) -> str:
    """mse, mae or r2 of the values `o` against `f` (SQL expressions), as SQL."""
    labelled = _LABELLED_ROW
    return {
        "mse": f"avg(CASE WHEN {labelled} THEN pow({o} - {f}, 2) END)",
        "mae": f"avg(CASE WHEN {labelled} THEN abs({o} - {f}) END)",
        # var_pop is computed from centred sums in DuckDB (no cancellation far from zero)
        "r2": f"1 - sum(CASE WHEN {labelled} THEN pow({f} - {o}, 2) END) / nullif(var_pop(CASE "
              f"WHEN {labelled} THEN {f} END) * count(*) FILTER (WHERE {labelled}), 0)",
    }[metric]


def _rescaled(con: Any, source: str, params: list[Any], rows: Mapping[int, tuple[Any, ...]],
              metrics: Sequence[str]) -> dict[int, dict[str, float | None]]:
    """mse, mae and r2 again for the intervals whose largest value (the rows' last column)
    is too large or too small for its squares, on the values times a power of two (see
    `_scaled`): per interval, the metrics' true values."""
    scales = {b: k for b, row in rows.items() if (k := exponent(row[-1])) is not None}
    if not scales:
        return {}
    o, f = "(CAST(__o AS DOUBLE) * s.__s)", "(CAST(__f AS DOUBLE) * s.__s)"
    sql = (f"{source}, s AS (SELECT unnest(?::BIGINT[]) AS __b, unnest(?::DOUBLE[]) AS __s) "
           f"SELECT __b, {', '.join(_numeric(m, o, f) for m in metrics)} FROM b JOIN s "
           "USING (__b) GROUP BY __b")
    buckets = sorted(scales)
    found = con.sql(sql, params=[*params, buckets, [factor(scales[b]) for b in buckets]])
    return {b: {m: unscale(v, scales[b], _SCALES[m]) for m, v in zip(metrics, values, strict=True)}
            for b, *values in found.fetchall()}


def _macro(con: Any, source: str, params: list[Any], same: str
           ) -> dict[int, dict[str, float | None]]:
    """Macro precision, recall and f1 per interval over the classes seen in it (as sklearn)."""
    sql = (f"{source}, l AS (SELECT __b, CAST(__o AS {same}) AS o, CAST(__f AS {same}) AS f "
           "FROM b WHERE __o IS NOT NULL AND __f IS NOT NULL), "
           "pred AS (SELECT __b, o AS c, count(*) AS n, count(*) FILTER (WHERE o = f) AS tp "
           "FROM l GROUP BY ALL), "
           "act AS (SELECT __b, f AS c, count(*) AS n FROM l GROUP BY ALL), "
           "k AS (SELECT coalesce(pred.__b, act.__b) AS __b, coalesce(pred.tp, 0) AS tp, "
           "coalesce(pred.n, 0) AS np, coalesce(act.n, 0) AS na FROM pred FULL JOIN act "
           "ON pred.__b = act.__b AND pred.c = act.c) "
           "SELECT __b, avg(CASE WHEN np > 0 THEN tp / np ELSE 0 END), "
           "avg(CASE WHEN na > 0 THEN tp / na ELSE 0 END), "
           "avg(CASE WHEN np + na > 0 THEN 2.0 * tp / (np + na) ELSE 0 END) FROM k GROUP BY __b")
    return {b: {"precision": p, "recall": r, "f1": f1}
            for b, p, r, f1 in con.sql(sql, params=params).fetchall()}


def _roc_auc(con: Any, source: str, params: list[Any]) -> dict[int, float | None]:
    """AUC per interval from average ranks (ties count half): the Mann-Whitney statistic."""
    sql = (f"{source}, s AS (SELECT __b, CAST(__o AS DOUBLE) AS s, __pf AS y FROM b "
           "WHERE __o IS NOT NULL AND __f IS NOT NULL), "
           "r AS (SELECT __b, y, rank() OVER (PARTITION BY __b ORDER BY s) + "
           "(count(*) OVER (PARTITION BY __b, s) - 1) / 2.0 AS rk FROM s) "
           "SELECT __b, (sum(rk) FILTER (WHERE y) - count(*) FILTER (WHERE y) * "
           "(count(*) FILTER (WHERE y) + 1) / 2.0) / nullif(count(*) FILTER (WHERE y) * "
           "count(*) FILTER (WHERE NOT y), 0) FROM r GROUP BY __b")
    return {b: (None if v is None else float(v)) for b, v in con.sql(sql, params=params).fetchall()}
