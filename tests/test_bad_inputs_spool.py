"""Bad input to the producer and spool entry points: a clear error, nothing stored."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry
from gantry_local._producer import ProducerWorkspace


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# (id, call(folder), exception, message regex)
OPENING: list[tuple[str, Callable[[Path], Any], type[Exception], str]] = [
    ("spool not a string", lambda d: gantry.Workspace(db=d / "g.duckdb", spool=123),  # type: ignore[arg-type]
     gantry.ValidationError, "spool must be a folder path or an fsspec URL"),
    ("spool empty", lambda d: gantry.Workspace(db=d / "g.duckdb", spool=" "),
     gantry.ValidationError, "spool must be a folder path"),
    ("spool with NUL", lambda d: gantry.Workspace(db=d / "g.duckdb", spool="a\x00b"),
     gantry.ValidationError, "spool must be a folder path"),
    ("spool options not a dict", lambda d: gantry.Workspace(db=d / "g.duckdb", spool_options=[1]),  # type: ignore[arg-type]
     gantry.ValidationError, "spool_options must be a dict"),
    ("retention negative", lambda d: gantry.Workspace(db=d / "g.duckdb",
                                                      spool_retention=timedelta(seconds=-1)),
     gantry.ValidationError, "spool_retention must be a timedelta of 0 or more"),
    ("retention a number", lambda d: gantry.Workspace(db=d / "g.duckdb", spool_retention=5),  # type: ignore[arg-type]
     gantry.ValidationError, "spool_retention must be a timedelta"),
    ("producer id with a slash", lambda d: ProducerWorkspace(db=d / "g.duckdb", producer_id="a/b"),
     gantry.ValidationError, "producer identity must be 1 to 100 letters"),
    ("producer id empty", lambda d: ProducerWorkspace(db=d / "g.duckdb", producer_id=""),
     gantry.ValidationError, "producer identity"),
    ("producer id too long", lambda d: ProducerWorkspace(db=d / "g.duckdb", producer_id="x" * 101),
     gantry.ValidationError, "producer identity"),
    ("producer id a number", lambda d: ProducerWorkspace(db=d / "g.duckdb", producer_id=7),  # type: ignore[arg-type]
     gantry.ValidationError, "producer identity"),
    ("producer of an in-memory db", lambda d: ProducerWorkspace(db=":memory:"),
     gantry.ValidationError, "a producer needs a spool"),
    ("producer flag not a bool", lambda d: gantry.init(db=d / "g.duckdb", producer="yes"),
     gantry.ValidationError, "producer must be True or False"),
    ("producer id without producer", lambda d: gantry.init(db=d / "g.duckdb", producer_id="w"),
     gantry.ValidationError, "pass producer=True"),
    ("producer flush interval", lambda d: ProducerWorkspace(db=d / "g.duckdb", flush_interval=0),
     gantry.ValidationError, "flush_interval"),
    ("unreachable S3 spool", lambda d: ProducerWorkspace(
        db=d / "g.duckdb", spool="s3://gone/spool",
        spool_options={"endpoint_url": f"http://127.0.0.1:{_closed_port()}", "key": "k",
                       "secret": "s"}),
     gantry.StorageError, r"spool 's3://gone/spool' is unreachable"),
    ("unwritable local spool", lambda d: ProducerWorkspace(db=d / "g.duckdb",
                                                           spool=str(d / "file" / "spool")),
     gantry.StorageError, "is unreachable"),
    ("unknown fsspec protocol", lambda d: ProducerWorkspace(db=d / "g.duckdb",
                                                            spool="nosuchproto://x"),
     gantry.ValidationError, "cannot be opened"),
]


@pytest.mark.parametrize(("call", "error", "message"), [c[1:] for c in OPENING],
                         ids=[c[0] for c in OPENING])
def test_opening_refuses_bad_input_and_creates_nothing(
        tmp_path: Path, call: Callable[[Path], Any], error: type[Exception], message: str) -> None:
    (tmp_path / "file").write_text("a file where a folder should be")
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(error, match=message):
        call(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.fixture
def worker(tmp_path: Path) -> ProducerWorkspace:
    producer = ProducerWorkspace(db=tmp_path / "g.duckdb", producer_id="w")
    yield producer  # type: ignore[misc]
    producer.close()


PRODUCER_CALLS: list[tuple[str, Callable[[ProducerWorkspace], Any], type[Exception], str]] = [
    ("bad application name", lambda w: w.log_record("a/b", inputs={"x": 1}, outputs=1),
     gantry.ValidationError, "application name 'a/b' is not allowed"),
    ("application not a name", lambda w: w.log_record(3, inputs={"x": 1}, outputs=1),  # type: ignore[arg-type]
     gantry.ValidationError, "application name must be a string"),
    ("bad application type", lambda w: w.create_application("m", application_type="Nope"),
     gantry.ValidationError, "application_type must be one of"),
    ("a query", lambda w: w.query("m"), gantry.StorageError, "this process is a producer"),
    ("an ingest", lambda w: w.ingest(), gantry.StorageError, "this process is a producer"),
    ("datasets", lambda w: w.list_datasets(), gantry.StorageError, "this process is a producer"),
    ("delete an application", lambda w: w.delete_application("m"), gantry.StorageError,
     "this process is a producer"),
    ("a field clash in one process", lambda w: (w.log_record("m", inputs={"x": 1}, outputs=1),
                                                w.log_record("m", inputs={"x": "s"}, outputs=1)),
     gantry.ValidationError, "'inputs.x' was logged as int"),
]


@pytest.mark.parametrize(("call", "error", "message"), [c[1:] for c in PRODUCER_CALLS],
                         ids=[c[0] for c in PRODUCER_CALLS])
def test_a_producer_refuses_bad_calls_and_spools_nothing_of_them(
        worker: ProducerWorkspace, tmp_path: Path, call: Callable[[ProducerWorkspace], Any],
        error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call(worker)
    worker.flush()
    pending = tmp_path / "g-spool" / "pending"
    rows = sum(1 for _ in pending.rglob("*.parquet")) if pending.exists() else 0
    expected = 1 if "clash" in message or "logged as" in message else 0  # the first, legal call
    assert rows == expected


def test_ingest_refuses_a_progress_that_is_not_callable(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "g.duckdb") as ws, \
            pytest.raises(gantry.ValidationError, match="progress must be a callable"):
        ws.ingest(progress=5)  # type: ignore[arg-type]


def test_a_closed_producer_says_so(worker: ProducerWorkspace) -> None:
    worker.close()
    with pytest.raises(gantry.StorageError, match="closed"):
        worker.log_record("m", inputs={"x": 1}, outputs=1)
