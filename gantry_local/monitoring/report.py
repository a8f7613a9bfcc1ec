"""One self-contained HTML report of an application: every chart an inline SVG.

Charts are drawn by matplotlib (well kept, renders without a display or a network) as SVG
embedded in the page, so the file opens offline and reads with JavaScript off: there is
no script in it at all.
"""

from __future__ import annotations

import contextlib
import html
import io
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..errors import GantryLocalError, NotFoundError, StorageError, ValidationError
from ._source import check_workspace, field_kinds, grid_for
from .alerts import failing_automations, list_alerts
from .drift import drift_over_time
from .quality import metrics_over_time
from .summaries import summarize

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["SECTIONS", "write_report"]

SECTIONS = ("traffic", "distributions", "nulls", "drift", "metrics", "alerts", "datasets",
            "evaluations")
_BLUE, _ORANGE, _GREY = "#1f77b4", "#ff7f0e", "#7f7f7f"
# Set for the report's own figures only (a user's rcParams are left alone): the same data
# gives the same file, and text stays text.
_RC: dict[Any, Any] = {"svg.hashsalt": "gantry-local", "svg.fonttype": "none"}


def write_report(ws: WorkspaceLike, application: str, path: str | Path = "report.html",
                 interval: timedelta = timedelta(days=1), start_time: datetime | None = None,
                 end_time: datetime | None = None) -> Path:
    """Write the report of `application` to `path` (an .html file) and return the path.

    Raises:
        ValidationError: the application has no records, or `path` is a folder.
    """
    ws = check_workspace(ws)
    target = _target(path)
    grid = grid_for(ws, application, interval, start_time, end_time)
    with ThreadPoolExecutor(1) as pool, rc_context(_RC):
        # The drift and metrics queries run in DuckDB (which releases the GIL) beside the
        # summary's query, and while the summary's charts are drawn.
        drift_table = pool.submit(_drift_table, ws, application, interval, grid)
        metrics_table = pool.submit(_metrics_table, ws, application, interval, grid)
        summary = summarize(ws, application, interval, grid.origin, grid.end)
        datasets: list[dict[str, Any]] = []
        storage_error = None
        try:  # read once: both the datasets and the evaluations sections need them
            datasets = [d for d in ws.datasets.list_datasets() if d["app_name"] == application]
        except GantryLocalError as exc:  # storage unreachable: the sections say so
            storage_error = str(exc)
        parts = [
            _traffic(summary),
            _distributions(summary),
            _nulls(summary),
            _drift(drift_table.result(), interval, grid),
            _metrics(metrics_table.result()),
            _alerts(ws, application),
            _datasets(ws, datasets, storage_error),
            _evaluations(ws, [d["name"] for d in datasets]),
        ]
    title = f"gantry-local report: {application}"
    records = int(summary.group_by("interval_start").agg(pl.col("count").first())["count"].sum())
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(title)}</h1><p class='meta'>{records:,} records from "
            f"{grid.origin:%Y-%m-%d %H:%M} to {grid.end:%Y-%m-%d %H:%M} UTC in intervals of "
            f"{interval}; generated {ws.clock.now():%Y-%m-%d %H:%M} UTC.</p>"
            f"<nav>{' · '.join(f'<a href=#{s}>{s}</a>' for s in SECTIONS)}</nav>"
            f"{''.join(parts)}</body></html>")
    tmp = target.with_name(target.name + ".tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(target)  # readers never see half a report
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write the report to {str(target)!r}: {exc.strerror or exc}; "
                           "give a writable file path such as report.html") from exc
    return target


def _target(path: Any) -> Path:
    """The report's file path, checked before any work."""
    if not isinstance(path, (str, PathLike)) or not str(path):
        raise ValidationError(f"path must be a file path such as 'report.html', got {path!r}")
    target = Path(path)
    if "\x00" in str(target):
        raise ValidationError(f"path {str(target)!r} holds a NUL character")
    if target.is_dir():
        raise ValidationError(f"{str(target)!r} is a folder; give a file such as report.html")
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValidationError(f"cannot write the report to {str(target)!r}: "
                                      f"{str(parent)!r} is a file, not a folder")
            break
    return target


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}"
        "section{margin-bottom:2.5em}h2{border-bottom:1px solid #ccc}.meta,.note{color:#555}"
        "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ddd;"
        "padding:2px 6px;text-align:right}th{background:#f4f4f4}pre{background:#f7f7f7;"
        "padding:1em;overflow-x:auto}svg{max-width:100%;height:auto}")


