"""A bounded, thread-safe buffer of log items and the thread that drains it into a sink.

Callers append under one uncontended lock (well under a microsecond); the flush
thread takes items in order, converts them to Arrow and hands them to a `Sink`.
Room is freed only once the sink has written a batch, so the buffer bounds the
memory held by unwritten records.

Whatever fails in the flush thread is isolated to the records that caused it: a
record that cannot be converted to Arrow, or rows the database refuses, are found by
halving, left out, logged and reported once by the next `flush()`; every other record
is written. A failure of the database itself (a full disk, an I/O error) keeps every
record buffered and retries; `flush()` reports it until a write succeeds again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..errors import BufferFullError, StorageError
from ._batches import (
    ArrowBatch,
    RowSlot,
    TableWrite,
    convert_apart,
    convert_items,
    item_size,
    merge_writes,
)
from ._isolation import Sink, Unwritten, describe, write_isolated

__all__ = ["LogBuffer", "Sink"]

_log = logging.getLogger("gantry_local")
_MAX_BACKOFF = 5.0


class LogBuffer:
    """Bounded FIFO of log items drained by a background flush thread.

    The thread converts queued items to Arrow in small chunks (freeing their room
    at once, since Arrow is about ten times smaller than Python dicts) and writes
    the staged tables in one transaction when two DuckDB row groups' worth has
    gathered, when the oldest of them was logged a quarter `flush_interval` ago, or
    when `flush()` asks. Big appends are what make DuckDB fast (a 10k-row append
    costs about four times what a 250k-row one does per row, in checkpoints); the
    age limit keeps what a crash can lose to about one `flush_interval` at any rate.
    Frames arrive as Arrow already (`ArrowBatch`, cut into chunks of `arrow_chunk`
    records, one row group): they wait with the staged tables, at most two writes' worth
    together, instead of taking room meant for Python objects.

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
        self._held = 0  # records queued as Python objects
        self._arrow_held = 0  # records of frames queued, already Arrow
        self.arrow_chunk = max(1, write_rows // 2)  # one DuckDB row group by default
        self._queued_total = 0
        self._written_total = 0
        self._flush_wanted = False
        self._flush_target = 0  # the records flush() waits for: big writes resume once written
        self._error: BaseException | None = None
        self._attempts = 0  # writes tried (or nothing to write) so far: flush() waits for one
        # records left out (unconvertible, or refused by the database), until flush() says so
        self._dropped = 0
        self._dropped_message = ""
        self._wake = threading.Event()
        self._stopping = False
        self._queued_since = 0.0  # when the oldest queued item was logged (about)
        self._staged: list[TableWrite] = []
        self._staged_count = 0
        self._staged_since = 0.0
        self._thread = threading.Thread(target=self._run, name="gantry-local-flush", daemon=True)
        self._thread.start()

    def put(self, item: object, size: int = 1) -> None:
        """Queue `item` (holding `size` records), waiting up to `put_timeout` for room."""
        arrow = type(item) is ArrowBatch
        with self._lock:
            if self._stopping:
                raise StorageError("the workspace is closed; open a new one to log more records")
            if not self._has_room(size, arrow):
                self._wait_for_room(size, arrow)
            if not self._items:
                self._queued_since = time.monotonic()
            self._items.append(item)
            if arrow:
                self._arrow_held += size
            else:
                self._held += size
            self._queued_total += size
            wake = self._held + self._arrow_held >= self._convert_records
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
                if not self._items:
                    self._queued_since = time.monotonic()
                self._items.append(slot)
            if feedback is not None:
                self._items.append(feedback)
            self._held += size
            self._queued_total += size
            if self._held >= self._convert_records and not self._wake.is_set():
                self._wake.set()

    def _has_room(self, size: int, arrow: bool = False) -> bool:
        """Whether `size` more records fit (lock held): Python objects within `capacity`;
        Arrow records of frames within two writes' worth together with the staged ones
        (a chunk bigger than that goes alone)."""
        if not arrow:
            return self._held + size <= self.capacity
        waiting = self._arrow_held + self._staged_count
        return not waiting or waiting + size <= 2 * self._write_rows

    def _wait_for_room(self, size: int, arrow: bool = False) -> None:
        if self._stopping:
            raise StorageError("the workspace is closed; open a new one to log more records")
        deadline = time.monotonic() + self.put_timeout
        self._wake.set()
        while not self._has_room(size, arrow):
            if self._stopping:
                raise StorageError("the workspace is closed; reopen it to log more records")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._full(arrow)
            self._changed.wait(remaining)

    def _full(self, arrow: bool) -> BufferFullError:
        cause = f" The last write failed: {self._error}" if self._error else ""
        if arrow:
            return BufferFullError(
                f"the log buffer stayed full ({self._arrow_held + self._staged_count:,} records "
                f"of frames, already Arrow, waiting for their write; at most "
                f"{2 * self._write_rows:,}) for {self.put_timeout:g}s: the database is not "
                f"keeping up.{cause} Raise buffer_timeout on the Workspace, or log less often."
            )
        return BufferFullError(
            f"the log buffer stayed full ({self._held:,} of {self.capacity:,} records) for "
            f"{self.put_timeout:g}s: the database is not keeping up.{cause} Raise "
            "buffer_size or buffer_timeout on the Workspace, or log less often."
        )

    @property
    def pending(self) -> int:
        """Records logged but not yet written."""
        return self._queued_total - self._written_total

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record queued before this call has been written.

        A failing database gets one more try first, so an error is never stale: it is
        reported only if a write tried after this call began failed too.

        Raises:
            StorageError: the writes are failing (the records stay buffered and are retried),
                `timeout` seconds passed first, or records logged since the last flush were
                left out (once, after the others were written; the message says why).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            target, attempts = self._queued_total, self._attempts
            while self._written_total < target or self._dropped:
                if self._dropped and self._written_total >= target:
                    message = self._dropped_message
                    self._dropped, self._dropped_message = 0, ""
                    raise StorageError(message)
                if self._error is not None and self._attempts > attempts:
                    raise StorageError(
                        f"{target - self._written_total:,} logged records could not be written "
                        f"yet: {describe(self._error)}. They stay buffered and are retried."
                    ) from self._error
                if not self._thread.is_alive():
                    raise StorageError("the flush thread has stopped; records cannot be written")
                self._flush_wanted = True
                self._flush_target = max(self._flush_target, target)
                self._wake.set()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    cause = f" (the last write failed: {describe(self._error)})" \
                        if self._error is not None else ""
                    raise StorageError(f"flush() timed out after {timeout}s{cause}")
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
        """The flush thread: it never dies while the buffer is open. Anything unexpected is
        logged and reported by `flush()`, and the thread retries after a pause."""
        first = backoff = min(self._interval, _MAX_BACKOFF)
        while True:
            try:
                if self._cycle():
                    return
                backoff = first
            except BaseException as exc:  # the thread must survive anything
                if not isinstance(exc, Unwritten):
                    _log.exception("gantry-local flush thread: unexpected error, retrying")
                self._failed(exc.cause if isinstance(exc, Unwritten) else exc)
                self._wake.wait(backoff)  # flush() cuts the pause short
                backoff = min(backoff * 2, _MAX_BACKOFF)

    def _cycle(self) -> bool:
        """One pass: convert, write what is due; True once closing and nothing is left."""
        woken = self._wake.wait(self._interval / 4)
        self._wake.clear()
        with self._lock:
            if self._stopping and self._error is not None:
                return True  # closing while the database fails: flush() has said so
            wanted = self._flush_wanted
        self._convert_queued(everything=not woken or wanted or self._stopping)
        if self._staged_count and self._write_due():
            self._write_staged()
        elif not self._staged_count:
            self._settle_attempt()
        with self._lock:
            return self._stopping and not self._items and not self._staged_count

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._error = exc
            self._attempts += 1
            self._changed.notify_all()

    def _settle_attempt(self) -> None:
        """A pass that left nothing unwritten: no error stands."""
        with self._lock:
            self._error = None
            self._attempts += 1
            self._changed.notify_all()

    def _convert_queued(self, everything: bool) -> None:
        """Turn queued items into staged Arrow tables until the queue or the stage is full,
        writing whenever a write is due.

        Unless `everything` is due (a timer tick, a flush, closing), only whole chunks are
        converted: a few records at a time would cost more in fixed overhead than in rows.
        """
        while self._staged_count < 2 * self._write_rows:
            with self._lock:
                if not everything and self._held + self._arrow_held < self._convert_records:
                    return
                items: list[object] = []
                count = arrow = 0
                since = self._queued_since
                while self._items and count < self._convert_records:
                    item = self._items.popleft()
                    if type(item) is RowSlot:
                        item = self._take(item, self._convert_records - count)
                    items.append(item)
                    size = item_size(item)
                    count += size
                    if type(item) is ArrowBatch:
                        arrow += size
                if self._items:  # what is left was logged before now, after `since`
                    self._queued_since = time.monotonic()
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
                self._report_dropped(dropped, _unconvertible(dropped, cause))
            if not self._staged_count:
                self._staged_since = since
            self._staged.extend(converted)
            with self._lock:
                self._held -= count - arrow
                self._arrow_held -= arrow
                self._staged_count += count - dropped
                self._written_total += dropped  # settled: flush() reports them
                self._changed.notify_all()
            if self._staged_count >= self._write_rows or self._too_old():
                self._write_staged()

    def _report_dropped(self, count: int, message: str) -> None:
        _log.error(message)
        with self._lock:
            self._dropped += count
            self._dropped_message = self._dropped_message or message

    def _take(self, slot: RowSlot, most: int) -> object:
        """Records out of a queued slot (lock held); a slot with more left stays queued."""
        chunk = slot.take(most)
        if slot.values:
            self._items.append(slot)
        else:
            slot.queued = False
        return chunk

    def _too_old(self) -> bool:
        return bool(self._staged_count) and \
            time.monotonic() - self._staged_since >= self._interval / 4

    def _write_due(self) -> bool:
        return (self._flush_wanted or self._stopping or self._staged_count >= self._write_rows
                or self._too_old())

    def _write_staged(self) -> None:
        """Write the staged tables, leaving out only rows the database refuses; a failure of
        the database itself keeps what was not written staged (raised as `Unwritten`)."""
        staged, count = self._staged, self._staged_count
        outcome = None
        if staged:
            try:
                outcome = write_isolated(self._sink, merge_writes(staged))
            except Unwritten as exc:
                self._staged = exc.remaining
                raise
        if outcome is not None and outcome.dropped:
            self._report_dropped(outcome.dropped, _refused(outcome.dropped, outcome.cause,
                                                           outcome.keys))
        if outcome is not None and outcome.unresolved:  # failing everywhere: kept, retried
            _log.error("gantry-local: %d logged rows keep failing to be written and are kept "
                       "for a later try: %r", sum(w.table.num_rows for w in outcome.unresolved),
                       outcome.cause)
            self._staged = outcome.unresolved
            raise Unwritten(outcome.unresolved, outcome.cause or RuntimeError("write failed"))
        with self._lock:
            self._staged, self._staged_count = [], 0
            self._written_total += count
            self._error = None
            self._attempts += 1
            if self._written_total >= self._flush_target:
                self._flush_wanted = False
            self._changed.notify_all()


def _unconvertible(count: int, cause: BaseException | None) -> str:
    return (f"{count:,} logged records could not be converted for storage and were left out: "
            f"{cause!r}. Log only the value types the README lists (strings must be valid "
            "Unicode, ints must fit 64 bits).")


def _refused(count: int, cause: BaseException | None, keys: list[str]) -> str:
    return (f"{count:,} logged rows were refused by the database and left out (join keys "
            f"{', '.join(map(repr, keys))}{', ...' if count > len(keys) else ''}): {cause!r}. "
            "Every other record was written.")
