"""Drift between two samples of an application's fields: time windows or dataset versions.

Numbers: the Kolmogorov-Smirnov statistic and p-value, the Wasserstein distance, and PSI
and Jensen-Shannon distance over the reference's deciles. Categories (and booleans):
chi-square and p-value, PSI, JS, L1 (Gantry's d1), L-infinity (dinf) and KL. A field is
flagged by effect size, never by a p-value (on millions of rows every p-value is tiny):
PSI > 0.2 and JS > 0.1 by default. Both must agree, since on a few hundred rows either
alone is noisy.

A side's fields are read in one query; categories are counted and numbers sorted in memory
(``drift_over_time(tests=False)`` counts every interval in DuckDB instead). PSI and JS use
every value, binned by the reference's deciles (per value when the reference has at most
32 distinct values). KS and Wasserstein (scipy) are exact up to
50,000 values a side; above that they use an evenly spaced sample of 50,000 sorted values
of each side (KS within about 0.005; its p-value uses the sample sizes).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import numpy as np
import polars as pl

from .._db import storage_errors
from .._sql import quote_ident
from ..errors import ValidationError
from ..records._naming import to_physical, unique_names
from ._source import (
    Records,
    check_dataset,
    check_workspace,
    choose_fields,
    field_kinds,
    finite,
    grid_for,
    shown,
    utc_time,
)

# scipy is imported in the functions that use it: importing it takes 1.5 s.

if TYPE_CHECKING:
    import duckdb

    from .._context import Context, WorkspaceLike
    from ..datasets import Dataset

__all__ = ["DRIFT_SCHEMA", "JS_THRESHOLD", "PSI_THRESHOLD", "Side", "check_thresholds",
           "dataset_drift", "drift", "drift_between", "drift_over_time"]

PSI_THRESHOLD = 0.2
JS_THRESHOLD = 0.1
EXACT_LIMIT = 50_000
DISCRETE_LIMIT = 32  # a number with at most this many distinct values is binned per value
_DECILES = [i / 10 for i in range(1, 10)]
_EPS = 1e-4  # floor for empty bins in PSI and KL

DRIFT_SCHEMA: dict[str, Any] = {
    "field": pl.String, "kind": pl.String, "n_reference": pl.Int64, "n_current": pl.Int64,
    "ks": pl.Float64, "ks_p": pl.Float64, "wasserstein": pl.Float64, "chi2": pl.Float64,
    "chi2_p": pl.Float64, "psi": pl.Float64, "js": pl.Float64, "l1": pl.Float64,
    "linf": pl.Float64, "kl": pl.Float64, "drift": pl.Boolean,
}


@dataclass(frozen=True)
class Side:
    """One sample: rows as SQL with parameters (a time window or a dataset version)."""

    sql: str
    params: list[Any]
    columns: list[str]
    label: str
    table: Any = None  # an Arrow table to register as ``_gl_side`` (dataset versions)
    physical: dict[str, str] = dataclass_field(default_factory=dict)  # field -> its column in `sql`


def window_side(ws: Context, application: str, spec: Any, what: str) -> Side:
    """A side from ``(start, end)`` datetimes or a `Dataset` / ``(dataset, version_id)``."""
    from ..datasets import Dataset

    if isinstance(spec, Dataset):
        return dataset_side(spec, None)
    if isinstance(spec, tuple) and len(spec) == 2:
        first, second = spec
        if isinstance(first, Dataset):
            if second is not None and not isinstance(second, str):
                raise ValidationError(f"the {what} version must be a version id, got {second!r}")
            return dataset_side(first, second)
        if isinstance(first, datetime) and isinstance(second, datetime):
            start, end = utc_time(first, f"{what} start"), utc_time(second, f"{what} end")
            if end <= start:
                raise ValidationError(f"the {what} window ends ({end}) before it starts ({start})")
            records = Records.of(ws, application, start, end)
            return Side(records.sql, records.params, records.columns,
                        f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}",
                        physical=records.physical)
    raise ValidationError(f"{what} must be a (start, end) pair of datetimes, a Dataset, or "
                          f"(dataset, version_id); got {spec!r}")


def dataset_side(dataset: Dataset, version_id: str | None) -> Side:
    full = dataset.resolve(version_id)
    table = dataset.read_arrow(full)
    physical = unique_names(table.column_names)  # DuckDB would merge names differing in case
    return Side("SELECT * FROM _gl_side", [], list(table.column_names),
                f"{dataset.name}@{full[:12]}", to_physical(table, physical), physical)


def drift(ws: WorkspaceLike, application: str, reference: Any, current: Any,
          fields: Sequence[str] | None = None, psi_threshold: float = PSI_THRESHOLD,
          js_threshold: float = JS_THRESHOLD) -> pl.DataFrame:
    """Per field: the statistics between `reference` and `current` and a drift flag.

    Raises:
        ValidationError: unknown fields, a malformed side, or a side with no rows.
    """
    ws = check_workspace(ws)
    check_thresholds(psi_threshold, js_threshold)
    kinds = choose_fields(field_kinds(ws, application), fields)
    ref = window_side(ws, application, reference, "reference")
    cur = window_side(ws, application, current, "current")
    with ws.database.cursor() as con:
        return drift_between(con, ref, cur, kinds, psi_threshold, js_threshold)


def check_thresholds(psi_threshold: Any, js_threshold: Any) -> None:
    """Drift thresholds are finite numbers >= 0 (JS at most 1)."""
    for name, value, high in (("psi_threshold", psi_threshold, math.inf),
                              ("js_threshold", js_threshold, 1.0)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not (finite(value) and 0 <= value <= high):
            raise ValidationError(f"{name} must be a finite number from 0"
                                  f"{' to 1' if high == 1 else ''}, got {shown(value)}")


def drift_between(con: duckdb.DuckDBPyConnection, ref: Side, cur: Side,
                  kinds: Mapping[str, str], psi_threshold: float = PSI_THRESHOLD,
                  js_threshold: float = JS_THRESHOLD) -> pl.DataFrame:
    """The drift table between two sides, over `kinds` (field -> number/category/bool)."""
    with storage_errors("computing drift"):
        ref_stats, cur_stats = _both_sides(con, ref, cur, kinds)
    for side, stats in ((ref, ref_stats), (cur, cur_stats)):
        if all(s["n"] == 0 for s in stats.values()):
            raise ValidationError(f"no values of {', '.join(kinds)} in {side.label}; pick a "
                                  "window or version with records")
    rows = [_compare(name, kind, ref_stats[name], cur_stats[name], psi_threshold, js_threshold)
            for name, kind in kinds.items()]
    return pl.DataFrame(rows, schema=DRIFT_SCHEMA)


def _both_sides(con: duckdb.DuckDBPyConnection, ref: Side, cur: Side, kinds: Mapping[str, str]
                ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Both sides' statistics, the current side on a second cursor in a thread: DuckDB's
    scan and numpy's sort release the GIL, so the two overlap."""
    from concurrent.futures import ThreadPoolExecutor

    second = con.cursor()
    try:
        with ThreadPoolExecutor(1) as pool:
            current = pool.submit(_side_stats, second, cur, kinds)
            reference = _side_stats(con, ref, kinds)
            return reference, current.result()
    finally:
        second.close()


