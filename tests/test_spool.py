"""Producers log into a spool of Parquet segments; the owner ingests them exactly once."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gantry_local as gantry
from gantry_local._producer import ProducerWorkspace
from gantry_local.automations.curators import UniformCurator
from gantry_local.records import _spool

from .conftest import START


@pytest.fixture
def owner(tmp_path: Path, clock: gantry.ManualClock) -> Iterator[gantry.Workspace]:
    workspace = gantry.Workspace(db=tmp_path / "g.duckdb", clock=clock, flush_interval=0.01)
    workspace.create_application("model")
    yield workspace
    workspace.close()


def producer(tmp_path: Path, clock: gantry.ManualClock, name: str) -> ProducerWorkspace:
    return ProducerWorkspace(db=tmp_path / "g.duckdb", clock=clock, producer_id=name,
                             flush_interval=0.01)


def files(root: Path, state: str) -> list[str]:
    base = root / state
    return sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) \
        if base.exists() else []


def keys_of(ws: gantry.Workspace) -> list[str]:
    return ws.query("model").to_polars()["__join_key"].to_list()


def test_two_producers_reach_the_database_exactly_once(owner: gantry.Workspace, tmp_path: Path,
                                                       clock: gantry.ManualClock) -> None:
    a, b = producer(tmp_path, clock, "web-a"), producer(tmp_path, clock, "web-b")
    sent = [a.log_record("model", inputs={"x": i}, outputs={"y": 1.0}) for i in range(300)]
    sent += [b.log_record("model", inputs={"x": i}, outputs={"y": 2.0}) for i in range(200)]
    a.close()
    b.close()
    spool = tmp_path / "g-spool"
    names = files(spool, "pending")
    assert names and all("/application=model/date=2024-01-01/web-" in n for n in names)
    assert any(re.search(r"/web-a\.[0-9a-f]{18}-000000000001\.parquet$", n) for n in names)
    result = owner.ingest()
    assert (result.segments, result.rows, result.quarantined) == (len(names), 500, [])
    assert sorted(keys_of(owner)) == sorted(sent)
    assert owner.ingest().segments == 0  # nothing twice
    assert files(spool, "pending") == [] and files(spool, "ingested") == names
    with owner.database.cursor() as con:
        ledger = con.execute("SELECT count(*), sum(rows) FROM _gl_spool_segments "
                             "WHERE status = 'ingested'").fetchall()
    assert ledger == [(len(names), 500)]


def test_a_query_in_the_owner_ingests_first(owner: gantry.Workspace, tmp_path: Path,
                                            clock: gantry.ManualClock) -> None:
    with producer(tmp_path, clock, "w1") as worker:
        worker.log_records("model", inputs=[{"x": i} for i in range(10)], outputs=[0] * 10)
        worker.flush()
        assert owner.query("model").count() == 10


def test_feedback_from_one_worker_joins_predictions_from_another(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    a, b = producer(tmp_path, clock, "a"), producer(tmp_path, clock, "b")
    keys = [a.log_record("model", inputs={"x": i}, outputs={"y": i}) for i in range(20)]
    a.flush()
    b.log_records("model", feedbacks=[{"label": i % 2} for i in range(10)], join_keys=keys[:10])
    b.flush()
    frame = owner.query("model").to_polars().sort("inputs.x")
    assert frame["feedback.label"].to_list() == [i % 2 for i in range(10)] + [None] * 10
    a.close()
    b.close()


def test_schema_evolves_by_the_logging_rules_and_a_clash_is_quarantined(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    a, b, c = (producer(tmp_path, clock, n) for n in ("a", "b", "c"))
    a.log_record("model", inputs={"x": 1}, outputs={"y": 1})
    a.flush()
    b.log_record("model", inputs={"x": 2.5, "z": "new"}, outputs={"y": 2})
    b.flush()
    c.log_record("model", inputs={"x": "text"}, outputs={"y": 3})
    c.flush()
    a.log_record("model", inputs={"x": 4}, outputs={"y": 4})  # after the clash: still ingested
    a.flush()
    result = owner.ingest()
    assert result.rows == 3 and len(result.quarantined) == 1
    name, error = result.quarantined[0]
    assert "/c." in name and "'inputs.x' was logged as" in error and "float" in error
    frame = owner.query("model").to_polars().sort("outputs.y")
    assert frame["inputs.x"].to_list() == [1.0, 2.5, 4.0]
    assert frame["inputs.z"].to_list() == [None, "new", None]
    assert frame.schema["inputs.x"] == pl.Float64
    assert files(tmp_path / "g-spool", "quarantine") == [name]
    assert "quarantined" in caplog.text
    with owner.database.cursor() as con:
        [(status, stored_error)] = con.execute(
            "SELECT status, error FROM _gl_spool_segments WHERE segment = ?", [name]).fetchall()
    assert status == "quarantined" and stored_error == error
    for w in (a, b, c):
        w.close()


def test_a_producer_id_reused_after_a_restart_loses_nothing(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    """The same id in a restarted worker (or shared by workers) never reuses a segment name:
    its records are neither skipped as already ingested nor overwritten while pending."""
    sent = []
    for _ in range(2):
        with producer(tmp_path, clock, "web") as worker:
            sent.append(worker.log_record("model", inputs={"x": 1}, outputs={"y": 1.0}))
        owner.ingest()
    with producer(tmp_path, clock, "web") as first, producer(tmp_path, clock, "web") as second:
        sent += [first.log_record("model", inputs={"x": 2}, outputs={"y": 1.0}),
                 second.log_record("model", inputs={"x": 3}, outputs={"y": 1.0})]
    owner.ingest()
    assert sorted(keys_of(owner)) == sorted(sent)


def test_a_segment_for_an_archived_application_is_quarantined_not_blocking(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    owner.create_application("old")
    owner.archive_application("old")
    with producer(tmp_path, clock, "w") as worker:
        worker.log_record("old", inputs={"x": 1}, outputs={"y": 1.0})
        key = worker.log_record("model", inputs={"x": 1}, outputs={"y": 1.0})
    result = owner.ingest()
    [(name, error)] = result.quarantined
    assert "application=old" in name and "cannot take records" in error
    assert keys_of(owner) == [key]
    assert owner.ingest().quarantined == []


def _good_segment(tmp_path: Path, clock: gantry.ManualClock, name: str) -> None:
    with producer(tmp_path, clock, name) as worker:
        worker.log_record("model", inputs={"x": 1}, outputs={"y": 1})


@pytest.mark.parametrize("damage", ["truncated", "corrupt", "foreign", "not parquet", "stray name"])
def test_a_bad_segment_is_quarantined_and_never_blocks_later_ones(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock, damage: str) -> None:
    _good_segment(tmp_path, clock, "a")
    pending = tmp_path / "g-spool" / "pending" / "records" / "application=model" / "date=2024-01-01"
    [good] = list(pending.iterdir())
    name = "bad-000000000001.parquet" if damage != "stray name" else "notes.txt"
    data = good.read_bytes()
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "corrupt":
        data = data[:8] + bytes(len(data) - 16) + data[-8:]
    elif damage == "foreign":
        sink = pa.BufferOutputStream()
        pq.write_table(pa.table({"a": [1, 2]}), sink)
        data = bytes(sink.getvalue())
    elif damage == "not parquet":
        data = b"hello"
    (pending / name).write_bytes(data)
    _good_segment(tmp_path, clock, "z")  # written after the bad one
    result = owner.ingest()
    assert result.rows == 2 and result.segments == 2
    [(quarantined, error)] = result.quarantined
    assert quarantined.endswith(name)
    expected = {"truncated": "truncated or corrupt", "corrupt": "truncated or corrupt",
                "foreign": "foreign schema", "not parquet": "truncated or corrupt",
                "stray name": "not a segment name"}[damage]
    assert expected in error
    assert files(tmp_path / "g-spool", "pending") == []
    assert owner.ingest().quarantined == []  # said once


def test_a_crash_after_the_commit_neither_loses_nor_doubles(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _good_segment(tmp_path, clock, "a")
    monkeypatch.setattr(_spool.Spool, "move", _raise)  # the commit lands, the move fails
    assert owner.ingest().rows == 1
    assert len(files(tmp_path / "g-spool", "pending")) == 1
    monkeypatch.undo()
    assert owner.ingest().rows == 0  # the ledger knows it: moved, not ingested again
    assert owner.query("model").count() == 1
    assert files(tmp_path / "g-spool", "pending") == []


def test_a_failing_transaction_ingests_nothing_and_the_next_try_everything(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    _good_segment(tmp_path, clock, "a")
    _good_segment(tmp_path, clock, "b")
    real = owner._sink.write

    def failing(writes: object, also: object = None) -> None:
        def broken(con: duckdb.DuckDBPyConnection) -> None:
            raise duckdb.IOException("disk went away")
        real(writes, also=broken)  # type: ignore[arg-type]

    monkeypatch.setattr(owner._sink, "write", failing)
    with pytest.raises(gantry.StorageError, match=r"disk went away.*stay pending"):
        owner.ingest()
    monkeypatch.undo()
    assert owner._sink.write == real
    result = owner.ingest()
    assert (result.segments, result.rows) == (2, 2)
    assert owner.query("model").count() == 2


def test_ingested_segments_are_removed_after_the_retention(
        tmp_path: Path, clock: gantry.ManualClock) -> None:
    with gantry.Workspace(db=tmp_path / "g.duckdb", clock=clock,
                          spool_retention=timedelta(hours=1)) as ws:
        _good_segment(tmp_path, clock, "a")
        assert ws.ingest().removed == 0
        assert len(files(tmp_path / "g-spool", "ingested")) == 1
        clock.advance(timedelta(hours=1))
        assert ws.ingest().removed == 1
        assert files(tmp_path / "g-spool", "ingested") == []
        assert ws.query("model").count() == 1


def test_a_segment_after_its_interval_was_curated_is_counted_not_recurated(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    owner.log_records("model", inputs=[{"x": i} for i in range(5)], outputs=[0] * 5,
                      timestamps=[START + timedelta(hours=i) for i in range(5)])
    curator = UniformCurator("daily", "model", limit=100, start_on=START).create(workspace=owner)
    clock.set(START + timedelta(days=1))
    [run] = gantry.Scheduler(owner).run_pending()
    assert run.rows_selected == 5
    with producer(tmp_path, clock, "late") as worker:
        worker.log_record("model", inputs={"x": 9}, outputs=0, timestamp=START + timedelta(hours=6))
    result = owner.ingest()
    assert (result.rows, result.late_rows) == (1, 1)
    assert gantry.Scheduler(owner).run_pending() == []
    assert curator.get_curated_dataset().read().height == 5
    assert owner.query("model").count() == 6


def test_the_scheduler_ingests_on_each_tick(owner: gantry.Workspace, tmp_path: Path,
                                            clock: gantry.ManualClock) -> None:
    _good_segment(tmp_path, clock, "a")
    gantry.Scheduler(owner).run_pending()
    assert files(tmp_path / "g-spool", "pending") == []


def test_a_producer_never_opens_the_database(tmp_path: Path, clock: gantry.ManualClock) -> None:
    db = tmp_path / "held.duckdb"
    with gantry.Workspace(db=db, clock=clock):  # the owner holds the file
        worker = gantry.init(db=db, producer=True, producer_id="w1", clock=clock)
        assert isinstance(worker, ProducerWorkspace) and worker.producer_id == "w1"
        app = gantry.create_application("model")
        app.log_record(inputs={"x": 1}, outputs={"y": 2})
        gantry.flush()
        for call in (lambda: app.query(all_time=True).count(), lambda: gantry.list_datasets(),
                     lambda: worker.ingest(), lambda: gantry.delete_application("model")):
            with pytest.raises(gantry.StorageError, match="this process is a producer"):
                call()
        worker.close()


def test_an_unreachable_spool_fails_fast_naming_it() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(gantry.StorageError, match=r"spool 's3://nowhere/spool' is unreachable"):
        ProducerWorkspace(db=":memory:", spool="s3://nowhere/spool", spool_options={
            "endpoint_url": f"http://127.0.0.1:{port}", "key": "k", "secret": "s"})
    assert time.monotonic() - started < 10  # one try (s3fs's retries take far longer); loaded CI


def test_the_logs_are_readable_by_duckdb_and_polars(owner: gantry.Workspace, tmp_path: Path,
                                                    clock: gantry.ManualClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    a = producer(tmp_path, clock, "a")
    a.log_records("model", inputs=[{"x": i} for i in range(7)], outputs=[0] * 7)
    a.close()
    owner.ingest()
    b = producer(tmp_path, clock, "b")
    b.log_records("model", inputs=[{"x": i} for i in range(3)], outputs=[0] * 3)
    b.close()  # pending, not yet ingested
    spool = tmp_path / "g-spool"
    monkeypatch.chdir(tmp_path)
    by_duckdb = duckdb.sql("SELECT application, date, count(*) AS n FROM read_parquet("
                           "'g-spool/*/records/*/*/*.parquet', hive_partitioning = true, "
                           "union_by_name = true) GROUP BY ALL").fetchall()
    assert by_duckdb == [("model", START.date(), 10)]
    frame = pl.scan_parquet(f"{spool}/ingested/records/**/*.parquet", hive_partitioning=True
                            ).collect()
    assert frame.height == 7 and frame["application"].unique().to_list() == ["model"]


def _raise(*args: object, **kwargs: object) -> None:
    raise OSError("the move failed")


def test_of_two_workers_feedback_for_one_key_the_later_wins(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    a, z = producer(tmp_path, clock, "a"), producer(tmp_path, clock, "z")
    key = a.log_record("model", inputs={"x": 1}, outputs=1)
    z.log_record("model", feedback={"label": "first"}, join_key=key,
                 timestamp=START + timedelta(minutes=1))
    a.log_record("model", feedback={"label": "second"}, join_key=key,
                 timestamp=START + timedelta(minutes=2))
    a.close()
    z.close()
    assert owner.query("model").to_polars()["feedback.label"].to_list() == ["second"]
