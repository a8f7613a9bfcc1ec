"""Monitoring benchmarks (issue 6). Prints our figure, a baseline measured in the same run, the ratio.

    python benchmarks/bench_monitoring.py            # 10,000,000 records over 30 days
    python benchmarks/bench_monitoring.py --quick    # a smoke run, used by the test suite
    python benchmarks/bench_monitoring.py --only drift,report --keep /tmp/monbench

Drift and the report run interleaved with their baselines, `--rounds` times each
(`_timing.interleaved`, alternating which goes first), and print each side's median and best
and the ratio of medians: the machine is shared, and load hitting one side only would
otherwise decide the ratio. The report's first round in the process also imports matplotlib
(about half a second); the median leaves such one-off costs out.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
from _timing import Timings, best, interleaved
from _timing import load as machine_load

import gantry_local as gantry

START = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAYS = 30
NUMBERS = ["n0", "n1", "n2", "n3", "n4", "n5"]
CATEGORIES = ["c0", "c1", "c2"]



def load(ws: gantry.Workspace, n: int) -> None:
    app = ws.create_application("app")
    chunk = min(n, 1_000_000)
    step = DAYS * 86_400_000_000 // n
    for start in range(0, n, chunk):
        idx = pl.int_range(start, min(start + chunk, n), eager=True)
        inputs = pl.DataFrame({
            **{name: ((idx * (7919 + 13 * k)) % 100_003) / (100.0 + k) for k, name in
               enumerate(NUMBERS)},
            **{name: (idx * (31 + k) % (5 + 3 * k)).cast(pl.String) for k, name in
               enumerate(CATEGORIES)},
            "flag": (idx % 7) == 0})
        stamps = (idx * step).cast(pl.Duration("us")) + pl.Series([START]).dt.cast_time_unit("us")
        app.log_records(inputs=inputs, outputs=pl.DataFrame({"score": (idx % 1000) / 1000.0}),
                        timestamps=stamps.to_list(), join_keys=None)
    ws.flush()


def hand_written(ws: gantry.Workspace) -> object:
    """The same statistics by day, straight off the table: one GROUP BY, plus the top-5s."""
    table = '"records_app"'
    day = "CAST(floor(epoch_us(\"__time\") / 86400000000) AS BIGINT)"
    parts = ["count(*)"]
    for name in NUMBERS:
        col = f'"inputs.{name}"'
        parts.append(f"count({col}), avg({col}), stddev_samp({col}), min({col}), max({col}), "
                     f"quantile_cont({col}, [0.05, 0.25, 0.5, 0.75, 0.95])")
    for name in CATEGORIES:
        parts.append(f'count("inputs.{name}"), count(DISTINCT "inputs.{name}")')
    parts.append('count("inputs.flag"), avg(CAST("inputs.flag" AS INTEGER))')
    tops = " UNION ALL ".join(
        f'SELECT {day} AS d, {k} AS f, CAST("inputs.{name}" AS VARCHAR) AS v, count(*) AS k '
        f'FROM {table} GROUP BY ALL' for k, name in enumerate(CATEGORIES))
    with ws.database.cursor() as con:
        con.sql(f"SELECT {day} AS d, {', '.join(parts)} FROM {table} GROUP BY d").fetchall()
        return con.sql(f"SELECT * FROM ({tops}) QUALIFY row_number() OVER (PARTITION BY d, f "
                       "ORDER BY k DESC, v) <= 5").fetchall()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per side")
    parser.add_argument("--only", help="comma-separated parts: summarize, drift, report")
    parser.add_argument("--keep", type=Path, help="a folder to keep the loaded database in and "
                        "reuse on the next run (default: a temporary one)")
    args = parser.parse_args()
    n = 60_000 if args.quick else 10_000_000
    rounds = 1 if args.quick else args.rounds
    parts = set(args.only.split(",")) if args.only else {"summarize", "drift", "report"}
    print(f"gantry-local monitoring benchmarks ({n:,} records, 11 fields, {DAYS} days); "
          "baselines in this run")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        fresh = not (folder / "m.duckdb").exists()
        ws = gantry.Workspace(db=folder / "m.duckdb",
                              storage=str(folder / "s") if fresh else None,
                              buffer_timeout=600)  # loading 10M rows on a busy machine
        if fresh:
            started = time.perf_counter()
            load(ws, n)
            print(f"loaded in {time.perf_counter() - started:.1f}s")
        app = ws.get_application("app")
        if "summarize" in parts:
            ours = best(lambda: app.summarize(timedelta(days=1)))
            base = best(lambda: hand_written(ws))
            print(f"summarize, {DAYS} daily intervals x 11 fields: {ours:.2f}s (target <= 3 s); "
                  f"hand-written DuckDB GROUP BY: {base:.2f}s -> {ours / base:.2f}x of baseline "
                  "(target <= 1.5x)")
        if "drift" in parts:
            show_drift(app, n, rounds)
        if "report" in parts:
            show_report(app, n, folder, rounds)
        print(f"  ({machine_load()})")
        ws.close()


def show_drift(app: gantry.Application, n: int, rounds: int) -> None:
    """Drift between two windows of about 1,000,000 rows against reading both into polars."""
    window = timedelta(days=DAYS) * min(1.0, 1_000_000 / n)  # about 1,000,000 rows a side
    reference = (START, START + window)
    current = (START + timedelta(days=DAYS) - window, START + timedelta(days=DAYS))
    rows = app.query(start_time=reference[0], end_time=reference[1]).count()

    def polars_baseline() -> object:
        ref = app.query(start_time=reference[0], end_time=reference[1]).to_polars()
        cur = app.query(start_time=current[0], end_time=current[1]).to_polars()
        out = []
        for name in NUMBERS:
            col = f"inputs.{name}"
            edges = ref[col].quantile(0.5)
            out.append((ref[col] <= edges).mean() - (cur[col] <= edges).mean())
        for name in CATEGORIES:
            col = f"inputs.{name}"
            out.append(ref[col].value_counts().join(cur[col].value_counts(), on=col,
                                                    how="full").height)
        return out

    timings = interleaved({"ours": lambda: app.drift(reference, current),
                           "polars": polars_baseline}, max(rounds, 5))
    print(f"drift between two windows of {rows:,} rows, 11 fields: {timings.show('ours')} "
          f"(target <= 1 s); reading both windows into polars and binning: "
          f"{timings.show('polars')} -> {timings.ratio('ours', 'polars'):.2f}x of baseline, "
          f"medians; rounds' ratios {timings.paired_ratio('ours', 'polars'):.2f}x (target <= 1.0x)")


def show_report(app: gantry.Application, n: int, folder: Path, rounds: int) -> None:
    """The whole report against summarize plus reading every record into polars."""

    def baseline() -> None:
        app.summarize(timedelta(days=1))
        app.query(all_time=True).to_polars()  # reading every record once

    timings: Timings = interleaved({"ours": lambda: app.report(folder / "report.html"),
                                    "base": baseline}, rounds)
    print(f"report (every section) of {n:,} records: {timings.show('ours')} (target <= 15 s); "
          f"summarize plus reading every record into polars: {timings.show('base')} -> "
          f"{timings.ratio('ours', 'base'):.2f}x of baseline, medians of {rounds} interleaved "
          f"rounds; median of the rounds' ratios {timings.paired_ratio('ours', 'base'):.2f}x "
          "(target <= 1.1x)")


if __name__ == "__main__":
    main()
