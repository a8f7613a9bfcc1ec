"""A bounded, thread-safe buffer of log items and the thread that drains it into a sink.

Callers append under one uncontended lock (well under a microsecond); the flush
thread takes items in order, converts them to Arrow and hands them to a `Sink`.
Room is freed only once the sink has written a batch, so the buffer bounds the
memory held by unwritten records. A failed write puts its items back at the front
and is retried; `flush()` reports the failure. The one exception: a record that
cannot be converted to Arrow at all would fail forever, so it is left out, logged,
and reported by the next `flush()`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..errors import BufferFullError, StorageError
from ._batches import (
    RowSlot,
    TableWrite,
    convert_apart,
    convert_items,
    item_size,
    merge_writes,
)

__all__ = ["LogBuffer", "Sink"]

_log = logging.getLogger("gantry_local")


class Sink(Protocol):
    """Where flushed records go: DuckDB today, spooled Parquet segments later."""

    def write(self, writes: Sequence[TableWrite]) -> None:
        """Append every table atomically, or raise and append none."""
        ...


class LogBuffer:
    """Bounded FIFO of log items drained by a background flush thread.

    The thread converts queued items to Arrow in small chunks (freeing their room
    at once, since Arrow is about ten times smaller than Python dicts) and writes
    the staged tables in one transaction when two DuckDB row groups' worth has
    gathered, when the oldest staged record is `flush_interval` old, or when
    `flush()` asks. Big appends are what make DuckDB fast (a 10k-row append costs
    about four times what a 250k-row one does per row, in checkpoints).

    Args:
        sink: receives the converted tables.
        capacity: most records held as Python objects before callers wait.
        put_timeout: seconds a caller waits for room before `BufferFullError`.
        flush_interval: most seconds a record waits before it is written.
        write_rows: staged rows that trigger a write (two DuckDB row groups).
        resolve: maps an application id in a buffered record to its live state, or None
            when the application was deleted (its records are then dropped).
    """

    def __init__(
        self,
        sink: Sink,
        capacity: int,
        put_timeout: float,
        flush_interval: float = 1.0,
        write_rows: int = 245_760,
        resolve: Callable[[int], Any] = lambda uid: None,
    ) -> None:
        self._sink = sink
        self._resolve = resolve
        self.capacity = capacity
        self.put_timeout = put_timeout
        self._interval = flush_interval
        self._write_rows = write_rows
        self._convert_records = max(1, min(20_000, capacity // 2))
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._items: deque[object] = deque()
        self._held = 0
        self._queued_total = 0
        self._written_total = 0
        self._flush_wanted = False
        self._error: BaseException | None = None
        # records that could not be converted, until flush() says so
        self._dropped = 0
        self._dropped_cause: Exception | None = None
        self._wake = threading.Event()
        self._stopping = False
        self._staged: list[TableWrite] = []
        self._staged_count = 0
        self._staged_since = 0.0
        self._thread = threading.Thread(target=self._run, name="gantry-local-flush", daemon=True)
        self._thread.start()

    def put(self, item: object, size: int = 1) -> None:
        """Queue `item` (holding `size` records), waiting up to `put_timeout` for room."""
        with self._lock:
            if self._stopping:
                raise StorageError("the workspace is closed; open a new one to log more records")
            if self._held + size > self.capacity:
                self._wait_for_room(size)
            self._items.append(item)
            self._held += size
            self._queued_total += size
            wake = self._held >= self._convert_records
        if wake and not self._wake.is_set():
            self._wake.set()

    def put_row(self, slot: RowSlot, row: tuple[Any, ...], feedback: object = None) -> None:
        """Add one record's flat values to `slot` (and queue `feedback` with it, if any).

        The slot joins the queue when it gets its first record; the flush thread takes
        everything gathered in it by then, so a busy slot costs the queue one entry.
        """
        size = 1 if feedback is None else 2
        with self._lock:
            if self._held + size > self.capacity or self._stopping:
                self._wait_for_room(size)
            slot.values += row
            if not slot.queued:
                slot.queued = True
                self._items.append(slot)
            if feedback is not None:
                self._items.append(feedback)
            self._held += size
            self._queued_total += size
            if self._held >= self._convert_records and not self._wake.is_set():
                self._wake.set()

    def _wait_for_room(self, size: int) -> None:
        if self._stopping:
            raise StorageError("the workspace is closed; open a new one to log more records")
        deadline = time.monotonic() + self.put_timeout
        self._wake.set()
        while self._held + size > self.capacity:
            if self._stopping:
                raise StorageError("the workspace is closed; reopen it to log more records")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                cause = f" The last write failed: {self._error}" if self._error else ""
                raise BufferFullError(
                    f"the log buffer stayed full ({self._held:,} of {self.capacity:,} records) for "
                    f"{self.put_timeout:g}s: the database is not keeping up.{cause} Raise "
                    "buffer_size or buffer_timeout on the Workspace, or log less often."
                )
            self._changed.wait(remaining)

    @property
    def pending(self) -> int:
        """Records logged but not yet written."""
        return self._queued_total - self._written_total

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record queued before this call has been written.

        Raises:
            StorageError: the writes are failing (the records stay buffered and are retried),
                `timeout` seconds passed first, or records logged since the last flush could
                not be converted for storage (once, after the others were written).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._queued_total
            while self._written_total < target or self._dropped:
                if self._dropped and self._written_total >= target:
                    message = _dropped_message(self._dropped, self._dropped_cause)
                    self._dropped, self._dropped_cause = 0, None
                    raise StorageError(message)
                if self._error is not None:
                    raise StorageError(
                        f"{target - self._written_total:,} logged records could not be written "
                        f"yet: {self._error}. They stay buffered and are retried."
                    ) from self._error
                if not self._thread.is_alive():
                    raise StorageError("the flush thread has stopped; records cannot be written")
                self._flush_wanted = True
                self._wake.set()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise StorageError(f"flush() timed out after {timeout}s")
                self._changed.wait(0.05 if remaining is None else min(remaining, 0.05))

    def close(self, timeout: float | None = None) -> None:
        """Write everything, then stop the flush thread."""
        try:
            self.flush(timeout)
        finally:
            with self._lock:
                self._stopping = True
                self._changed.notify_all()
            self._wake.set()
            self._thread.join(timeout=5)

    # -- the flush thread ---------------------------------------------------------------------

    def _run(self) -> None:
        backoff = self._interval
        while True:
            woken = self._wake.wait(self._interval / 4)
            self._wake.clear()
            try:
                self._convert_queued(everything=not woken or self._flush_wanted or self._stopping)
                if self._staged_count and self._write_due():
                    self._write_staged()
                backoff = self._interval
            except Exception as exc:  # retried later; reported by flush() and BufferFullError
                with self._lock:
                    self._error = exc
                    self._changed.notify_all()
                time.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
            with self._lock:
                if self._stopping and ((not self._items and not self._staged_count)
                                       or self._error is not None):
                    return

    def _convert_queued(self, everything: bool) -> None:
        """Turn queued items into staged Arrow tables until the queue or the stage is full.

        Unless `everything` is due (a timer tick, a flush, closing), only whole chunks are
        converted: a few records at a time would cost more in fixed overhead than in rows.
        """
        while self._staged_count < 2 * self._write_rows:
            with self._lock:
                if not everything and self._held < self._convert_records:
                    return
                items: list[object] = []
                count = 0
                while self._items and count < self._convert_records:
                    item = self._items.popleft()
                    if type(item) is RowSlot:
                        item = self._take(item, self._convert_records - count)
                    items.append(item)
                    count += item_size(item)
            if not items:
                return
            dropped = 0
            try:
                try:
                    converted = convert_items(items, self._resolve)
                except Exception:
                    converted, dropped, cause = convert_apart(items, self._resolve)
            except BaseException:
                with self._lock:
                    self._items.extendleft(reversed(items))
                raise
            if dropped:
                self._report_dropped(dropped, cause)
            if not self._staged_count:
                self._staged_since = time.monotonic()
            self._staged.extend(converted)
            with self._lock:
                self._held -= count
                self._staged_count += count - dropped
                self._written_total += dropped  # settled: flush() reports them
                self._changed.notify_all()
            if self._staged_count >= self._write_rows:
                self._write_staged()

    def _report_dropped(self, count: int, cause: Exception | None) -> None:
        _log.error(_dropped_message(count, cause))
        with self._lock:
            self._dropped += count
            self._dropped_cause = self._dropped_cause or cause

    def _take(self, slot: RowSlot, most: int) -> object:
        """Records out of a queued slot (lock held); a slot with more left stays queued."""
        chunk = slot.take(most)
        if slot.values:
            self._items.append(slot)
        else:
            slot.queued = False
        return chunk

    def _write_due(self) -> bool:
        return (self._flush_wanted or self._stopping or self._staged_count >= self._write_rows
                or time.monotonic() - self._staged_since >= self._interval)

    def _write_staged(self) -> None:
        staged, count = self._staged, self._staged_count
        if staged:
            self._sink.write(merge_writes(staged))
        with self._lock:
            self._staged, self._staged_count = [], 0
            self._written_total += count
            self._error = None
            if self._written_total >= self._queued_total:
                self._flush_wanted = False
            self._changed.notify_all()


def _dropped_message(count: int, cause: Exception | None) -> str:
    return (f"{count:,} logged records could not be converted for storage and were left out: "
            f"{cause!r}. Log only the value types the README lists (strings must be valid "
            "Unicode, ints must fit 64 bits).")
