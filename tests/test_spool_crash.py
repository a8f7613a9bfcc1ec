"""SIGKILL of a producer under load and of the ingesting process mid-ingest: what a producer
loses stays within its unwritten buffer (about one flush_interval), and after a restart every
spooled record is in the database exactly once.

The producer's bound is its flush thread's schedule, which the README says a CPU-starved
process can overrun: each kill allows, on top of one flush_interval, the time the child's
threads waited for a CPU while it logged, read from the kernel (tests/_sigkill.py; a few
milliseconds on an idle machine). Every child is forked from one zygote (no start-up)."""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local._producer import ProducerWorkspace

from ._sigkill import FLUSH_INTERVAL, Zygote, kill, kill_while_logging


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    forks = Zygote()
    yield forks
    forks.close()


@pytest.mark.slow
def test_sigkill_of_a_producer_loses_at_most_its_unwritten_buffer(
        tmp_path: Path, zygote: Zygote) -> None:
    random.seed(13)
    lags = []
    for trial in range(6):
        db = tmp_path / f"p{trial}.duckdb"
        killed = kill_while_logging(zygote, db, random.uniform(0.3, 1.2), producer=True)
        with gantry.Workspace(db=db) as owner:
            owner.ingest()
            with owner.database.cursor() as con:
                rows, top, distinct = con.execute(
                    'SELECT count(*), max("inputs.seq"), count(DISTINCT "inputs.seq") '
                    'FROM "records_k"').fetchall()[0]
        assert rows == distinct == top + 2, (trial, rows, top, distinct)  # a prefix, no duplicate
        lags.append((round(killed.lag(top), 3), round(killed.starved, 3)))
    assert all(lag < FLUSH_INTERVAL + starved for lag, starved in lags), sorted(lags)


SEGMENTS, PER_SEGMENT = 30, 400  # 60 files: 9 transactions of 7, each followed by its moves


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A spool of 30 segments (12,000 records and 1,500 feedback rows) from three producers."""
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
    zygote.start("ingest", tmp_path / "c.duckdb", spool)
    started = time.monotonic()
    assert zygote.readline().startswith("done")
    return time.monotonic() - started


@pytest.mark.slow
def test_sigkill_of_the_ingesting_process_neither_loses_nor_duplicates(
        tmp_path: Path, template: Path, zygote: Zygote) -> None:
    random.seed(17)
    kinds = set()
    duration = _full_ingest_seconds(zygote, tmp_path, template)  # kill inside it, whatever the load
    early, late = 0.0, duration  # the kill window narrows onto the ingest as trials show it
    for trial in range(20):
        db, spool = tmp_path / f"i{trial}.duckdb", tmp_path / f"s{trial}"
        shutil.copytree(template, spool)
        pid = zygote.start("ingest", db, spool)
        wait = random.uniform(early, late)
        time.sleep(wait)
        kill(pid)  # it may have finished first
        ingested = len(list((spool / "ingested").rglob("*.parquet"))) \
            if (spool / "ingested").exists() else 0
        kind = "none" if ingested == 0 else "all" if ingested == 2 * SEGMENTS else "part"
        kinds.add(kind)
        if kind == "none":  # killed before its first commit: later kills start from here
            early = min(wait, late)
        elif kind == "all":  # it had finished: kill earlier (a loaded start-up shifts it later)
            late = max(wait, early)
        if late - early < 0.01:  # the load changed under us: widen again
            early, late = 0.0, 2 * duration
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
    assert "part" in kinds, kinds  # some kills landed mid-ingest