def _section(name: str, title: str, body: str) -> str:
    return f"<section id='{name}'><h2>{html.escape(title)}</h2>{body}</section>"


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(width: float = 10, height: float = 3) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=0.07, right=0.93, bottom=0.14, top=0.86)
    axes = figure.add_subplot()
    axes.grid(alpha=0.3)
    return figure, axes


def _traffic(summary: pl.DataFrame) -> str:
    per = summary.group_by("interval_start").agg(pl.col("count").first()).sort("interval_start")
    figure, axes = _figure()
    axes.bar(per["interval_start"].to_list(), per["count"].to_list(), color=_BLUE,
             width=_bar_width(per["interval_start"]))
    axes.set_ylabel("records")
    return _section("traffic", "Traffic per interval", _svg(figure))


def _bar_width(starts: pl.Series) -> float:
    values = starts.to_list()
    if len(values) < 2:
        return 0.8
    return float(0.8 * (values[1] - values[0]).total_seconds() / 86_400)


def _distributions(summary: pl.DataFrame) -> str:
    charts = []
    for (name,), rows in summary.sort("interval_start").group_by("field", maintain_order=True):
        kind = rows["kind"][0]
        figure, axes = _figure(10, 2.4)
        x = rows["interval_start"].to_list()
        if kind == "number":
            axes.fill_between(x, _nan(rows["p5"]), _nan(rows["p95"]), alpha=0.2, color=_BLUE,
                              label="p5 to p95")
            axes.fill_between(x, _nan(rows["p25"]), _nan(rows["p75"]), alpha=0.4, color=_BLUE,
                              label="p25 to p75")
            axes.plot(x, _nan(rows["p50"]), color=_BLUE, label="median")
        elif kind == "bool":
            axes.plot(x, _nan(rows["true_rate"]), color=_BLUE, label="true rate")
            axes.set_ylim(0, 1)
        else:
            _stacked_shares(axes, x, rows["top"].to_list())
        axes.set_title(f"{name} ({kind})", loc="left", fontsize=10)
        axes.legend(loc="upper left", fontsize=7, ncols=6)
        charts.append(_svg(figure))
    return _section("distributions", "Each field's distribution over time "
                    "(quantile bands for numbers, shares for categories)", "".join(charts))


def _nan(series: pl.Series) -> list[float]:
    return [math.nan if v is None else v for v in series.to_list()]


def _stacked_shares(axes: Any, x: list[datetime], tops: list[Any]) -> None:
    values = sorted({t["value"] for top in tops if top for t in top})
    shares = {v: [next((t["share"] for t in (top or []) if t["value"] == v), 0.0)
                  for top in tops] for v in values}
    other = [max(0.0, 1 - sum(shares[v][i] for v in values)) if tops[i] else 0.0
             for i in range(len(x))]
    axes.stackplot(x, *shares.values(), other, labels=[*values, "other"], alpha=0.8)
    axes.set_ylim(0, 1)


def _nulls(summary: pl.DataFrame) -> str:
    with_nulls = summary.filter(pl.col("null_rate") > 0)["field"].unique().sort().to_list()
    if not with_nulls:
        return _section("nulls", "Null rates", "<p class='note'>No field has nulls.</p>")
    figure, axes = _figure()
    for name in with_nulls:
        rows = summary.filter(pl.col("field") == name).sort("interval_start")
        axes.plot(rows["interval_start"].to_list(), _nan(rows["null_rate"]), label=name)
    axes.set_ylabel("null rate")
    axes.legend(fontsize=7)
    return _section("nulls", "Null rates", _svg(figure))


