"""Fault injection into the flush thread: a record a log call accepted never makes a later
record fail. What fails (a batch the database refuses, a schema change it refuses, the
database itself) is isolated, reported once, and every other record lands."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import duckdb
import pytest

import gantry_local as gantry
from gantry_local.records._batches import TableWrite
from gantry_local.records._isolation import Sink


class FaultySink:
    """A test double at the `Sink` seam: the real sink, but `fails(write)` raises first."""

    def __init__(self, inner: Sink, fails: Callable[[TableWrite], BaseException | None]) -> None:
        self.inner = inner
        self.fails = fails
        self.calls = 0

    def write(self, writes: Sequence[TableWrite]) -> None:
        self.calls += 1
        for write in writes:
            error = self.fails(write)
            if error is not None:
                raise error
        self.inner.write(writes)


def inject(ws: gantry.Workspace, fails: Callable[[TableWrite], BaseException | None]
           ) -> FaultySink:
    sink = FaultySink(ws._buffer._sink, fails)
    ws._buffer._sink = sink
    return sink


@pytest.fixture
def two_apps(ws: gantry.Workspace) -> Iterator[tuple[gantry.Application, gantry.Application]]:
    yield ws.create_application("a"), ws.create_application("b")


def keys_of(app: gantry.Application) -> set[str]:
    return set(app.query(all_time=True).to_polars()["__join_key"])


def test_a_batch_the_database_refuses_loses_only_its_bad_rows(
        ws: gantry.Workspace, two_apps: tuple[gantry.Application, gantry.Application]) -> None:
    a, b = two_apps
    inject(ws, lambda w: duckdb.ConversionException("refused: poison")
           if "poison" in w.table.column("__join_key").to_pylist() else None)
    for i in range(300):
        a.log_record(inputs={"i": i}, outputs=i, join_key="poison" if i == 150 else f"a{i}")
        b.log_record(inputs={"i": i}, outputs=i, feedback={"ok": True}, join_key=f"b{i}")
    a.log_records(inputs=[{"i": i} for i in range(50)], outputs=list(range(50)),
                  join_keys=[f"batch{i}" for i in range(50)])
    with pytest.raises(gantry.StorageError, match=r"1 logged rows .*refused.*'poison'.*Every other"):
        ws.flush()
    ws.flush()  # reported once
    assert keys_of(a) == {f"a{i}" for i in range(300) if i != 150} | {f"batch{i}" for i in range(50)}
    assert keys_of(b) == {f"b{i}" for i in range(300)}
    assert b.query(all_time=True).to_polars()["feedback.ok"].to_list() == [True] * 300
    for i in range(10):  # and everything logged after it
        a.log_record(inputs={"i": i}, outputs=i, join_key=f"later{i}")
    assert len(keys_of(a)) == 299 + 50 + 10


def test_a_schema_change_the_database_refuses_holds_up_only_its_rows(
        ws: gantry.Workspace, two_apps: tuple[gantry.Application, gantry.Application]) -> None:
    a, b = two_apps
    a.log_record(inputs={"i": 0}, outputs=0, join_key="first")
    ws.flush()
    inject(ws, lambda w: duckdb.CatalogException("ALTER refused")
           if "inputs.doomed" in w.table.column_names else None)
    for i in range(200):
        inputs = {"i": i, "doomed": 1.5} if i % 50 == 7 else {"i": i}
        a.log_record(inputs=inputs, outputs=i, join_key=f"a{i}")
        b.log_record(inputs={"i": i}, outputs=i, join_key=f"b{i}")
    with pytest.raises(gantry.StorageError, match=r"4 logged rows .*refused.*ALTER refused"):
        ws.flush()
    assert keys_of(a) == {"first"} | {f"a{i}" for i in range(200) if i % 50 != 7}
    assert keys_of(b) == {f"b{i}" for i in range(200)}
    a.log_record(inputs={"i": 1}, outputs=1, join_key="after")
    ws.flush()
    assert "after" in keys_of(a)


def test_a_failing_database_keeps_everything_and_reports_a_fresh_error(
        ws: gantry.Workspace, app: gantry.Application) -> None:
    broken = [True]
    sink = inject(ws, lambda w: duckdb.IOException("Could not write file: No space left on "
                                                   "device") if broken[0] else None)
    keys = [app.log_record(inputs={"i": i}, outputs=i) for i in range(100)]
    with pytest.raises(gantry.StorageError, match=r"100 logged records could not be written yet: "
                                                  r"the disk is full.*retried"):
        ws.flush()
    calls = sink.calls
    with pytest.raises(gantry.StorageError, match="disk is full"):
        ws.flush()
    assert sink.calls > calls  # a new try, not the stale error
    broken[0] = False
    ws.flush()  # succeeds at once: the error is not repeated once a write succeeds
    assert keys_of(app) == set(keys)


def test_a_table_failing_everywhere_is_kept_and_costs_a_bounded_search(
        ws: gantry.Workspace, two_apps: tuple[gantry.Application, gantry.Application]) -> None:
    a, b = two_apps
    broken = [True]
    sink = inject(ws, lambda w: duckdb.CatalogException("table a is gone")
                  if w.app == "a" and broken[0] else None)
    a.log_records(inputs=[{"i": i} for i in range(5_000)], outputs=list(range(5_000)))
    b.log_records(inputs=[{"i": i} for i in range(5_000)], outputs=list(range(5_000)))
    written_b = 0
    for _ in range(5):  # each flush() is one more try; b's batch may join a later one
        with pytest.raises(gantry.StorageError, match=r"could not be written yet: table a is "
                                                      "gone"):
            ws.flush()
        with ws.database.cursor() as con:  # (a query would flush first, and report a's failure again)
            written_b = con.execute('SELECT count(*) FROM "records_b"').fetchall()[0][0]
        if written_b == 5_000:
            break
    assert written_b == 5_000  # the other application is written meanwhile
    assert sink.calls < 5 * 600  # not a search of every row (2 x 5,000 tries a pass)
    broken[0] = False
    ws.flush()  # nothing was dropped: once the table works, all of it lands
    assert a.query(all_time=True).count() == 5_000


def test_a_failure_that_goes_away_during_the_search_drops_nothing(
        ws: gantry.Workspace, two_apps: tuple[gantry.Application, gantry.Application]) -> None:
    """Rows that failed alone while the table was failing are tried again once rows of it
    were written: a transient failure (gone mid-search) must not leave them out."""
    a, b = two_apps
    calls = [0]

    def transient(write: TableWrite) -> BaseException | None:
        calls[0] += 1
        return duckdb.CatalogException("table a is busy") if write.app == "a" and \
            calls[0] <= 60 else None

    inject(ws, transient)
    a.log_records(inputs=[{"i": i} for i in range(5_000)], outputs=list(range(5_000)))
    b.log_records(inputs=[{"i": i} for i in range(10)], outputs=list(range(10)))
    ws.flush()  # nothing reported: nothing was left out
    assert calls[0] > 60  # the failure did go away during the search
    assert a.query(all_time=True).count() == 5_000 and b.query(all_time=True).count() == 10


def test_the_flush_thread_survives_anything(ws: gantry.Workspace, app: gantry.Application
                                            ) -> None:
    fired = [False]

    def once(write: TableWrite) -> BaseException | None:
        if fired[0]:
            return None
        fired[0] = True
        return SystemExit("unexpected")  # not even an Exception

    inject(ws, once)
    app.log_record(inputs={"i": 1}, outputs=1)
    with pytest.raises(gantry.StorageError, match="could not be written yet: unexpected"):
        ws.flush()  # reported by the flush during which it happened
    ws.flush()
    assert ws._buffer._thread.is_alive() and app.query(all_time=True).count() == 1


@pytest.mark.parametrize("interval", [math.inf, 1e300, math.nan, 0, -1, 0.0, 3601, "1", True])
def test_flush_interval_out_of_range_is_refused(tmp_path: Path, interval: object) -> None:
    with pytest.raises(gantry.ValidationError, match="flush_interval must be a number of seconds"):
        gantry.Workspace(db=tmp_path / "f.duckdb", flush_interval=interval)  # type: ignore[arg-type]
    assert not (tmp_path / "f.duckdb").exists()


@pytest.mark.parametrize("timeout", [math.inf, math.nan, 0, 1e300])
def test_buffer_timeout_out_of_range_is_refused(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(gantry.ValidationError, match="buffer_timeout must be"):
        gantry.Workspace(db=tmp_path / "f.duckdb", buffer_timeout=timeout)


DISK_FULL = textwrap.dedent("""
    import os, resource, sys
    import gantry_local as gantry
    db = sys.argv[1]
    ws = gantry.Workspace(db=db, flush_interval=0.05)
    app = ws.create_application("d")
    app.log_record(inputs={"i": -1, "s": "x"}, outputs=0)
    ws.flush()
    resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(db) + 200_000,
                                               resource.RLIM_INFINITY))
    for i in range(20_000):
        app.log_record(inputs={"i": i, "s": "y" * 50}, outputs=i)
    try:
        ws.flush(timeout=20)
        print("flushed")
    except gantry.StorageError as exc:
        print("error:", exc)
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    ws.flush(timeout=20)  # space is back: the next write succeeds, no stale error
    print("count:", app.query().count())
    ws.close()
""")


def test_disk_full_names_the_cause_loses_nothing_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "full.duckdb"
    out = subprocess.run([sys.executable, "-c", DISK_FULL, str(db)], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert re.search(r"error: [\d,]+ logged records could not be written yet: the disk is full "
                     r"or a file-size limit was reached", out.stdout), out.stdout
    assert "File too large" in out.stdout and "ROLLBACK" not in out.stdout
    assert "count: 20001" in out.stdout
    with gantry.Workspace(db=db) as ws:
        assert ws.query("d").count() == 20_001
