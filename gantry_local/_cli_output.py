"""What ``gantry-local`` prints: tables, frames, one line per scheduler run, and progress
bars (tqdm, on a terminal's stderr only, so pipes and logs stay clean)."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import polars as pl
from tqdm import tqdm

__all__ = ["bar", "cell", "end_progress", "print_frame", "run_line", "say", "table",
           "transfer_bar", "warn"]

_OPEN_BARS: list[tqdm[Any]] = []


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """`rows` as a text table of `columns` (``(none)`` when empty)."""
    if not rows:
        return "(none)"
    frame = pl.DataFrame([{c: cell(r.get(c)) for c in columns} for r in rows])
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=100, tbl_width_chars=400,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(frame)


def cell(value: Any) -> str:
    """A table cell: dicts as ``k=v`` pairs, lists comma-separated, None empty."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                         for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def print_frame(frame: pl.DataFrame) -> None:
    """A polars frame with every row and column, numbers to 4 decimals."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=220, fmt_str_lengths=40,
                   float_precision=4, tbl_hide_dataframe_shape=True):
        say(str(frame))


def say(text: str) -> None:
    """Print a command's result on stdout, ending any progress bar first."""
    end_progress()
    print(text)


def warn(text: str) -> None:
    """A line on stderr (a log line, a note), printed above any progress bar."""
    tqdm.write(text, file=sys.stderr)


def end_progress() -> None:
    """Close every open progress bar (before a result is printed, and at exit)."""
    while _OPEN_BARS:
        _OPEN_BARS.pop().close()


@contextmanager
def bar(total: int, what: str) -> Iterator[tqdm[Any]]:
    """A progress bar of `total` steps with counts and rate, on a terminal's stderr (none
    for a single step)."""
    progress = tqdm(total=total, desc=what, unit=" runs", file=sys.stderr,
                    disable=None if total > 1 else True, dynamic_ncols=True, leave=True)
    _OPEN_BARS.append(progress)
    try:
        yield progress
    finally:
        if progress in _OPEN_BARS:
            _OPEN_BARS.remove(progress)
        progress.close()


def transfer_bar(what: str, unit: str = "B", total: int | None = None) -> tqdm[Any]:
    """A counter of bytes (or `unit`) moved, with rate (closed by `end_progress`)."""
    progress = tqdm(desc=what, unit=unit, unit_scale=unit == "B", unit_divisor=1024,
                    total=total, file=sys.stderr, disable=None, dynamic_ncols=True,
                    leave=unit != "B")
    _OPEN_BARS.append(progress)
    return progress


def _moment(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def run_line(curator: str, start: datetime, end: datetime, status: str,
             rows_selected: int | None, rows_in_interval: int | None,
             version_id: str | None, error: str | None) -> str:
    """One scheduler run: automation, interval, rows, version (or the error)."""
    head = f"{curator}  [{_moment(start)}, {_moment(end)})"
    if status != "succeeded":
        return f"{head}  FAILED  {error or ''}".rstrip()
    return (f"{head}  {rows_selected or 0:,} of {rows_in_interval or 0:,} rows  "
            f"version {(version_id or '')[:12]}")