def _drift_table(ws: Context, application: str, interval: timedelta, grid: Any
                 ) -> pl.DataFrame | str:
    """Each interval's drift against the first quarter of them, or why there is none."""
    intervals = grid.last - grid.first + 1
    reference_end = grid.origin + max(1, intervals // 4) * interval
    try:
        table = drift_over_time(ws, application, (grid.origin, reference_end), interval,
                                grid.origin, grid.end, tests=False)
    except ValidationError as exc:
        return str(exc)
    return table.filter(pl.col("against") == "reference")


def _drift(table: pl.DataFrame | str, interval: timedelta, grid: Any) -> str:
    if isinstance(table, str):
        return _section("drift", "Drift", f"<p class='note'>{html.escape(table)}</p>")
    intervals = grid.last - grid.first + 1
    fields = table["field"].unique().sort().to_list()
    starts = table["interval_start"].unique().sort().to_list()
    matrix = [[math.nan] * len(starts) for _ in fields]
    flags = []
    for row in table.iter_rows(named=True):
        i, j = fields.index(row["field"]), starts.index(row["interval_start"])
        matrix[i][j] = row["psi"] if row["psi"] is not None else math.nan
        if row["drift"]:
            flags.append((j, i))
    highest = max((v for line in matrix for v in line if math.isfinite(v)), default=0.0)
    figure = Figure(figsize=(10, 0.4 * len(fields) + 1.5))
    figure.subplots_adjust(left=0.2, right=0.98, bottom=0.12, top=0.95)
    axes = figure.add_subplot()
    # The scale reaches the highest PSI shown, so no cell is clipped to the top colour.
    image = axes.imshow(matrix, aspect="auto", cmap="Reds", vmin=0, vmax=max(0.5, highest))
    axes.set_yticks(range(len(fields)), fields, fontsize=8)
    step = max(1, len(starts) // 10)
    axes.set_xticks(range(0, len(starts), step), [f"{s:%m-%d}" for s in starts[::step]],
                    fontsize=8)
    for j, i in flags:
        axes.text(j, i, "×", ha="center", va="center", fontsize=9)
    figure.colorbar(image, ax=axes, label="PSI against the reference")
    note = (f"<p class='note'>Each interval against the first {max(1, intervals // 4)} "
            f"interval(s); × marks drift (PSI &gt; 0.2 and JS &gt; 0.1); highest PSI "
            f"{highest:.3g}.</p>")
    return _section("drift", "Drift heatmap (fields by intervals)", note + _svg(figure))


def _metrics_table(ws: Context, application: str, interval: timedelta, grid: Any
                   ) -> tuple[pl.DataFrame, list[str], str, str] | str:
    """The metrics over time of the one output against the one feedback field, or why not."""
    kinds = field_kinds(ws, application)
    feedback = [f for f in kinds if f.startswith("feedback.")]
    if len(feedback) != 1:
        return f"Needs exactly one feedback field (found {len(feedback)})."
    outputs = [o for o in kinds if o.startswith("outputs.") and kinds[o] == kinds[feedback[0]]]
    if not outputs:
        return f"No output field of the feedback's kind ({kinds[feedback[0]]})."
    metrics = ["accuracy", "f1"] if kinds[feedback[0]] == "bool" else (
        ["mae"] if kinds[feedback[0]] == "number" else ["accuracy"])
    table = metrics_over_time(ws, application, metrics, outputs[0], feedback[0], interval,
                              grid.origin, grid.end)
    return table, metrics, outputs[0], feedback[0]


def _metrics(measured: tuple[pl.DataFrame, list[str], str, str] | str) -> str:
    if isinstance(measured, str):
        return _section("metrics", "Metrics with feedback",
                        f"<p class='note'>{html.escape(measured)}</p>")
    table, metrics, output, feedback = measured
    figure, axes = _figure()
    x = table["interval_start"].to_list()
    for metric, colour in zip(metrics, (_BLUE, _ORANGE), strict=False):
        axes.plot(x, _nan(table[metric]), marker="o", markersize=3, color=colour, label=metric)
    labelled = axes.twinx()
    labelled.bar(x, table["rows_with_feedback"].to_list(), color=_GREY, alpha=0.2,
                 width=_bar_width(table["interval_start"]))
    labelled.set_ylabel("rows with feedback")
    axes.legend(fontsize=8)
    note = f"<p class='note'>{html.escape(output)} against {html.escape(feedback)}.</p>"
    return _section("metrics", "Metrics with feedback over time", note + _svg(figure))


def _html_table(frame: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>"
                   for row in frame.iter_rows())
    return f"<table><tr>{head}</tr>{rows}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, datetime):
        return f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def _alerts(ws: Context, application: str) -> str:
    alerts = list_alerts(ws, application)
    failing = failing_automations(ws, application)
    body = "<p class='note'>No alerts.</p>" if alerts.height == 0 else _html_table(alerts.select(
        "automation", "aggregation", "value", "lower_bound", "upper_bound", "window_start",
        "fired_at", "resolved_at", "status", "action_error"))
    if failing.height:  # failing automations are retried with backoff; say so here too
        body += "<h3>Failing automations</h3>" + _html_table(failing.select(
            "automation", "kind", "first_failed_at", "last_failed_at", "failures", "error"))
    return _section("alerts", "Alerts", body)


def _datasets(ws: Context, datasets: list[dict[str, Any]], storage_error: str | None) -> str:
    if storage_error is not None:
        return _section("datasets", "Curated datasets",
                        f"<p class='note'>{html.escape(storage_error)}</p>")
    charts = []
    for info in datasets:
        versions = [v for v in reversed(ws.datasets.get_dataset(info["name"]).list_versions())
                    if v.get("error") is None]  # a corrupt version was warned about; skip it
        if not versions:  # a curator's dataset before its first run
            continue
        times = [v["created_at"] for v in versions]
        totals = [sum(v["rows"].values()) for v in versions]
        added = [t - p for t, p in zip(totals, [0, *totals][:len(totals)], strict=True)]
        numbers = list(range(1, len(versions) + 1))
        figure, axes = _figure(10, 2.2)
        axes.bar(numbers, added, color=_BLUE, label="rows added")
        labelled = [v.get("labelled_rows") for v in versions]
        if any(n is not None for n in labelled):
            axes.plot(numbers, [math.nan if n is None else n for n in labelled], "o",
                      color=_ORANGE, markersize=4, label="labelled rows")
            axes.legend(loc="upper left", fontsize=7)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))  # versions are whole numbers
        axes.set_xlabel("version")
        axes.set_ylabel("rows")
        axes.set_title(f"{info['name']}: {len(versions)} versions, last {times[-1]:%Y-%m-%d}"
                       if times else info["name"], loc="left", fontsize=10)
        charts.append(_svg(figure))
    body = "".join(charts) or "<p class='note'>No dataset of this application.</p>"
    return _section("datasets", "Curated datasets: rows per version", body)


