"""Evaluation benchmarks (issue 5). Prints our figure, a baseline measured in the same run, the ratio.

    python benchmarks/bench_evaluation.py            # 100,000 rows
    python benchmarks/bench_evaluation.py --quick    # a smoke run, used by the test suite
"""

from __future__ import annotations

import argparse
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

import gantry_local as gantry
from gantry_local.evaluation.stats import mean_bootstrap, row_comparison


def trivial_a(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0)


def trivial_b(inputs: dict[str, Any]) -> int:
    return int(inputs["x"] > 0.1)


def slow(inputs: dict[str, Any]) -> int:
    time.sleep(0.01)  # a remote model: the thread waits on I/O
    return int(inputs["x"] > 0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 5_000 if args.quick else 100_000
    io_rows = 100 if args.quick else 1_000
    resamples = 1_000 if args.quick else 10_000
    print(f"gantry-local evaluation benchmarks ({n:,} rows); baselines in this run")
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    rows = pl.DataFrame({"inputs.x": x, "feedback.label": (x > 0.05).astype(int)})
    with tempfile.TemporaryDirectory() as tmp:
        ws = gantry.Workspace(db=Path(tmp) / "e.duckdb", storage=str(Path(tmp) / "s"))
        ws.create_dataset("rows").push_dataframe(rows)
        ws.create_dataset("io").push_dataframe(rows.head(io_rows))

        started = time.perf_counter()
        gantry.evaluate("rows", {"a": trivial_a, "b": trivial_b}, ["accuracy"], workspace=ws,
                        progress=False)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        dicts = [{"x": v} for v in rows["inputs.x"].to_list()]
        labels = rows["feedback.label"].to_list()
        for model in (trivial_a, trivial_b):
            scores = [float(model(d) == y) for d, y in zip(dicts, labels, strict=True)]
        np.mean(scores)
        plain = time.perf_counter() - started
        per_call = (ours - plain) / (2 * n) * 1e6
        print(f"evaluate, 2 trivial candidates x {n:,} rows, accuracy: {ours:.2f}s; a plain loop "
              f"calling the models and scoring: {plain:.2f}s -> machinery overhead "
              f"{per_call:.1f} us per row and candidate (target <= 50 us); {ours / plain:.2f}x "
              "of baseline")

        workers = 8
        started = time.perf_counter()
        gantry.evaluate("io", {"m": slow}, ["accuracy"], workspace=ws, progress=False,
                        workers=workers)
        ours = time.perf_counter() - started
        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(slow, [{"x": v} for v in x[:io_rows]]))
        pool_time = time.perf_counter() - started
        ideal = io_rows * 0.01 / workers
        print(f"evaluate, a model waiting 10 ms per call, {io_rows:,} rows, {workers} workers: "
              f"{ours:.2f}s; ideal {ideal:.2f}s -> {ours / ideal:.2f}x of ideal (target <= 1.5x); "
              f"baseline ThreadPoolExecutor.map: {pool_time:.2f}s -> {ours / pool_time:.2f}x of "
              "baseline")
        ws.close()

    continuous = rng.normal(0.01, 1.0, n)
    binary_a, binary_b = (rng.random(n) < 0.8).astype(float), (rng.random(n) < 0.81).astype(float)
    started = time.perf_counter()
    mean_bootstrap(continuous, resamples, 0.05, seed=1)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    row_comparison(binary_a, binary_b, True, resamples, 0.05, seed=1)
    ours_binary = time.perf_counter() - started
    plain_resamples = max(resamples // 50, 20)
    started = time.perf_counter()
    index = np.random.default_rng(1)
    for _ in range(plain_resamples):
        continuous[index.integers(0, n, n)].mean()
    plain = (time.perf_counter() - started) * resamples / plain_resamples
    print(f"paired bootstrap, {resamples:,} resamples over {n:,} continuous differences: "
          f"{ours:.2f}s (target <= 1 s); 0/1 scores with McNemar: {ours_binary:.2f}s; baseline "
          f"numpy index resampling, {plain_resamples} resamples timed and scaled: {plain:.2f}s "
          f"-> {plain / ours:.1f}x faster than baseline")
    heavy_tails(rng, n, resamples)


def heavy_tails(rng: np.random.Generator, n: int, resamples: int) -> None:
    """The bootstrap on heavy-tailed differences (|t(1.5)| errors): time and interval
    against a plain index-resampling bootstrap of the same differences."""
    diff = 0.8 * np.abs(rng.standard_t(1.5, n)) - np.abs(rng.standard_t(1.5, n))
    started = time.perf_counter()
    low, high = mean_bootstrap(diff, resamples, 0.05, seed=1)
    ours = time.perf_counter() - started
    plain_resamples = max(resamples // 10, 100)
    index = np.random.default_rng(1)
    started = time.perf_counter()
    means = np.array([diff[index.integers(0, n, n)].mean() for _ in range(plain_resamples)])
    plain = (time.perf_counter() - started) * resamples / plain_resamples
    plain_low, plain_high = np.percentile(means, [2.5, 97.5])
    width = plain_high - plain_low
    print(f"paired bootstrap, heavy tails (|t(1.5)| errors), {resamples:,} resamples over {n:,} "
          f"rows: {ours:.2f}s (target <= 1 s), CI [{low:.3f}, {high:.3f}]; baseline plain "
          f"bootstrap ({plain_resamples} resamples, time scaled: {plain:.2f}s) CI "
          f"[{plain_low:.3f}, {plain_high:.3f}] -> width {(high - low) / width:.2f}x, ends off "
          f"by {abs(low - plain_low) / width:.0%} and {abs(high - plain_high) / width:.0%} of "
          "its width (target <= 10%)")


if __name__ == "__main__":
    main()
