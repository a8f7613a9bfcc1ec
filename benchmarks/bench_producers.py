"""Producer and spool benchmarks (issue 13). Each prints our figure, a baseline measured in the
same run, and the ratio.

    python benchmarks/bench_producers.py            # full size (1,000,000 records)
    python benchmarks/bench_producers.py --quick    # a smoke run, used by the test suite

Each case runs in its own subprocess, so peak memory and start-up are measured per case.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

import gantry_local as gantry
from gantry_local._producer import ProducerWorkspace

sys.path.insert(0, str(Path(__file__).parent))
from _timing import interleaved
from bench_logging import record, sqlite_single_rows  # the same record and baseline


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _percentiles(samples: list[int]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[int(len(samples) * 0.99)] / 1000


def case_latency(n: int, folder: Path) -> dict[str, float]:
    """Caller-side cost of one log_record in a producer, vs sqlite3 single-row inserts."""
    recs = [record(i) for i in range(n)]
    clock = time.perf_counter_ns
    with ProducerWorkspace(db=folder / "lat.duckdb") as ws:
        app = ws.create_application("bench")
        app.log_record(inputs=recs[0][0], outputs=recs[0][1])
        ws.flush()
        log, ours = app.log_record, []
        for inputs, outputs in recs:
            t0 = clock()
            log(inputs=inputs, outputs=outputs)
            ours.append(clock() - t0)
    lite_ns = sqlite_single_rows(folder / "lat.sqlite", recs)
    p50, p99 = _percentiles(ours)
    s50, s99 = _percentiles(lite_ns)
    return {"p50_us": p50, "p99_us": p99, "sqlite_p50_us": s50, "sqlite_p99_us": s99}


def _single_calls(ws: gantry.Workspace, n: int) -> float:
    app = ws.create_application("bench")
    log = app.log_record
    t0 = time.perf_counter()
    for i in range(n):
        inputs, outputs = record(i)
        log(inputs=inputs, outputs=outputs)
    ws.flush()
    return time.perf_counter() - t0


def case_producer_calls(n: int, folder: Path, start_at: float = 0.0,
                        buffer_size: int = 100_000) -> dict[str, float]:
    """n single calls in a producer, until every record is in a segment on disk."""
    with ProducerWorkspace(db=folder / "p.duckdb", buffer_size=buffer_size,
                           producer_id=f"p{os.getpid()}") as ws:
        time.sleep(max(0.0, start_at - time.time()))
        started = time.time()
        seconds = _single_calls(ws, n)
        segments = ws._sink.segments_written  # type: ignore[attr-defined]
    return {"seconds": seconds, "rps": n / seconds, "started": started, "ended": time.time(),
            "segments": segments, "peak_rss_mb": rss_mb(), "buffer_size": buffer_size}


def case_duckdb_calls(n: int, folder: Path) -> dict[str, float]:
    """The same calls in the process that holds the DuckDB file (the DuckDB sink)."""
    with gantry.Workspace(db=folder / "d.duckdb") as ws:
        seconds = _single_calls(ws, n)
    return {"seconds": seconds, "rps": n / seconds, "peak_rss_mb": rss_mb()}


def case_unbounded_list(n: int, folder: Path) -> dict[str, float]:
    """Memory baseline: holding n records in a Python list (an unbounded buffer)."""
    held = [record(i) for i in range(n)]
    return {"records": len(held), "peak_rss_mb": rss_mb()}


def case_ingest(n: int, folder: Path, rounds: int = 5) -> dict[str, float]:
    """Ingest of n spooled records vs a raw INSERT ... SELECT * FROM read_parquet(...) over
    the same segments, interleaved over `rounds` (each on a fresh copy and database)."""
    spool = folder / "spool"
    with ProducerWorkspace(db=folder / "x.duckdb", spool=str(spool), producer_id="w",
                           flush_interval=60) as ws:
        app = ws.create_application("bench")
        for start in range(0, n, 100_000):
            app.log_records(inputs=[record(i)[0] for i in range(start, start + 100_000)],
                            outputs=[record(i)[1] for i in range(start, start + 100_000)])
            ws.flush()
    segments = len(list(spool.rglob("*.parquet")))
    fresh = iter(range(1_000_000))

    def raw() -> float:
        copy = folder / f"raw{next(fresh)}"
        shutil.copytree(spool, copy)
        files = sorted(str(p) for p in copy.rglob("*.parquet"))
        con = duckdb.connect(str(copy / "raw.duckdb"))
        con.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?) LIMIT 0", [files[:1]])
        started = time.perf_counter()
        con.execute("INSERT INTO t SELECT * FROM read_parquet(?)", [files])
        took = time.perf_counter() - started
        con.close()
        return took

    def ours() -> float:
        copy = folder / f"ours{next(fresh)}"
        shutil.copytree(spool, copy)
        with gantry.Workspace(db=copy / "owner.duckdb", spool=str(copy)) as owner:
            owner.create_application("bench")
            started = time.perf_counter()
            result = owner.ingest()
            took = time.perf_counter() - started
        assert result.rows == n, result
        return took

    timings = interleaved({"ours": ours, "raw": raw}, rounds)
    return {"ours_s": timings.median("ours"), "raw_s": timings.median("raw"),
            "paired": 1 / timings.paired_ratio("ours", "raw"), "rounds": rounds,
            "segments": segments, "rows": n}


VISIBILITY_PRODUCER = """
import sys, time
import gantry_local as gantry
gantry.init(db=sys.argv[1], producer=True, flush_interval=float(sys.argv[2]))
end = time.time() + float(sys.argv[3])
while time.time() < end:
    gantry.log_record("lag", inputs={"t": time.time()}, outputs=0)
    time.sleep(0.01)