def _side_stats(con: duckdb.DuckDBPyConnection, side: Side, kinds: Mapping[str, str]
                ) -> dict[str, dict[str, Any]]:
    """Per field: n, and counts per category, or the values (sorted) for numbers.

    Categories are counted in DuckDB (one grouped scan, nothing fetched); numbers are
    fetched as doubles without NULL and NaN and sorted in numpy.
    """
    stats: dict[str, dict[str, Any]] = {name: _absent() for name in kinds}
    present = [name for name in kinds if name in side.columns]
    numbers = [name for name in present if kinds[name] == "number"]
    others = [name for name in present if kinds[name] != "number"]
    if side.table is not None:
        con.register("_gl_side", side.table)
    try:
        if numbers:
            columns = ", ".join(
                f"CASE WHEN isnan(CAST({col} AS DOUBLE)) THEN NULL ELSE CAST({col} AS DOUBLE) "
                f"END AS {quote_ident(name)}"
                for name, col in ((n, quote_ident(side.physical.get(n, n))) for n in numbers))
            table = con.sql(f"SELECT {columns} FROM ({side.sql})",
                            params=side.params).to_arrow_table()
            for name in numbers:
                values = table.column(name).drop_null().to_numpy()
                values = np.sort(values)  # a sorted copy: Arrow's buffer is read-only
                stats[name] = {"n": int(values.size), "values": values}
        if others:
            stats.update(_counted(con, side, others))
    finally:
        if side.table is not None:
            con.unregister("_gl_side")
    return stats


