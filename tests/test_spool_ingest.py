"""Ingest of the spool: progress from the start, leftover temp files, and the failure classes
a review found (partial writes, transient reads, raw database errors, schema before commit)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import duckdb
import fsspec
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from fsspec.implementations.memory import MemoryFileSystem

import gantry_local as gantry
from gantry_local.records import _spool

from .conftest import S3_OPTIONS, make_bucket
from .test_spool import _good_segment, files, producer

DAY = "pending/records/application=model/date=2024-01-01"


@pytest.fixture
def owner(tmp_path: Path, clock: gantry.ManualClock) -> Iterator[gantry.Workspace]:
    workspace = gantry.Workspace(db=tmp_path / "g.duckdb", clock=clock, flush_interval=0.01)
    workspace.create_application("model")
    yield workspace
    workspace.close()


def test_progress_is_reported_from_the_start_and_per_segment(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        for part in range(5):  # five segments, one batch
            worker.log_records("model", inputs=[{"x": i} for i in range(10)], outputs=[part] * 10)
            worker.flush()
    calls: list[tuple[int, int, int]] = []
    result = owner.ingest(progress=lambda done, pending, rows: calls.append((done, pending, rows)))
    assert result.segments == 5
    assert calls[0] == (0, 5, 0)  # before anything is read
    assert [c[0] for c in calls] == [0, 1, 2, 3, 4, 5]
    assert calls[-1] == (5, 5, 50)


def test_temp_files_of_producers_killed_mid_write_are_removed_once_stale(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    _good_segment(tmp_path, clock, "a")
    folder = tmp_path / "g-spool" / DAY
    old = folder / "w.0123-000000000007.parquet.1a2b3c4d.tmp"
    fresh = folder / "w.0123-000000000008.parquet.5e6f7a8b.tmp"
    old.write_bytes(b"half a segment")
    fresh.write_bytes(b"a segment being written")
    hour_ago = time.time() - 3600
    os.utime(old, (hour_ago, hour_ago))
    result = owner.ingest()
    assert (result.segments, result.temps_removed, result.quarantined) == (1, 1, [])
    assert not old.exists() and fresh.exists()  # a write in progress is left alone
    assert owner.ingest().temps_removed == 0
    assert files(tmp_path / "g-spool", "pending") == [
        f"records/application=model/date=2024-01-01/{fresh.name}"]


def test_temp_files_on_s3_are_removed_once_stale(s3_endpoint: str, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"s3://{make_bucket(s3_endpoint)}/spool"
    options = {**S3_OPTIONS, "endpoint_url": s3_endpoint}
    fs, _ = fsspec.core.url_to_fs(url, **options)
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, spool_options=options,
                                      producer_id="w")
    worker.log_record("model", inputs={"x": 1}, outputs=1)
    worker.close()
    temp = f"{url}/{DAY}/w.0123-000000000009.parquet.1a2b3c4d.tmp"
    fs.pipe_file(temp, b"left by another tool")
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url, spool_options=options) as host:
        result = host.ingest()
        assert (result.rows, result.temps_removed, result.quarantined) == (1, 0, [])
        assert fs.exists(temp)  # young: left alone
        monkeypatch.setattr(_spool, "STALE_TEMP_SECONDS", 0.0)
        assert host.ingest().temps_removed == 1
    fs.invalidate_cache()
    assert not fs.exists(temp)


def test_a_failing_ledger_is_a_storage_error_never_a_raw_duckdb_one(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    _good_segment(tmp_path, clock, "a")
    with owner.database.cursor() as con:
        con.execute("ALTER TABLE _gl_spool_segments RENAME TO _gl_spool_segments_away")
    with pytest.raises(gantry.StorageError, match=r"ingesting spool .*CatalogException"):
        owner.ingest()
    with owner.database.cursor() as con:
        con.execute("ALTER TABLE _gl_spool_segments_away RENAME TO _gl_spool_segments")
    assert owner.ingest().rows == 1  # nothing was lost meanwhile


def test_a_quarantine_the_ledger_refuses_is_a_storage_error(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    _good_segment(tmp_path, clock, "a")
    with owner.database.cursor() as con:  # the ledger reads, but takes no rows
        con.execute("ALTER TABLE _gl_spool_segments RENAME TO _gl_ledger_away")
        con.execute("CREATE VIEW _gl_spool_segments AS SELECT * FROM _gl_ledger_away")
    with pytest.raises(gantry.StorageError, match=r"ingesting spool "):
        owner.ingest()
    with owner.database.cursor() as con:
        con.execute("DROP VIEW _gl_spool_segments")
        con.execute("ALTER TABLE _gl_ledger_away RENAME TO _gl_spool_segments")
    assert owner.ingest().rows == 1  # it stayed pending, and was not quarantined


class FlakyFileSystem(MemoryFileSystem):
    """An in-memory store whose next `failures` reads of a segment fail the way S3 clients
    do on a bad moment (not an OSError)."""

    protocol = "flakyspool"
    store: dict[str, object] = {}  # noqa: RUF012  (fsspec's own layout)
    pseudo_dirs = [""]  # noqa: RUF012
    failures: list[Exception] = []  # noqa: RUF012

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(MemoryFileSystem._strip_protocol(path.removeprefix("flakyspool://")))

    def _open(self, path: str, mode: str = "rb", *args: object, **kwargs: object) -> object:
        if "r" in mode and path.endswith(".parquet") and FlakyFileSystem.failures:
            raise FlakyFileSystem.failures.pop()
        return super()._open(path, mode, *args, **kwargs)


@pytest.mark.parametrize("error", [
    ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}},
                "GetObject"),
    ReadTimeoutError(endpoint_url="http://127.0.0.1:1/spool"),
    RuntimeError("aiohttp: Server disconnected"),
], ids=["client error", "read timeout", "disconnected"])
def test_a_transient_read_error_leaves_the_segment_pending(tmp_path: Path,
                                                           error: Exception) -> None:
    fsspec.register_implementation("flakyspool", FlakyFileSystem, clobber=True)
    FlakyFileSystem.store.clear()
    url = "flakyspool://spool"
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, producer_id="w",
                                      flush_interval=3600)
    for x in range(2):
        worker.log_record("model", inputs={"x": x}, outputs=1)
        worker.flush()
    worker.close()
    FlakyFileSystem.failures[:] = [error]
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url) as host:
        first = host.ingest()
        assert (first.rows, first.quarantined) == (1, [])
        [(segment, message)] = first.deferred
        assert type(error).__name__ in message
        assert [s.name for s in _spool.Spool(url).segments()] == [segment]  # still pending
        second = host.ingest()
        assert (second.rows, second.deferred, second.quarantined) == (1, [], [])
        assert host.query("model").count() == 2


def test_a_rolled_back_ingest_leaves_the_live_schema_as_it_was(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        worker.log_record("model", inputs={"flag": "yes"}, outputs={"y": 1})
    before = {k: dict(v) for k, v in owner._app_state("model").schema.columns.items()}
    real = owner._sink.write

    def failing(writes: object, also: object = None) -> None:
        def broken(con: duckdb.DuckDBPyConnection) -> None:
            raise duckdb.IOException("disk went away")
        real(writes, also=broken)  # type: ignore[arg-type]

    monkeypatch.setattr(owner._sink, "write", failing)
    with pytest.raises(gantry.StorageError, match="disk went away"):
        owner.ingest()
    monkeypatch.undo()
    assert owner._app_state("model").schema.columns == before
    # the owner's own records are judged by what the database holds, not by the rolled-back rows
    owner.log_record("model", inputs={"flag": 1.5}, outputs={"y": 2})
    owner.flush()  # ingests too: the segment now clashes with the owner's column
    assert owner.query("model").to_polars()["inputs.flag"].to_list() == [1.5]
    assert len(files(tmp_path / "g-spool", "quarantine")) == 1


def test_segments_of_one_batch_add_their_columns_together(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        worker.log_record("model", inputs={"a": 1}, outputs={"y": 1})
        worker.flush()
        worker.log_record("model", inputs={"b": "x"}, outputs={"y": 2.5})
    assert owner.ingest().rows == 2
    frame = owner.query("model").to_polars().sort("outputs.y")
    assert frame["inputs.a"].to_list() == [1, None] and frame["inputs.b"].to_list() == [None, "x"]
    assert frame["outputs.y"].to_list() == [1.0, 2.5]
    columns = owner._app_state("model").schema.columns["records"]
    assert columns["inputs.a"] == "int" and columns["inputs.b"] == "str"


class HalfWriteFileSystem(MemoryFileSystem):
    """An in-memory store where, while `down` is set, every second segment written fails and
    so does removing anything: a write of two segments fails half-way and cannot clean up."""

    protocol = "halfwrite"
    store: dict[str, object] = {}  # noqa: RUF012  (fsspec's own layout)
    pseudo_dirs = [""]  # noqa: RUF012
    down: ClassVar[list[bool]] = [False]
    pipes: ClassVar[list[int]] = [0]

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(MemoryFileSystem._strip_protocol(path.removeprefix("halfwrite://")))

    def pipe_file(self, path: str, value: bytes, *args: object, **kwargs: object) -> None:
        if HalfWriteFileSystem.down[0]:
            HalfWriteFileSystem.pipes[0] += 1
            if HalfWriteFileSystem.pipes[0] % 2 == 0:
                raise TimeoutError("the spool went away")
        super().pipe_file(path, value, *args, **kwargs)

    def rm_file(self, path: str) -> None:
        if HalfWriteFileSystem.down[0]:
            raise TimeoutError("the spool went away")
        super().rm_file(path)


def test_a_write_that_failed_half_way_is_never_ingested_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fsspec.register_implementation("halfwrite", HalfWriteFileSystem, clobber=True)
    HalfWriteFileSystem.store.clear()
    url = "halfwrite://spool"
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, producer_id="w",
                                      flush_interval=3600)
    HalfWriteFileSystem.down[0] = True
    worker.log_records("model", inputs=[{"x": i} for i in range(3)], outputs=[1] * 3,
                       feedbacks=[{"label": i} for i in range(3)])
    with pytest.raises(gantry.StorageError):
        worker.flush(timeout=30)  # one part was written, the other failed
    HalfWriteFileSystem.down[0] = False
    worker.flush()  # the retry writes both parts again, under new names
    worker.close()
    pending = [s.name for s in _spool.Spool(url).segments()]
    assert len(pending) > 2  # the whole retry, and parts of failed tries that stayed
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url) as host:
        first = host.ingest()
        assert (first.rows, first.quarantined) == (6, [])  # each record once, each label once
        left = sorted(name for name, _ in first.deferred)  # waiting for the rest of their write
        assert len(left) == len(pending) - 2
        assert host.query("model").count() == 3
        monkeypatch.setattr(_spool, "STALE_TEMP_SECONDS", 0.0)
        later = host.ingest()  # it can never be whole: set aside, still not ingested
        assert later.rows == 0 and sorted(name for name, _ in later.quarantined) == sorted(left)
        frame = host.query("model").to_polars()
    assert frame.height == 3 and sorted(frame["feedback.label"].to_list()) == [0, 1, 2]


def test_the_parts_of_a_producer_killed_mid_write_are_ingested_once_stale(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        worker.log_records("model", inputs=[{"x": i} for i in range(3)], outputs=[1] * 3,
                           feedbacks=[{"label": i} for i in range(3)])
    spool = tmp_path / "g-spool"
    written = files(spool, "pending")
    assert len(written) == 2 and all(".0of2-" in n or ".1of2-" in n for n in written)
    feedback = next(n for n in written if n.startswith("feedback/"))
    (spool / "pending" / feedback).unlink()  # the kill came before that part was written
    first = owner.ingest()
    assert first.rows == 0 and len(first.deferred) == 1  # it may still be being written
    monkeypatch.setattr(_spool, "STALE_TEMP_SECONDS", 0.0)
    later = owner.ingest()  # nothing later from that writer: nothing retried these records
    assert (later.rows, later.quarantined) == (3, [])
    assert owner.query("model").count() == 3


class StuckMoveFileSystem(MemoryFileSystem):
    """An in-memory store that cannot move or delete files; its errors quote the full path
    (as s3fs does), login included."""

    protocol = "stuckspool"
    store: dict[str, object] = {}  # noqa: RUF012  (fsspec's own layout)
    pseudo_dirs = [""]  # noqa: RUF012

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(MemoryFileSystem._strip_protocol(path.removeprefix("stuckspool://")))

    def mv(self, path1: str, path2: str, *args: object, **kwargs: object) -> None:
        raise RuntimeError(f"cannot move {path1}")

    def rm_file(self, path: str) -> None:
        raise RuntimeError(f"cannot remove {path}")


def test_ingest_warnings_never_show_the_spool_login(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fsspec.register_implementation("stuckspool", StuckMoveFileSystem, clobber=True)
    StuckMoveFileSystem.store.clear()
    url = "stuckspool://user:s3cr3t@spool"
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, producer_id="w",
                                      flush_interval=3600)
    worker.log_record("model", inputs={"x": 1}, outputs=1)
    worker.close()
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url,
                          spool_retention=None) as host, caplog.at_level("WARNING"):
        assert host.ingest().rows == 1
    assert "could not move" in caplog.text and "s3cr3t" not in caplog.text


class NoInfoFileSystem(MemoryFileSystem):
    """An in-memory store whose file details (modification times) fail for write parts."""

    protocol = "noinfospool"
    store: dict[str, object] = {}  # noqa: RUF012  (fsspec's own layout)
    pseudo_dirs = [""]  # noqa: RUF012

    @classmethod
    def _strip_protocol(cls, path: str) -> str:
        return str(MemoryFileSystem._strip_protocol(path.removeprefix("noinfospool://")))

    def info(self, path: str, **kwargs: object) -> dict[str, object]:
        if "of2-" in path:
            raise RuntimeError("aiohttp: Server disconnected")
        return dict(super().info(path, **kwargs))


def test_a_part_whose_age_cannot_be_read_waits_without_holding_up_the_rest(
        tmp_path: Path) -> None:
    fsspec.register_implementation("noinfospool", NoInfoFileSystem, clobber=True)
    NoInfoFileSystem.store.clear()
    url = "noinfospool://spool"
    worker = gantry.ProducerWorkspace(db=":memory:", spool=url, producer_id="w",
                                      flush_interval=3600)
    worker.log_records("model", inputs=[{"x": 1}], outputs=[1], feedbacks=[{"label": 1}])
    worker.flush()
    worker.log_record("model", inputs={"x": 2}, outputs=2)
    worker.close()
    spool = _spool.Spool(url)
    [lost] = [s.name for s in spool.segments() if s.kind == "feedback"]
    spool.remove(_spool.PENDING, lost)  # the write is not whole: its other part must wait
    with gantry.Workspace(db=tmp_path / "h.duckdb", spool=url) as host:
        result = host.ingest()
        assert (result.rows, result.quarantined) == (1, [])
        assert [name for name, _ in result.deferred] == [
            s.name for s in spool.segments() if s.parts == 2]


@pytest.mark.parametrize("when", [0, 2], ids=["before any read", "before the commit"])
def test_two_ingesters_of_one_file_in_one_process_ingest_each_segment_once(
        owner: gantry.Workspace, tmp_path: Path, clock: gantry.ManualClock, when: int) -> None:
    with producer(tmp_path, clock, "web-a") as worker:
        for part in range(3):
            worker.log_records("model", inputs=[{"x": i} for i in range(4)], outputs=[part] * 4)
            worker.flush()
    other = gantry.Workspace(db=tmp_path / "g.duckdb", clock=clock)  # e.g. a scheduler's tick

    def meanwhile(done: int, pending: int, rows: int) -> None:
        if done == when:  # the other one takes everything first
            assert other.ingest().rows == 12

    try:
        result = owner.ingest(progress=meanwhile)
    finally:
        other.close()
    assert (result.rows, result.quarantined) == (0, [])
    assert owner.query("model").count() == 12
    assert files(tmp_path / "g-spool", "quarantine") == []
