"""Writing with failures isolated: records that make a write fail are found and left out.

A write can fail because of the database (a full disk, an I/O error: retry it all
later) or because of the records in it (a value or a column the database refuses,
which would fail forever and hold up every record behind it). The second kind is
found by writing each table alone, then without the columns its rows leave empty, then
halves, down to single rows; every part that can be written is, and only the rows that
fail alone, while other rows of their table can be written, and fail again when tried once
more after them (a transient failure gone mid-search drops nothing), are left out. The search of
one table is bounded: a table failing everywhere is kept whole and retried later, never
searched row by row nor dropped (a write whose rows all fail is kept the same way, until it
is retried beside rows that can be written).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from ._batches import TableWrite

__all__ = ["Isolated", "Sink", "Unwritten", "describe", "is_environmental", "write_isolated"]

# Errors of the database or its file, never of the records written: everything is kept.
_ENVIRONMENTAL = (
    OSError, MemoryError, duckdb.IOException, duckdb.OutOfMemoryException,
    duckdb.TransactionException, duckdb.FatalException, duckdb.InternalException,
    duckdb.ConnectionException, duckdb.InterruptException, duckdb.PermissionException,
)
_FULL = ("File too large", "No space left", "Disk quota exceeded", "disk is full")
_MAX_KEYS = 5
# Failed tries spent searching one table per write: about ten bad rows among 245,760 (each
# costs two tries per halving); a table failing everywhere stops there and is retried later.
_MAX_FAILURES = 256


class Sink(Protocol):
    """Where flushed records go: the DuckDB file today, spooled Parquet segments later."""

    def write(self, writes: Sequence[TableWrite]) -> None:
        """Append every table atomically, or raise and append none."""
        ...


def is_environmental(exc: BaseException) -> bool:
    """True for a failure of the database or its storage rather than of the records."""
    return isinstance(exc, _ENVIRONMENTAL)


def describe(exc: BaseException) -> str:
    """`exc` as a sentence for the user, naming a full disk or file-size limit plainly."""
    text = str(exc) or type(exc).__name__
    if any(marker in text for marker in _FULL):
        return (f"the disk is full or a file-size limit was reached ({text}); free space or "
                "raise the limit")
    return text


@dataclass
class Isolated:
    """What a write left out: the rows that failed alone (how many, some of their join keys,
    the first error), and the parts of tables failing too often to search (kept)."""

    bad: list[TableWrite] = field(default_factory=list)
    unresolved: list[TableWrite] = field(default_factory=list)
    dropped: int = 0
    cause: BaseException | None = None
    keys: list[str] = field(default_factory=list)


class Unwritten(Exception):  # a signal to the buffer, not a user-facing error
    """The sink failed on its own account: `remaining` are the writes not made yet."""

    def __init__(self, remaining: list[TableWrite], cause: BaseException) -> None:
        super().__init__(describe(cause))
        self.remaining = remaining
        self.cause = cause


def write_isolated(sink: Sink, writes: list[TableWrite]) -> Isolated:
    """Write `writes` in one transaction; if the records make that fail, write all but the
    rows that fail alone (in the original order, so later feedback still wins).

    Each table is searched on its own, with at most `_MAX_FAILURES` failed tries: a table
    failing beyond that (every row of it, say) is `Isolated.unresolved`, kept for a later
    try, while the other tables are written.

    Raises:
        Unwritten: the database failed (`is_environmental`): nothing was left out, and the
            writes not made yet are kept in it.
    """
    try:
        sink.write(writes)
        return Isolated()
    except Exception as exc:
        if is_environmental(exc):
            raise Unwritten(writes, exc) from exc
        first = exc
    outcome = Isolated()
    for index, write in enumerate(writes):
        try:
            bad, unresolved, cause = _isolate(sink, write)
        except Unwritten as exc:  # keep all not written, the rows found bad included
            exc.remaining = [*outcome.bad, *outcome.unresolved, *exc.remaining,
                             *writes[index + 1:]]
            raise
        outcome.bad += bad
        outcome.unresolved += unresolved
        outcome.cause = outcome.cause or cause
    outcome.cause = outcome.cause or first
    outcome.dropped = sum(w.table.num_rows for w in outcome.bad)
    keys = [str(key) for w in outcome.bad for key in w.table.column("__join_key").to_pylist()]
    outcome.keys = keys[:_MAX_KEYS]
    return outcome


def _isolate(sink: Sink, write: TableWrite
             ) -> tuple[list[TableWrite], list[TableWrite], BaseException | None]:
    """One table's rows that fail alone, the parts left unsearched, and the first error."""
    bad: list[TableWrite] = []
    cause: BaseException | None = None
    failures = 0
    written = False
    stack = [write]
    while stack:
        part = stack.pop()
        try:
            sink.write([part])
            written = True
            continue
        except Exception as exc:
            if is_environmental(exc):
                raise Unwritten([*bad, part, *reversed(stack)], exc) from exc
            failures += 1
            cause = cause or exc
            halves = _halves(part)
            if halves is None:
                bad.append(part)
            elif failures >= _MAX_FAILURES:  # failing everywhere: suspect the table, keep all
                return [], [*bad, part, *reversed(stack)], cause
            else:
                stack.extend(reversed(halves))
    if not written:  # no row of the table could be written: suspect the table, keep all
        return [], bad, cause
    return _confirmed(sink, bad), [], cause


def _confirmed(sink: Sink, bad: list[TableWrite]) -> list[TableWrite]:
    """The rows of `bad` that still fail, tried once more now that rows of their table were
    written: a failure that went away during the search (a transient one) drops nothing."""
    still: list[TableWrite] = []
    for index, part in enumerate(bad):
        try:
            sink.write([part])
        except Exception as exc:
            if is_environmental(exc):
                raise Unwritten([*still, *bad[index:]], exc) from exc
            still.append(part)
    return still


def _halves(part: TableWrite) -> list[TableWrite] | None:
    """Smaller parts of one table's write: without the columns none of its rows has a value
    for, else halves of its rows; None for a single row."""
    rows = part.table.num_rows
    pruned = part.rows(0, rows)
    if pruned.table.num_columns < part.table.num_columns:
        return [pruned]
    if rows <= 1:
        return None
    middle = rows // 2
    return [part.rows(0, middle), part.rows(middle, rows)]