def _absent() -> dict[str, Any]:
    return {"n": 0, "counts": {}, "values": np.empty(0)}


def _counted(con: duckdb.DuckDBPyConnection, side: Side, names: Sequence[str]
             ) -> dict[str, dict[str, Any]]:
    """Counts per value (as text) of each category or bool field, in one scan with a
    grouping set per field."""
    columns = ", ".join(f"CAST({quote_ident(side.physical.get(n, n))} AS VARCHAR) AS v{i}"
                        for i, n in enumerate(names))
    sets = ", ".join(f"(v{i})" for i in range(len(names)))
    picks = ", ".join(f"v{i}" for i in range(len(names)))
    grouping = ", ".join(f"GROUPING(v{i})" for i in range(len(names)))
    sql = (f"SELECT {picks}, [{grouping}], count(*) FROM (SELECT {columns} FROM ({side.sql})) "
           f"GROUP BY GROUPING SETS ({sets})")
    counts: dict[str, dict[str, int]] = {name: {} for name in names}
    for row in con.sql(sql, params=side.params).fetchall():
        flags, count = row[-2], int(row[-1])
        field = flags.index(0)  # the one field this grouping set groups by
        if row[field] is not None:
            counts[names[field]][row[field]] = count
    return {name: {"n": sum(c.values()), "counts": c} for name, c in counts.items()}


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _quiet(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `function` with scipy's and numpy's warnings silenced: a degenerate sample (one
    value, all ties) is reported by the numbers in the table, never by a stray warning."""
    @functools.wraps(function)
    def quiet(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return function(*args, **kwargs)
    return quiet


@_quiet
def _compare(name: str, kind: str, ref: dict[str, Any], cur: dict[str, Any],
             psi_threshold: float, js_threshold: float, tests: bool = True,
             edges: np.ndarray[Any, Any] | None = None) -> dict[str, Any]:
    """One field's row; `tests=False` leaves out KS, Wasserstein and chi-square (the flag
    does not use them) for speed. Numbers are binned by `edges` (default: `ref`'s
    deciles)."""
    from scipy import stats as sps
    from scipy.spatial.distance import jensenshannon
    row: dict[str, Any] = {"field": name, "kind": kind, "n_reference": ref["n"],
                           "n_current": cur["n"]}
    if ref["n"] == 0 or cur["n"] == 0:
        return {**row, "drift": None}
    if kind == "number":
        if tests:
            row.update(_numeric(ref["values"], cur["values"]))
        if "bins" in ref and "bins" in cur:  # both counted in the reference's deciles
            p, q = _proportions(ref["bins"]), _proportions(cur["bins"])
        else:
            edges = _edges(ref) if edges is None else edges
            p = _proportions(_binned(ref["values"], edges))
            q = _proportions(cur["bins"] if "bins" in cur else _binned(cur["values"], edges))
    else:
        labels = sorted(set(ref["counts"]) | set(cur["counts"]))
        r = np.array([ref["counts"].get(v, 0) for v in labels], dtype=float)
        c = np.array([cur["counts"].get(v, 0) for v in labels], dtype=float)
        p, q = _proportions(r), _proportions(c)
        if not tests:
            pass
        elif len(labels) > 1:
            chi2, chi2_p, _, _ = sps.chi2_contingency(np.vstack([r, c]))
            row.update(chi2=float(chi2), chi2_p=float(chi2_p))
        else:
            row.update(chi2=0.0, chi2_p=1.0)
        row.update(l1=float(np.abs(q - p).sum()), linf=float(np.abs(q - p).max()),
                   kl=float(np.sum(_floor(q) * np.log(_floor(q) / _floor(p)))))
    psi = float(np.sum((_floor(q) - _floor(p)) * np.log(_floor(q) / _floor(p))))
    js = float(jensenshannon(p, q, base=2))
    row.update(psi=psi, js=0.0 if math.isnan(js) else js)
    row["drift"] = bool(row["psi"] > psi_threshold and row["js"] > js_threshold)
    return row


def _numeric(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> dict[str, float | None]:
    """KS and Wasserstein: exact (scipy) up to EXACT_LIMIT values a side, else from a
    systematic sample of EXACT_LIMIT values of each sorted side (the KS p-value then uses
    the sample sizes, so it is not overconfident)."""
    from scipy import stats as sps
    if ref.size > EXACT_LIMIT:
        ref = ref[np.linspace(0, ref.size - 1, EXACT_LIMIT).astype(np.int64)]
    if cur.size > EXACT_LIMIT:
        cur = cur[np.linspace(0, cur.size - 1, EXACT_LIMIT).astype(np.int64)]
    ks = sps.ks_2samp(ref, cur, method="asymp" if max(ref.size, cur.size) > 10_000 else "auto")
    finite = bool(np.isfinite(ref[[0, -1]]).all() and np.isfinite(cur[[0, -1]]).all())
    return {"ks": float(ks.statistic), "ks_p": float(ks.pvalue),  # KS ranks ±inf like any value
            "wasserstein": _wasserstein(ref, cur) if finite else None}


def _wasserstein(ref: np.ndarray[Any, Any], cur: np.ndarray[Any, Any]) -> float:
    """scipy's Wasserstein distance of two sorted sides of finite values; when their span
    passes the largest float (±1.7e308), of the values divided by 4 (exact), times 4."""
    from scipy import stats as sps
    if math.isfinite(float(max(ref[-1], cur[-1])) - float(min(ref[0], cur[0]))):
        return float(sps.wasserstein_distance(ref, cur))
    return float(sps.wasserstein_distance(ref / 4, cur / 4)) * 4  # inf: a distance beyond it


def _binned(values: np.ndarray[Any, Any], edges: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Counts of sorted `values` in the bins ``[-inf]``, ``(-inf, e1], (e1, e2], ...,
    (ek, inf)`` and ``[+inf]``: infinities have bins of their own (see `_edges`)."""
    low = int(np.searchsorted(values, -np.inf, side="right"))
    high = int(np.searchsorted(values, np.inf, side="left"))
    cumulative = np.searchsorted(values[low:high], edges, side="right")
    finite = np.diff(np.concatenate([[0], cumulative, [high - low]]))
    return np.concatenate([[low], finite, [values.size - high]]).astype(float)


