"""Dataset benchmarks (issue 3). Prints our figure, a baseline measured in the same run, the ratio.

    python benchmarks/bench_datasets.py            # 1,000,000 rows of a realistic log schema
    python benchmarks/bench_datasets.py --quick    # a smoke run, used by the test suite
    python benchmarks/bench_datasets.py --only local --rounds 7

Push and read (issue 12's targets) run interleaved with their baselines, `--rounds` times each
(`_timing.interleaved`), and print each side's median and best and the ratio of medians: the
machine is shared, and load that hits one side only would otherwise decide the ratio. The
push baselines write the same tables to the same filesystem: `pq.write_table` alone (it does
not fsync) and followed by an fsync of the file (our object write fsyncs before its rename).
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import fsspec
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from _timing import Timings, best, interleaved, load

import gantry_local as gantry


def log_frame(n: int, seed: int = 0) -> pl.DataFrame:
    """n rows shaped like curated production logs (meta, 8 inputs, 2 outputs, feedback, tag)."""
    idx = pl.int_range(0, n, eager=True)
    return pl.DataFrame({
        "__time": pl.datetime_range(pl.datetime(2024, 1, 1), pl.datetime(2024, 1, 31),
                                    interval=f"{max(1, 30 * 86_400_000_000 // n)}us",
                                    eager=True, time_zone="UTC").head(n),
        "__join_key": ("k-" + (idx * 7919 + seed).cast(pl.String)),
        "__version": (idx % 3).cast(pl.String).str.replace(r"^", "v"),
        "inputs.amount": (idx * 0.37) % 500,
        "inputs.merchant": (idx % 5).replace_strict({0: "grocery", 1: "travel", 2: "web", 3: "gas",
                                                     4: "food"}, return_dtype=pl.String),
        "inputs.country": (idx % 4).replace_strict({0: "DE", 1: "US", 2: "FR", 3: "JP"},
                                                   return_dtype=pl.String),
        "inputs.age": 18 + idx % 60,
        "inputs.score": (idx % 97) / 97,
        "inputs.is_new": idx % 5 == 0,
        "inputs.device": (idx % 3).replace_strict({0: "ios", 1: "android", 2: "web"},
                                                  return_dtype=pl.String),
        "inputs.session_s": (idx * 13) % 3600,
        "outputs.fraud_score": (idx % 13) / 13,
        "outputs.flagged": idx % 13 > 10,
        "feedback.is_fraud": idx % 17 == 0,
        "tags.region": (idx % 2).replace_strict({0: "eu", 1: "us"}, return_dtype=pl.String),
    })



def line(label: str, ours: float, base: float, base_label: str, target: str) -> None:
    print(f"{label}: {ours * 1000:,.1f} ms; {base_label}: {base * 1000:,.1f} ms -> "
          f"{ours / base:.2f}x of baseline ({target})")


def line_medians(label: str, timings: Timings, ours: str, base: str, target: str) -> None:
    print(f"{label}: {timings.show(ours, 'ms')}; {base}: {timings.show(base, 'ms')} -> "
          f"{timings.ratio(ours, base):.2f}x of baseline, medians; median of the rounds' "
          f"ratios {timings.paired_ratio(ours, base):.2f}x ({target})")


def _write_fsynced(table: pa.Table, path: Path) -> None:
    """`pq.write_table`, then fsync the file: what our object write pays for durability."""
    pq.write_table(table, path, compression="zstd")
    handle = os.open(path, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def bench_local(n: int, folder: Path, rounds: int) -> None:
    """Push and read against pyarrow on the same filesystem, `rounds` interleaved rounds."""
    frame = log_frame(n)
    table = frame.to_arrow()
    print(f"table: {n:,} rows, {table.nbytes / 1e6:,.0f} MB in Arrow ({load()})")
    ws = gantry.Workspace(db=":memory:", storage=str(folder / "store"))
    # New content every time (so the object is really written), made before timing starts;
    # the baselines write the same tables to the same filesystem, so all encode the same bytes.
    fresh = [table.append_column("run", pa.array([i] * n, pa.int64())) for i in range(rounds)]
    datasets = [ws.create_dataset(f"fresh{i}") for i in range(rounds)]
    turns = {side: itertools.count() for side in ("ours", "plain", "fsynced")}

    def plain() -> None:
        i = next(turns["plain"])
        pq.write_table(fresh[i], folder / f"plain{i}.parquet", compression="zstd")

    def fsynced() -> None:
        i = next(turns["fsynced"])
        _write_fsynced(fresh[i], folder / f"fsynced{i}.parquet")

    def ours() -> None:
        i = next(turns["ours"])
        datasets[i].push_dataframe(fresh[i])

    pushes = interleaved({"push_dataframe": ours, "pq.write_table zstd": plain,
                          "pq.write_table zstd + fsync": fsynced}, rounds)
    line_medians("push_dataframe, new content", pushes, "push_dataframe", "pq.write_table zstd",
         "target <= 1.05x")
    print(f"  baseline + fsync (our object write fsyncs; pq.write_table does not): "
          f"{pushes.show('pq.write_table zstd + fsync', 'ms')} -> ours is "
          f"{pushes.ratio('push_dataframe', 'pq.write_table zstd + fsync'):.2f}x of it (rounds' "
          f"ratios {pushes.paired_ratio('push_dataframe', 'pq.write_table zstd + fsync'):.2f}x)")
    base = pushes.median("pq.write_table zstd")
    try:
        from deltalake import write_deltalake

        runs = iter(range(10**6))
        delta = best(lambda: write_deltalake(str(folder / f"delta{next(runs)}"), table))
        print(f"  peer deltalake.write_deltalake (a new table): {delta * 1000:,.1f} ms -> "
              f"{delta / base:.2f}x of baseline")
    except ImportError:
        print("  peer deltalake: not installed (pip install -e '.[bench]' adds it)")
    print("  peer dvc: not measured by this script")

    for head_rows in (max(n // 100, 1000), n):
        ds = ws.create_dataset(f"append{head_rows}")
        part = log_frame(head_rows // 100)
        for i in range(100):
            ds.append_dataframe(part.with_columns(pl.lit(i).alias("batch")))
        extra = log_frame(100, seed=1).with_columns(pl.lit(-1).alias("batch"))
        took = best(lambda ds=ds, extra=extra: ds.append_dataframe(extra), repeat=5)
        print(f"append 100 rows to a head of {head_rows:,} rows in 100 files: {took * 1000:.1f} ms "
              "(target <= 50 ms, independent of the head's size)")

    ds = ws.create_dataset("readme")
    vid = ds.push_dataframe(frame)["version_id"]
    digest = ds.manifest(vid).files["data"].parts[0].object
    raw_path = Path(ws.datasets.store.path(f"objects/{digest[:2]}/{digest}"))
    reads = interleaved({"read_arrow": lambda: ds.read_arrow(vid),
                         "pq.read_table of the same file": lambda: pq.read_table(raw_path)},
                        max(rounds, 11))
    line_medians("read with verification", reads, "read_arrow", "pq.read_table of the same file",
                 "target <= 1.1x")

    changed = frame.with_columns(
        pl.when(pl.int_range(0, n) % 100 == 0).then(pl.col("inputs.amount") + 1)
        .otherwise(pl.col("inputs.amount")).alias("inputs.amount"))
    vid2 = ds.push_dataframe(changed)["version_id"]
    digest2 = ds.manifest(vid2).files["data"].parts[0].object
    path2 = Path(ws.datasets.store.path(f"objects/{digest2[:2]}/{digest2}"))
    result = ds.diff(vid, vid2)
    assert result.counts["changed"] == (n + 99) // 100, result.counts

    def hand_written() -> None:
        con = duckdb.connect()
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        con.sql(f"""
            SELECT count(*) FROM
              (SELECT "__join_key" k, hash({cols}) h FROM read_parquet('{raw_path}')) a
              FULL OUTER JOIN
              (SELECT "__join_key" k, hash({cols}) h FROM read_parquet('{path2}')) b USING (k)
            WHERE a.h IS DISTINCT FROM b.h""").fetchall()
        con.close()

    diffs = interleaved({"diff": lambda: ds.diff(vid, vid2),
                         "hand-written DuckDB full outer join on row hashes": hand_written},
                        max(rounds // 2, 3))
    line_medians("diff of two versions differing in 1% of rows (ours returns the changed rows; "
                 "the baseline counts them)", diffs, "diff",
                 "hand-written DuckDB full outer join on row hashes", "target <= 1.5x")
    print(f"  ({load()})")
    ws.close()


class CountingFS:
    """An fsspec filesystem wrapper counting the calls that read storage."""

    READS = ("cat_file", "cat", "open", "ls", "exists", "info", "find", "isfile", "isdir")

    def __init__(self, fs: Any) -> None:
        self._fs = fs
        self.reads: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._fs, name)
        if name not in self.READS:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.reads[name] += 1
            return attribute(*args, **kwargs)

        return counted


def bench_curator_reads(folder: Path, days: int = 30) -> None:
    """Storage reads of one curator run in a warm process, after `days` versions."""
    from gantry_local.automations.curators import UniformCurator

    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    clock = gantry.ManualClock(start)
    ws = gantry.Workspace(db=str(folder / "c.duckdb"), storage=str(folder / "cstore"),
                          clock=clock)
    app = ws.create_application("m")
    for day in range(days + 2):
        stamps = [start + timedelta(days=day, minutes=10 * i) for i in range(50)]
        app.log_records(inputs=[{"x": i} for i in range(50)], outputs=[0] * 50,
                        timestamps=stamps)
    ws.flush()
    UniformCurator("daily", "m", limit=10, start_on=start).create(workspace=ws)
    scheduler = gantry.Scheduler(ws)
    clock.set(start + timedelta(days=days))
    assert len(scheduler.run_pending()) == days
    store = ws.datasets.store
    counting = CountingFS(store.fs)
    store.fs = counting
    clock.set(start + timedelta(days=days + 1))
    runs = scheduler.run_pending()
    assert [r.status for r in runs] == ["succeeded"], runs
    total = sum(counting.reads.values())
    print(f"curator run after {days} versions, warm process: {total} storage reads "
          f"({dict(counting.reads)}); target <= 5, whatever the history")
    ws.close()


def _moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def bench_s3(n: int, rounds: int) -> None:
    """Pushes and reads against moto, each interleaved with the raw s3fs calls doing the same
    work: encoding the Parquet bytes and putting them (push_dataframe), putting bytes already
    encoded (push_file), getting and decoding them (read). Each push is a new version of one
    dataset in a warm process: three requests (object, manifest, commit entry) to raw's one."""
    server, endpoint = _moto()
    try:
        options = {"key": "x", "secret": "x", "endpoint_url": endpoint,
                   "client_kwargs": {"region_name": "us-east-1"}}
        fs = fsspec.filesystem("s3", **options)
        import boto3

        boto3.client("s3", endpoint_url=endpoint, aws_access_key_id="x", aws_secret_access_key="x",
                     region_name="us-east-1").create_bucket(Bucket="bench")
        frame = log_frame(n)
        ws = gantry.Workspace(db=":memory:", storage="s3://bench/gl", storage_options=options)
        fresh = [frame.with_columns(pl.lit(i).alias("run")) for i in range(rounds)]
        turns = {side: itertools.count() for side in ("ours", "raw", "file", "put")}
        pushed = ws.create_dataset("pushes")  # a new version of one dataset each round, in
        pushed.push_dataframe(frame.head(10))  # a warm process (connections open, head known)

        def ours_push() -> None:
            pushed.push_dataframe(fresh[next(turns["ours"])])

        def raw_push() -> None:  # the same work by hand: encode, then one put
            i = next(turns["raw"])
            buffer = io.BytesIO()
            pq.write_table(fresh[i].to_arrow(), buffer, compression="zstd")
            fs.pipe_file(f"bench/raw/{i}", buffer.getvalue())

        pushes = interleaved({"push_dataframe": ours_push, "raw": raw_push}, rounds)
        line_medians("S3 (moto) push_dataframe", pushes, "push_dataframe", "raw",
                     "target <= 1.3x; raw = pq.write_table zstd to memory + s3fs put")
        folder = Path(tempfile.mkdtemp())
        paths = []
        for run in range(rounds):  # different bytes each time, so every push really uploads
            paths.append(folder / f"run{run}.parquet")
            pq.write_table(fresh[run].to_arrow(), paths[-1], compression="zstd")
        files = ws.create_dataset("files")
        files.push_dataframe(frame.head(10))

        def ours_file() -> None:
            files.push_file(paths[next(turns["file"])], filename="data")

        def raw_put() -> None:  # by hand: read the file, put its bytes
            i = next(turns["put"])
            fs.pipe_file(f"bench/put/{i}", paths[i].read_bytes())

        uploads = interleaved({"push_file": ours_file, "raw": raw_put}, rounds)
        line_medians("S3 (moto) push_file of Parquet bytes", uploads, "push_file", "raw",
                     "target <= 1.3x; raw = reading the file + s3fs put of its bytes")
        ds = ws.create_dataset("readback")
        vid = ds.push_dataframe(frame)["version_id"]
        reads = interleaved({"read_arrow": lambda: ds.read_arrow(vid),
                             "raw": lambda: pq.read_table(io.BytesIO(fs.cat_file("bench/put/0"))
                                                          )}, rounds)
        line_medians("S3 (moto) read with verification", reads, "read_arrow", "raw",
                     "target <= 1.3x; raw = s3fs get + pq.read_table")
        print(f"  ({load()})")
        ws.close()
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="small sizes, for the test suite")
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved rounds per side")
    parser.add_argument("--only", choices=["local", "s3"],
                        help="only the local push/read/diff part, or only the S3 part")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    print(f"gantry-local dataset benchmarks (n={n:,}); every baseline is measured in this run")
    if args.only != "s3":
        with tempfile.TemporaryDirectory() as tmp:
            bench_local(n, Path(tmp), 1 if args.quick else args.rounds)
    if args.only == "local":
        return
    if args.only is None:
        with tempfile.TemporaryDirectory() as tmp:
            bench_curator_reads(Path(tmp), 5 if args.quick else 30)
    bench_s3(n, 1 if args.quick else max(args.rounds // 2, 3))


if __name__ == "__main__":
    main()
