"""Writing with failures isolated: records that make a write fail are found and left out.

A write can fail because of the database (a full disk, an I/O error: retry it all
later) or because of the records in it (a value or a column the database refuses,
which would fail forever and hold up every record behind it). The second kind is
found by writing each table alone, then halves of a failing one, down to single rows;
every part that can be written is, and only the rows that fail alone are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import duckdb

from ._batches import TableWrite

__all__ = ["Isolated", "Sink", "Unwritten", "is_environmental", "write_isolated"]

# Errors of the database or its file, never of the records written: everything is kept.
_ENVIRONMENTAL = (
    OSError, MemoryError, duckdb.IOException, duckdb.OutOfMemoryException,
    duckdb.TransactionException, duckdb.FatalException, duckdb.InternalException,
    duckdb.ConnectionException, duckdb.InterruptException, duckdb.PermissionException,
)
_FULL = ("File too large", "No space left", "Disk quota exceeded", "disk is full")
_MAX_KEYS = 5


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
    """What a write left out: how many rows, the first error, and some of their join keys."""

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
    bad: list[TableWrite] = []
    cause: BaseException | None = None
    stack = [[write] for write in reversed(writes)]
    while stack:
        part = stack.pop()
        try:
            sink.write(part)
            continue
        except Exception as exc:
            if is_environmental(exc):
                remaining = [w for p in reversed(stack) for w in p]
                raise Unwritten([*bad, *part, *remaining], exc) from exc
            halves = _halves(part)
            if halves is None:
                bad.extend(part)
                cause = cause or exc
            else:
                stack.extend(reversed(halves))
    keys = [str(key) for w in bad for key in w.table.column("__join_key").to_pylist()]
    return Isolated(sum(w.table.num_rows for w in bad), cause or first, keys[:_MAX_KEYS])


def _halves(part: list[TableWrite]) -> list[list[TableWrite]] | None:
    """Smaller parts of `part`: each table alone, then the table without the columns none
    of its rows has a value for, then halves of its rows; None for a single row."""
    if len(part) > 1:
        middle = len(part) // 2
        return [part[:middle], part[middle:]]
    write = part[0]
    rows = write.table.num_rows
    pruned = write.rows(0, rows)
    if pruned.table.num_columns < write.table.num_columns:
        return [[pruned]]
    if rows <= 1:
        return None
    middle = rows // 2
    return [[write.rows(0, middle)], [write.rows(middle, rows)]]
