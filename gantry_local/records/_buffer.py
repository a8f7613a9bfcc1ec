"""A bounded, thread-safe buffer of log items and the thread that drains it into a sink.

Callers append under one uncontended lock (well under a microsecond); the flush
thread takes items in order, converts them to Arrow and hands them to a `Sink`.
Room is freed only once the sink has written a batch, so the buffer bounds the
memory held by unwritten records. Nothing is dropped: a failed write puts its
items back at the front and is retried; `flush()` reports the failure.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from ..errors import BufferFullError, StorageError
from ._batches import TableWrite, convert_items, item_size

__all__ = ["LogBuffer", "Sink"]


class Sink(Protocol):
    """Where flushed records go: DuckDB today, spooled Parquet segments later."""

    def write(self, writes: Sequence[TableWrite]) -> None:
        """Append every table atomically, or raise and append none."""
        ...


class LogBuffer:
    """Bounded FIFO of log items drained by a background flush thread.

    Args:
        sink: receives the converted tables.
        capacity: most records held in memory (queued or being written).
        put_timeout: seconds a caller waits for room before `BufferFullError`.
        batch_records: most records the flush thread writes in one batch.
        flush_interval: seconds the flush thread waits for a batch to fill up.
    """

    def __init__(
        self,
        sink: Sink,
        capacity: int,
        put_timeout: float,
        batch_records: int = 50_000,
        flush_interval: float = 0.1,
        discard: Callable[[object], bool] | None = None,
    ) -> None:
        self._sink = sink
        self.capacity = capacity
        self.put_timeout = put_timeout
        self.batch_records = max(1, min(batch_records, capacity))
        self._interval = flush_interval
        self._discard = discard
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._items: deque[object] = deque()
        self._held = 0
        self._queued_total = 0
        self._written_total = 0
        self._error: BaseException | None = None
        self._wake = threading.Event()
        self._stopping = False
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
            wake = self._held >= self.batch_records
        if wake:
            self._wake.set()

    def _wait_for_room(self, size: int) -> None:
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
        return self._held

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record queued before this call has been written.

        Raises:
            StorageError: the writes are failing (the records stay buffered and are retried),
                or `timeout` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target = self._queued_total
            while self._written_total < target:
                if self._error is not None:
                    raise StorageError(
                        f"{target - self._written_total:,} logged records could not be written "
                        f"yet: {self._error}. They stay buffered and are retried."
                    ) from self._error
                if not self._thread.is_alive():
                    raise StorageError("the flush thread has stopped; records cannot be written")
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

    def _take(self) -> tuple[list[object], int]:
        with self._lock:
            items: list[object] = []
            count = 0
            while self._items and count < self.batch_records:
                item = self._items.popleft()
                items.append(item)
                count += item_size(item)
            return items, count

    def _done(self, count: int) -> None:
        with self._lock:
            self._held -= count
            self._written_total += count
            self._error = None
            self._changed.notify_all()

    def _failed(self, items: list[object], exc: BaseException) -> None:
        with self._lock:
            self._items.extendleft(reversed(items))
            self._error = exc
            self._changed.notify_all()

    def _run(self) -> None:
        backoff = self._interval
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            while True:
                items, count = self._take()
                if not items:
                    break
                try:
                    kept = [i for i in items if self._discard is None or not self._discard(i)]
                    if kept:
                        self._sink.write(convert_items(kept))
                except Exception as exc:  # retried later; reported by flush()
                    self._failed(items, exc)
                    time.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                    break
                backoff = self._interval
                self._done(count)
            with self._lock:
                if self._stopping and (not self._items or self._error is not None):
                    return