def _proportions(counts: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    total = float(counts.sum())
    return np.asarray(counts / total if total else counts, dtype=float)


def _floor(p: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(np.maximum(p, _EPS), dtype=float)


def drift_over_time(ws: WorkspaceLike, application: str, reference: Any,
                    interval: timedelta = timedelta(days=1), start_time: datetime | None = None,
                    end_time: datetime | None = None, fields: Sequence[str] | None = None,
                    psi_threshold: float = PSI_THRESHOLD, js_threshold: float = JS_THRESHOLD,
                    tests: bool = True) -> pl.DataFrame:
    """Every interval against `reference`, and against the interval before it.

    ``tests=False`` computes only the distances (PSI, JS, L1, L-infinity, KL) and the
    flag, skipping KS, Wasserstein and chi-square: much faster on big intervals.

    One row per (interval, field, ``against``: "reference" or "previous"); intervals
    without rows are left out; a partial last interval is marked. The whole range is read
    in one query and split by interval (with ``tests=False``, counted per interval in
    DuckDB instead); each interval is reduced once.
    """
    ws = check_workspace(ws)
    check_thresholds(psi_threshold, js_threshold)
    if not isinstance(tests, bool):
        raise ValidationError(f"tests must be True or False, got {tests!r}")
    kinds = choose_fields(field_kinds(ws, application), fields)
    ref = window_side(ws, application, reference, "reference")
    grid = grid_for(ws, application, interval, start_time, end_time)
    records = Records.of(ws, application, grid.origin, grid.end)
    with ws.database.cursor() as con, storage_errors("computing drift over time"):
        ref_stats = _side_stats(con, ref, kinds)
        if all(s["n"] == 0 for s in ref_stats.values()):
            raise ValidationError(f"no values of {', '.join(kinds)} in {ref.label}")
        if tests:
            parts = _fetched_intervals(con, records, grid, kinds)
        else:
            parts = _binned_intervals(con, records, grid, kinds, ref_stats)
    rows: list[dict[str, Any]] = []
    previous: dict[str, dict[str, Any]] | None = None
    for k in range(grid.first, grid.last + 1):
        current = parts.get(k)
        if current is None:
            previous = None
            continue
        start, end, partial = grid.bounds(k)
        for against, base in (("reference", ref_stats), ("previous", previous)):
            if base is None:
                continue
            for name, kind in kinds.items():  # binned by the reference's deciles throughout
                edges = _edges(ref_stats[name]) if kind == "number" else None
                row = _compare(name, kind, base[name], current[name], psi_threshold,
                               js_threshold, tests, edges)
                rows.append({"interval_start": start, "interval_end": end, "partial": partial,
                             "against": against, **row})
        previous = current
    if not rows:
        raise ValidationError("no interval had records to compare; check the time range")
    return pl.DataFrame(rows, schema={"interval_start": pl.Datetime("us", "UTC"),
                                      "interval_end": pl.Datetime("us", "UTC"),
                                      "partial": pl.Boolean, "against": pl.String,
                                      **DRIFT_SCHEMA})


def _fetched_intervals(con: duckdb.DuckDBPyConnection, records: Records, grid: Any,
                       kinds: Mapping[str, str]) -> dict[int, dict[str, dict[str, Any]]]:
    """Every interval's reduction, from the whole range read in one query."""
    bucket, bucket_params = grid.bucket_sql()
    present = [name for name in kinds if name in records.columns]
    select = ", ".join([f"{bucket} AS __b", *(f"{records.column(n)} AS {quote_ident(n)}"
                                                for n in present)])
    table = con.sql(f"SELECT {select} FROM ({records.sql})",
                    params=[*bucket_params, *records.params]).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return {key[0]: _frame_stats(part, kinds)
            for key, part in frame.partition_by("__b", as_dict=True, include_key=False).items()
            if part.height}


def _binned_intervals(con: duckdb.DuckDBPyConnection, records: Records, grid: Any,
                      kinds: Mapping[str, str], ref_stats: dict[str, dict[str, Any]]
                      ) -> dict[int, dict[str, dict[str, Any]]]:
    """Every interval's counts per category, or per reference-decile bin for numbers,
    counted in DuckDB by one query grouped by interval (what the distances need, nothing
    fetched): a `histogram` aggregate per field, binary-searching a number's bin edges."""
    bucket, bucket_params = grid.bucket_sql()
    present = [name for name in kinds if name in records.columns]
    if not present:
        return {}
    aggregates, params = [], []
    for name in present:
        col = records.column(name)
        if kinds[name] == "number":
            value = f"CAST({col} AS DOUBLE)"
            aggregates.append(f"histogram(CASE WHEN isnan({value}) THEN NULL ELSE {value} END, "
                              "?::DOUBLE[])")  # NaN is left out (histogram puts it first)
            params.append(_boundaries(_edges(ref_stats[name])))
        else:
            aggregates.append(f"histogram(CAST({col} AS VARCHAR))")
    sql = f"SELECT {bucket} AS __b, {', '.join(aggregates)} FROM ({records.sql}) GROUP BY __b"
    out: dict[int, dict[str, dict[str, Any]]] = {}
    for row in con.sql(sql, params=[*bucket_params, *params, *records.params]).fetchall():
        for name, counts in zip(present, row[1:], strict=True):
            stats = _bin_stats(counts, _edges(ref_stats[name])) if kinds[name] == "number" \
                else _category_stats(counts)
            if stats is not None:  # an interval whose values are all NULL is left out
                out.setdefault(row[0], {n: _absent() for n in kinds})[name] = stats
    return out


_LARGEST = float(np.finfo(np.float64).max)


def _boundaries(edges: np.ndarray[Any, Any]) -> list[float]:
    """`histogram`'s boundaries for a number's bins as `_binned` counts them: -inf alone,
    each edge's bin (values up to it), the finite values beyond the last edge; +inf falls
    past the last boundary, in a bin of its own."""
    bounds = [-math.inf, *map(float, edges)]
    return [*bounds, _LARGEST] if bounds[-1] < _LARGEST else bounds


def _bin_stats(counts: Mapping[float, int] | None, edges: np.ndarray[Any, Any]
               ) -> dict[str, Any] | None:
    """A number's bin counts from its `histogram` (keyed by boundary), or None when empty."""
    if not counts:
        return None
    position = {bound: i for i, bound in enumerate(_boundaries(edges))}
    histogram = np.zeros(len(edges) + 3)
    for bound, count in counts.items():
        histogram[position.get(bound, len(edges) + 2)] += count  # +inf: the last bin
    total = int(histogram.sum())
    return {"n": total, "bins": histogram} if total else None


def _category_stats(counts: Mapping[str, int] | None) -> dict[str, Any] | None:
    """A category field's counts per value from its `histogram`, or None when empty."""
    kept = {value: int(count) for value, count in (counts or {}).items() if count}
    return {"n": sum(kept.values()), "counts": kept} if kept else None


def _edges(stats: dict[str, Any]) -> np.ndarray[Any, Any]:
    """The bin edges of a numeric field: the deciles (distinct) of the reference's finite
    values, or each value when it has at most `DISCRETE_LIMIT` distinct ones (a pixel
    intensity, a star rating: deciles would merge values and hide a shift between them);
    kept in `stats` once computed. -inf and +inf are binned apart from them, one
    bin each, so a change in the share of infinities is drift like any other."""
    if "edges" not in stats:
        values = stats["values"]
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            stats["edges"] = np.empty(0)
        elif np.count_nonzero(np.diff(finite)) < DISCRETE_LIMIT:  # few values: one bin each
            stats["edges"] = np.unique(finite).astype(float)
        else:
            stats["edges"] = np.asarray(np.unique(_sorted_quantiles(finite, _DECILES)),
                                        dtype=float)
    edges: np.ndarray[Any, Any] = stats["edges"]
    return edges


def _sorted_quantiles(values: np.ndarray[Any, Any], probabilities: Sequence[float]
                      ) -> np.ndarray[Any, Any]:
    """Linear-interpolated quantiles of already sorted values (np.quantile's default,
    without its partitioning copy)."""
    positions = np.asarray(probabilities) * (values.size - 1)
    low = np.floor(positions).astype(np.int64)
    high = np.minimum(low + 1, values.size - 1)
    below, above, fraction = values[low], values[high], positions - low
    with np.errstate(over="ignore", invalid="ignore"):
        out = np.asarray(below + fraction * (above - below), dtype=float)
        wide = np.isfinite(below) & np.isfinite(above) & ~np.isfinite(above - below)
        if wide.any():  # a gap past the largest float: interpolate the halves (exact), double
            out[wide] = ((below / 2 + fraction * (above / 2 - below / 2)) * 2)[wide]
    return out


def _frame_stats(frame: pl.DataFrame, kinds: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per field: n, and counts per category (as text), or sorted values for numbers."""
    out: dict[str, dict[str, Any]] = {}
    for name, kind in kinds.items():
        if name not in frame.columns:
            out[name] = {"n": 0, "counts": {}, "values": np.empty(0)}
        elif kind == "number":
            values = frame[name].drop_nulls().cast(pl.Float64).fill_nan(None).drop_nulls()
            out[name] = {"n": values.len(), "values": np.sort(values.to_numpy())}
        else:
            counts = frame[name].drop_nulls().cast(pl.String).value_counts()
            mapping = dict(zip(counts[name].to_list(), counts["count"].to_list(), strict=True))
            out[name] = {"n": int(sum(mapping.values())), "counts": mapping}
    return out


def dataset_drift(dataset: Dataset, a: str | None, b: str | None = None,
                  fields: Sequence[str] | None = None, psi_threshold: float = PSI_THRESHOLD,
                  js_threshold: float = JS_THRESHOLD) -> pl.DataFrame:
    """Drift between two versions of a dataset (`b` defaults to the latest)."""
    check_dataset(dataset)
    check_thresholds(psi_threshold, js_threshold)
    for what, version in (("a", a), ("b", b)):
        if version is not None and not isinstance(version, str):
            raise ValidationError(f"version {what} must be a version id, got {version!r}")
    ref, cur = dataset_side(dataset, a), dataset_side(dataset, b)
    kinds = _table_kinds(ref.table)
    if not any(name.split(".", 1)[0] in ("inputs", "outputs", "feedback") for name in kinds):
        monitored = kinds
    else:
        monitored = {n: k for n, k in kinds.items()
                     if n.split(".", 1)[0] in ("inputs", "outputs", "feedback")}
    chosen = choose_fields(kinds, fields) if fields is not None else monitored
    import duckdb

    con = duckdb.connect()  # a scratch database: both versions are Arrow tables
    try:
        return drift_between(con, ref, cur, chosen, psi_threshold, js_threshold)
    finally:
        con.close()


def _table_kinds(table: Any) -> dict[str, str]:
    import pyarrow as pa

    kinds = {}
    for field in table.schema:
        if field.name.startswith("__"):
            continue
        if pa.types.is_boolean(field.type):
            kinds[field.name] = "bool"
        elif pa.types.is_integer(field.type) or pa.types.is_floating(field.type):
            kinds[field.name] = "number"
        elif pa.types.is_string(field.type) or pa.types.is_large_string(field.type) or \
                pa.types.is_string_view(field.type):
            kinds[field.name] = "category"
    return kinds
