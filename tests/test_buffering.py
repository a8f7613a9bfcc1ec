"""The log buffer: many threads, flush semantics, bounded memory, failures never drop records."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local.records._batches import RowSlot, TableWrite
from gantry_local.records._buffer import LogBuffer


def test_eight_threads_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    per_thread, threads = 20_000, 8
    with gantry.Workspace(db=tmp_path / "t.duckdb", buffer_size=20_000) as ws:
        app = ws.create_application("m")
        keys: list[list[str]] = [[] for _ in range(threads)]
        go = threading.Event()

        def worker(n: int) -> None:
            go.wait()
            for i in range(per_thread):
                keys[n].append(app.log_record(inputs={"thread": n, "i": i}, outputs=i * 0.5))

        workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for w in workers:
            w.start()
        go.set()
        for w in workers:
            w.join()
        flusher = threading.Thread(target=ws.flush)  # flush() from another thread waits too
        flusher.start()
        flusher.join()
        with ws.database.cursor() as con:
            total, distinct, pairs = con.execute(
                'SELECT count(*), count(DISTINCT "__join_key"), '
                'count(DISTINCT ("inputs.thread", "inputs.i")) FROM "records_m"').fetchall()[0]
        assert total == distinct == pairs == per_thread * threads
        all_keys = [k for ks in keys for k in ks]
        assert len(set(all_keys)) == len(all_keys) == total


def test_flush_waits_for_concurrent_writers(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "f.duckdb") as ws:
        app = ws.create_application("m")
        done = threading.Event()

        def writer() -> None:
            app.log_records(inputs=[{"i": i} for i in range(50_000)], outputs=[0] * 50_000)
            done.set()

        thread = threading.Thread(target=writer)
        thread.start()
        done.wait()
        ws.flush()
        assert ws.pending_records == 0
        with ws.database.cursor() as con:
            assert con.execute('SELECT count(*) FROM "records_m"').fetchall()[0][0] == 50_000
        thread.join()


class _GatedSink:
    """A sink that blocks until released, or fails a given number of times first."""

    def __init__(self, failures: int = 0) -> None:
        self.gate = threading.Event()
        self.failures = failures
        self.written: list[int] = []

    def write(self, writes: Sequence[TableWrite]) -> None:
        self.gate.wait()
        if self.failures:
            self.failures -= 1
            raise OSError("disk on fire")
        for write in writes:
            self.written.extend(write.table.column("inputs.i").to_pylist())


class _State:
    def __init__(self) -> None:
        from gantry_local.records._schema import AppSchema

        self.name = "m"
        self.uid = 1
        self.deleted = False
        self.schema = AppSchema({"inputs.i": "int"}, {})


def _put(buffer: LogBuffer, slot: RowSlot, i: int) -> None:
    """Log record `i` as `log_record` does: its flat values into the slot of its layout."""
    buffer.put_row(slot, (0, f"k{i}", None, None, i))


def test_full_buffer_waits_then_raises_and_never_grows() -> None:
    sink = _GatedSink()  # the database "hangs" until the gate opens
    state = _State()
    slot = RowSlot(state, ("i",), ())
    buffer = LogBuffer(sink, capacity=10, put_timeout=0.2, flush_interval=0.01, write_rows=5,
                       resolve=lambda uid: state)
    accepted = 0
    with pytest.raises(gantry.BufferFullError, match="buffer_size or buffer_timeout"):
        for i in range(100):
            started = time.monotonic()
            _put(buffer, slot, i)
            accepted += 1
    assert time.monotonic() - started >= 0.2
    # at most `capacity` queued plus two writes' worth converted and staged
    assert 10 <= accepted <= 10 + 2 * 5
    assert buffer.pending == accepted
    sink.gate.set()
    _put(buffer, slot, 1000)  # room again once the sink drains
    buffer.flush(timeout=5)
    assert sink.written == [*range(accepted), 1000]
    buffer.close()


def test_frames_wait_with_the_staged_tables_not_for_python_room() -> None:
    """A frame's chunks are Arrow already: bounded by two writes' worth, staged included,
    not by `capacity` (Python objects); the bound holds while the database hangs."""
    import pyarrow as pa

    from gantry_local.records._batches import ArrowBatch

    sink = _GatedSink()
    state = _State()
    buffer = LogBuffer(sink, capacity=10, put_timeout=0.2, flush_interval=0.01, write_rows=50,
                       resolve=lambda uid: state)
    accepted = 0
    with pytest.raises(gantry.BufferFullError, match="already Arrow"):
        for start in range(0, 2_000, 20):  # chunks twice the Python capacity
            chunk = pa.table({"inputs.i": pa.array(range(start, start + 20), pa.int64())})
            buffer.put(ArrowBatch(state, chunk, None), 20)
            accepted += 20
    assert 50 <= accepted <= 2 * 50
    slot = RowSlot(state, ("i",), ())
    _put(buffer, slot, 5_000)  # single records still have their own room
    sink.gate.set()
    buffer.flush(timeout=5)
    assert sink.written == [*range(accepted), 5_000]
    buffer.close()


def test_failed_writes_are_retried_in_order_and_reported() -> None:
    sink = _GatedSink(failures=2)
    sink.gate.set()
    state = _State()
    slot = RowSlot(state, ("i",), ())
    buffer = LogBuffer(sink, capacity=100, put_timeout=1, flush_interval=0.01, write_rows=7,
                       resolve=lambda uid: state)
    for i in range(20):
        _put(buffer, slot, i)
    with pytest.raises(gantry.StorageError, match="disk on fire"):
        buffer.flush(timeout=5)
    deadline = time.monotonic() + 10
    while buffer.pending and time.monotonic() < deadline:
        time.sleep(0.02)
    buffer.flush(timeout=5)
    assert sink.written == list(range(20))
    buffer.close()


def test_big_batch_is_chunked_through_a_small_buffer(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "c.duckdb", buffer_size=1_000) as ws:
        app = ws.create_application("m")
        app.log_records(inputs=[{"i": i} for i in range(25_000)], outputs=[1] * 25_000)
        assert app.query(all_time=True).count() == 25_000
        assert ws.pending_records == 0


def test_big_frame_goes_through_a_small_buffer(tmp_path: Path) -> None:
    import polars as pl

    with gantry.Workspace(db=tmp_path / "c.duckdb", buffer_size=1_000) as ws:
        app = ws.create_application("m")
        frame = pl.DataFrame({"i": range(300_000)})
        keys = app.log_records(inputs=frame, outputs=pl.DataFrame({"o": [1] * 300_000}))[1]
        stored = app.query(all_time=True).to_polars().sort("inputs.i")
        assert stored["inputs.i"].to_list() == list(range(300_000))
        assert stored["__join_key"].to_list() == keys and len(set(keys)) == 300_000
        assert ws.pending_records == 0


def test_exit_flushes_buffered_records(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "exit.duckdb"
    script = (
        "import gantry_local as g\n"
        f"ws = g.Workspace(db={str(db)!r}, flush_interval=60)\n"
        "app = ws.create_application('m')\n"
        "for i in range(1000):\n"
        "    app.log_record(inputs={'i': i}, outputs=i)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    with gantry.Workspace(db=db) as ws:
        assert ws.query("m").count() == 1000


def test_records_that_cannot_be_converted_are_left_out_loudly(tmp_path: Path) -> None:
    """A lone surrogate passes the type checks but not UTF-8: it must not hold up the rest."""
    with gantry.Workspace(db=tmp_path / "s.duckdb") as ws:
        app = ws.create_application("m")
        for i in range(1000):  # one slot chunk with two bad records in it
            app.log_record(inputs={"s": "\ud800" if i in (10, 700) else f"r{i}"}, outputs=i)
        with pytest.raises(gantry.ValidationError, match="lone surrogate"):  # batches: refused
            app.log_records(inputs=[{"s": "ok"}, {"s": "\udc80"}, {"s": "fine"}], outputs=[1, 2, 3])
        app.log_records(inputs=[{"s": "ok"}, {"s": "fine"}], outputs=[1, 3])
        with pytest.raises(gantry.StorageError, match=r"2 logged records .*left out.*surrogates"):
            ws.flush()
        ws.flush()  # said once
        assert ws.pending_records == 0
        values = app.query(all_time=True).to_polars()["inputs.s"].to_list()
        assert len(values) == 1000 - 2 + 2
        assert "r9" in values and "r11" in values and "r999" in values and "fine" in values
        app.log_record(inputs={"s": "after"}, outputs=1)  # the buffer keeps flowing
        assert app.query(all_time=True).count() == 1001