def _evaluations(ws: Context, names: list[str]) -> str:
    from ..evaluation import get_evaluation, list_evaluations

    listed = list_evaluations(workspace=ws).filter(pl.col("dataset").is_in(sorted(names)))
    if listed.height == 0:
        return _section("evaluations", "Latest evaluation",
                        "<p class='note'>No evaluation of this application's datasets.</p>")
    try:
        latest = get_evaluation(listed["id"][0], workspace=ws)
    except NotFoundError:
        return _section("evaluations", "Latest evaluation", "<p class='note'>Gone.</p>")
    chart = _differences(latest.results, latest.alpha, latest.baseline)
    return _section("evaluations", "Latest evaluation",
                    f"{chart}<pre>{html.escape(str(latest))}</pre>")


def _differences(results: list[Any], alpha: float, baseline: str) -> str:
    """Each challenger's difference from the baseline per metric, with its confidence
    interval: a bar right of zero is better when higher is better (the verdict colours it)."""
    rows = [r for r in results if r.difference is not None and r.ci_low is not None
            and r.ci_high is not None and all(map(math.isfinite, (r.difference, r.ci_low,
                                                                  r.ci_high)))]
    if not rows:
        return ""
    colours = {"improved": "#2ca02c", "regressed": "#d62728"}
    figure, axes = _figure(10, 0.45 * len(rows) + 1.2)
    figure.subplots_adjust(left=0.3, bottom=0.8 / (0.45 * len(rows) + 1.2))
    for y, r in enumerate(rows):
        axes.errorbar(r.difference, y, xerr=[[r.difference - r.ci_low], [r.ci_high - r.difference]],
                      fmt="o", capsize=4, color=colours.get(r.verdict or "", _GREY))
    axes.axvline(0, color="#222", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [f"{r.metric}: {r.candidate}" for r in rows], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(f"difference from {baseline} ({100 * (1 - alpha):g}% CI); green: improved, "
                    "red: regressed, grey: no significant difference")
    return _svg(figure)