gantry.flush()
"""


def case_visibility(n: int, folder: Path, flush_interval: float = 1.0,
                    tick: float = 1.0) -> dict[str, float]:
    """Seconds from a log call in a worker to queryable in the curation host, whose scheduler
    ticks every `tick` seconds (ingesting first)."""
    db = folder / "lag.duckdb"
    with gantry.Workspace(db=db) as owner:
        owner.create_application("lag")
    seconds = 3.0 * n  # n: a size knob (1 quick, 3 full)
    child = subprocess.Popen([sys.executable, "-c", VISIBILITY_PRODUCER, str(db),
                              str(flush_interval), str(seconds)])
    lags: list[float] = []
    seen = 0.0
    with gantry.Workspace(db=db) as owner:
        scheduler = gantry.Scheduler(owner)
        deadline = time.time() + seconds + 3 * (flush_interval + tick)
        while time.time() < deadline:
            scheduler.run_pending()
            now = time.time()
            frame = owner.query("lag").to_polars()
            if "inputs.t" not in frame.columns:  # nothing arrived yet
                time.sleep(0.05)
                continue
            fresh = frame.filter(frame["inputs.t"] > seen)["inputs.t"]
            lags += [now - t for t in fresh.to_list()]
            if fresh.len():
                seen = float(fresh.max())  # type: ignore[arg-type]
            time.sleep(max(0.0, tick - (time.time() - now)))
    child.wait()
    lags.sort()
    return {"records": len(lags), "p50_s": lags[len(lags) // 2], "max_s": lags[-1],
            "bound_s": flush_interval + tick}


def case_gil(n: int, folder: Path) -> dict[str, float]:
    """Do pyarrow's Parquet writer and DuckDB's Arrow insert release the GIL? A Python loop's
    rate alone, and while a second thread writes Parquet or inserts into DuckDB non-stop."""
    import io
    import threading

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [record(i) for i in range(100_000)]
    table = pa.table({k: [r[0][k] for r in rows] for k in rows[0][0]})

    def loop() -> float:
        t0 = time.perf_counter()
        for i in range(n):
            record(i)
        return n / (time.perf_counter() - t0)

    def beside(work: Any) -> float:
        stop = threading.Event()

        def background() -> None:
            while not stop.is_set():
                work()

        thread = threading.Thread(target=background)
        thread.start()
        try:
            return loop()
        finally:
            stop.set()
            thread.join()

    con = duckdb.connect(str(folder / "gil.duckdb"))
    con.register("batch", table)
    con.execute("CREATE TABLE t AS SELECT * FROM batch LIMIT 0")
    alone = loop()
    parquet = beside(lambda: pq.write_table(table, io.BytesIO(), compression="zstd"))
    insert = beside(lambda: con.execute("INSERT INTO t SELECT * FROM batch"))
    return {"alone_rps": alone, "beside_parquet_rps": parquet, "beside_duckdb_rps": insert}


CASES = {f.__name__[5:]: f for f in (case_latency, case_producer_calls, case_duckdb_calls,
                                     case_unbounded_list, case_ingest, case_visibility, case_gil)}


def run_case(name: str, n: int, *extra: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--case", name, "--n", str(n), *extra],
                         check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def parallel(n: int, processes: int, start_in: float = 3.0) -> dict[str, float]:
    """`processes` producers logging n records each at once (from `start_in` seconds on, once
    every child has started): records/s of them together."""
    start_at = time.time() + start_in
    children = [subprocess.Popen([sys.executable, __file__, "--case", "producer_calls", "--n",
                                  str(n), "--start-at", str(start_at)], stdout=subprocess.PIPE,
                                 text=True) for _ in range(processes)]
    results = [json.loads(c.communicate()[0].strip().splitlines()[-1]) for c in children]
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    return {"rps": processes * n / wall, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--buffer-size", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds of the ingest")
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as tmp:
            kwargs: dict[str, Any] = {}
            if args.case == "producer_calls":
                kwargs = {"start_at": args.start_at, "buffer_size": args.buffer_size}
            if args.case == "ingest":
                kwargs = {"rounds": args.rounds}
            print(json.dumps(CASES[args.case](args.n, Path(tmp), **kwargs)))
        return
    quick = args.quick
    n = 20_000 if quick else args.n
    print(f"gantry-local producer benchmarks ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}, n={n:,})")
    lat = run_case("latency", 5_000 if quick else 200_000)
    print(f"log_record caller cost in a producer: p50 {lat['p50_us']:.2f} us, p99 "
          f"{lat['p99_us']:.2f} us (target p99 <= 50 us)")
    print(f"  baseline sqlite3 single-row insert into a file: p50 {lat['sqlite_p50_us']:.2f} us "
          f"-> ours is {lat['p50_us'] / lat['sqlite_p50_us']:.2f}x of it at p50 (target <= 1.0x)")
    producer, duck = run_case("producer_calls", n), run_case("duckdb_calls", n)
    print(f"{n:,} single calls, one producer, to segments on disk: {producer['rps']:,.0f}/s "
          f"({producer['segments']} segments); the DuckDB sink in the same run: "
          f"{duck['rps']:,.0f}/s -> {producer['rps'] / duck['rps']:.2f}x (target >= 1.2x)")
    one, two, four = (parallel(n // 2 if quick else n, k, 1.5 if quick else 3.0)
                      for k in (1, 2, 4))
    print(f"producer processes together: one {one['rps']:,.0f}/s, two {two['rps']:,.0f}/s "
          f"({two['rps'] / one['rps']:.2f}x of one, target >= 1.7x), four {four['rps']:,.0f}/s "
          f"({four['rps'] / two['rps']:.2f}x of two, target >= 1.0x)")
    ingest = run_case("ingest", 100_000 if quick else n, "--rounds",
                      "1" if quick else str(args.rounds))
    print(f"ingest of {ingest['rows']:,} spooled records ({ingest['segments']} segments, "
          f"median of {ingest['rounds']} interleaved rounds): {ingest['ours_s']:.2f}s; raw INSERT "
          f"INTO ... SELECT * FROM read_parquet(...) over the same segments: "
          f"{ingest['raw_s']:.2f}s -> {ingest['raw_s'] / ingest['ours_s']:.2f}x of raw (median "
          f"of the rounds' own ratios {ingest['paired']:.2f}x; target >= 0.8x)")
    lag = run_case("visibility", 1 if quick else 3)
    print(f"log call in a worker to queryable in the curation host (flush_interval 1 s, tick "
          f"1 s): p50 {lag['p50_s']:.2f}s, max {lag['max_s']:.2f}s over {lag['records']:,} "
          f"records (bound: one flush interval plus one tick = {lag['bound_s']:.1f}s)")
    gil = run_case("gil", 200_000 if quick else 1_000_000)
    print(f"what bounds one process: a Python loop building the records runs "
          f"{gil['alone_rps']:,.0f}/s alone, {gil['beside_parquet_rps']:,.0f}/s "
          f"({gil['beside_parquet_rps'] / gil['alone_rps']:.2f}x) beside a thread writing Parquet "
          f"non-stop, {gil['beside_duckdb_rps']:,.0f}/s ({gil['beside_duckdb_rps'] / gil['alone_rps']:.2f}x) "
          "beside a thread inserting into DuckDB (1.0x: the work releases the GIL and a second "
          "core is free)")
    small = run_case("producer_calls", n, "--buffer-size", "10000")
    held = run_case("unbounded_list", n)
    print(f"peak memory of a producer logging {n:,} records: {producer['peak_rss_mb']:.0f} MB "
          f"with buffer_size 100,000, {small['peak_rss_mb']:.0f} MB with 10,000; holding the "
          f"records in a list instead: {held['peak_rss_mb']:.0f} MB")


if __name__ == "__main__":
    main()
