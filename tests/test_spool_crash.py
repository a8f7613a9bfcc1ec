"""SIGKILL of a producer under load and of the ingesting process mid-ingest: what a producer
loses stays within its unwritten buffer (about one flush_interval), and after a restart every
spooled record is in the database exactly once."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local._producer import ProducerWorkspace

FLUSH_INTERVAL = 1.0  # the default, the README's bound
BLOCK = 1024

PRODUCER = textwrap.dedent("""
    import mmap, sys, time
    import gantry_local as gantry
    ws = gantry.init(db=sys.argv[1], producer=True, producer_id="victim")
    app = ws.create_application("k")
    app.log_record(inputs={"seq": -1}, outputs=0)
    ws.flush()
    with open(sys.argv[2], "r+b") as f:
        times = memoryview(mmap.mmap(f.fileno(), 0)).cast("d")
    print("ready", flush=True)
    log, now, seq = app.log_record, time.time, 0
    while True:
        if not seq & 1023:
            times[seq >> 10] = now()
        log(inputs={"seq": seq}, outputs=seq * 0.5)
        seq += 1
""")


def _kill_a_producer(folder: Path, name: str, logging_for: float) -> tuple[int, int, int, float]:
    db, clock = folder / f"{name}.duckdb", folder / f"{name}.times"
    clock.write_bytes(bytes(8 * 65_536))
    child = subprocess.Popen([sys.executable, "-c", PRODUCER, str(db), str(clock)],
                             stdout=subprocess.PIPE)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == b"ready"
        time.sleep(logging_for)
        killed = time.time()
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    with gantry.Workspace(db=db) as owner:
        owner.ingest()
        with owner.database.cursor() as con:
            rows, top, distinct = con.execute(
                'SELECT count(*), max("inputs.seq"), count(DISTINCT "inputs.seq") FROM "records_k"'
            ).fetchall()[0]
    times = memoryview(clock.read_bytes()).cast("d")
    first_lost_block = times[(top + 1) // BLOCK]
    assert first_lost_block > 0, "the child logged nothing after the last stored record"
    return rows, top, distinct, killed - first_lost_block


@pytest.mark.slow
def test_sigkill_of_a_producer_loses_at_most_its_unwritten_buffer(tmp_path: Path) -> None:
    random.seed(13)
    lags = []
    for trial in range(6):
        rows, top, distinct, lag = _kill_a_producer(tmp_path, f"p{trial}", random.uniform(0.3, 1.2))
        assert rows == distinct == top + 2, (trial, rows, top, distinct)  # a prefix, no duplicate
        lags.append(lag)
    assert max(lags) < FLUSH_INTERVAL, sorted(lags)


# Forks one ingesting child per line of stdin ("<db> <spool>"), so a trial costs no Python
# start-up; the zygote itself never opens DuckDB (nothing to inherit mid-operation).
ZYGOTE = textwrap.dedent("""
    import os, signal, sys
    import gantry_local as gantry
    from gantry_local.records import _ingest
    _ingest._BATCH_SEGMENTS = 7  # many transactions, each followed by its moves
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    print("ready", flush=True)
    for line in sys.stdin:
        db, spool = line.split()
        if os.fork() == 0:
            ws = gantry.Workspace(db=db, spool=spool)
            print("open", os.getpid(), flush=True)
            ws.ingest()
            print("done", os.getpid(), flush=True)
            os._exit(0)
""")


class Zygote:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        assert self.readline() == "ready"

    def readline(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def start(self, db: Path, spool: Path) -> int:
        """Fork an ingesting child; its pid once it has opened the database."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{db} {spool}\n")
        self.process.stdin.flush()
        while True:
            word, pid = self.readline().split()
            if word == "open":  # "done" of an earlier child that finished before its kill
                return int(pid)

    def close(self) -> None:
        self.process.kill()
        self.process.wait()


SEGMENTS, PER_SEGMENT = 60, 400


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spool of 60 segments (24,000 records and 3,000 feedback rows) from three producers."""
    folder = tmp_path_factory.mktemp("template")
    for writer in range(3):
        worker = ProducerWorkspace(db=folder / "t.duckdb", spool=str(folder / "spool"),
                                   producer_id=f"w{writer}", flush_interval=60)
        for segment in range(SEGMENTS // 3):
            base = (writer * 100 + segment) * PER_SEGMENT
            _, keys = worker.log_records("k", inputs=[{"n": base + i} for i in range(PER_SEGMENT)],
                                      outputs=[0] * PER_SEGMENT,
                                      join_keys=[f"r{base + i}" for i in range(PER_SEGMENT)])
            worker.log_records("k", feedbacks=[{"label": 1}] * 50, join_keys=keys[:50])
            worker.flush()
        worker.close()
    return folder / "spool"


def _full_ingest_seconds(zygote: Zygote, tmp_path: Path, template: Path) -> float:
    spool = tmp_path / "calibrate"
    shutil.copytree(template, spool)
    zygote.start(tmp_path / "c.duckdb", spool)
    started = time.monotonic()
    assert zygote.readline().startswith("done")
    return time.monotonic() - started


@pytest.mark.slow
def test_sigkill_of_the_ingesting_process_neither_loses_nor_duplicates(
        tmp_path: Path, template: Path) -> None:
    random.seed(17)
    kinds = set()
    zygote = Zygote()
    duration = _full_ingest_seconds(zygote, tmp_path, template)  # kill inside it, whatever the load
    for trial in range(20):
        db, spool = tmp_path / f"i{trial}.duckdb", tmp_path / f"s{trial}"
        shutil.copytree(template, spool)
        pid = zygote.start(db, spool)
        time.sleep(random.uniform(0.0, duration))
        with contextlib.suppress(ProcessLookupError):  # it may have finished first
            os.kill(pid, signal.SIGKILL)
        _wait_gone(pid)
        ingested = len(list((spool / "ingested").rglob("*.parquet"))) \
            if (spool / "ingested").exists() else 0
        kinds.add("none" if ingested == 0 else "all" if ingested == 2 * SEGMENTS else "part")
        with gantry.Workspace(db=db, spool=str(spool)) as owner:
            result = owner.ingest()
            assert result.quarantined == []
            with owner.database.cursor() as con:
                records = con.execute('SELECT count(*), count(DISTINCT "__join_key") '
                                      'FROM "records_k"').fetchall()[0]
                feedback = con.execute('SELECT count(*) FROM "feedback_k"').fetchall()[0][0]
                ledger = con.execute("SELECT count(*), count(DISTINCT segment) "
                                     "FROM _gl_spool_segments").fetchall()[0]
        assert records == (SEGMENTS * PER_SEGMENT, SEGMENTS * PER_SEGMENT), trial
        assert feedback == SEGMENTS * 50, trial
        assert ledger == (2 * SEGMENTS, 2 * SEGMENTS), trial
        assert not list((spool / "pending").rglob("*.parquet"))
        shutil.rmtree(spool)
    zygote.close()
    assert "part" in kinds, kinds  # some kills landed mid-ingest


def _wait_gone(pid: int) -> None:
    """Until the killed child has released the database file (its zygote reaps it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.01)
