"""Clocks: where gantry-local gets "now" from, so tests and backfills can move time.

Nothing in logging, scheduling or curation reads the wall clock directly; a
`Clock` is handed in. All times are timezone-aware UTC.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol, runtime_checkable

from .errors import GantryLocalError, ValidationError

__all__ = ["EPOCH", "Clock", "ManualClock", "SystemClock", "datetime_from_us", "datetime_to_us",
           "read_clock", "to_utc"]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the Unix epoch, in UTC
_ONE_US = timedelta(microseconds=1)
_RANGE = "years 1 to 9999 in UTC"


def to_utc(value: datetime, what: str = "time") -> datetime:
    """Return `value` as an aware UTC datetime; a naive datetime is read as UTC.

    Raises:
        ValidationError: not a datetime, its time zone fails, or it falls outside years
            1 to 9999 once converted to UTC (e.g. ``datetime.min`` at +05:00).
    """
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {type(value).__name__}")
    if value != value:  # pandas.NaT
        raise ValidationError(f"{what} must be a datetime, got {value!r}")
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    try:
        if value.utcoffset() is None:  # a tzinfo without an offset: naive in Python's terms
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
    except OverflowError as exc:
        raise ValidationError(f"{what} {value.isoformat()} is outside the datetime range once "
                              f"converted to UTC ({_RANGE}); give a datetime inside it") from exc
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what}: the time zone of {value!r} fails: {exc}") from exc


def datetime_to_us(value: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is read as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return (value - EPOCH) // _ONE_US


def datetime_from_us(micros: int) -> datetime:
    """The UTC datetime `micros` microseconds after the Unix epoch (`datetime_to_us` undone)."""
    return EPOCH + timedelta(microseconds=micros)


def read_clock(clock: object) -> datetime:
    """`clock.now()` as an aware UTC datetime, checked (a naive result is read as UTC).

    Raises:
        ValidationError: `clock` has no callable ``now``, it failed, or it returned
            something other than a datetime in range.
    """
    try:
        value = clock.now()  # type: ignore[attr-defined]
    except GantryLocalError:
        raise
    except Exception as exc:
        name = type(clock).__name__
        if not callable(getattr(clock, "now", None)):
            raise ValidationError(f"clock must have a now() method returning a datetime, got "
                                  f"{name}") from exc
        raise ValidationError(f"clock {name}: now() raised {exc!r}") from exc
    if type(value) is datetime and value.tzinfo is timezone.utc:
        return value
    if not isinstance(value, datetime):
        raise ValidationError(f"clock {type(clock).__name__}: now() returned "
                              f"{type(value).__name__} {value!r}; a clock's now() must return a "
                              "datetime (UTC)")
    return to_utc(value, f"clock {type(clock).__name__}: now()")


@runtime_checkable
class Clock(Protocol):
    """Anything with a `now()` returning an aware UTC datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        return datetime.now(timezone.utc)

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to: for tests, demos and backfills.

    Example:
        >>> clock = ManualClock(datetime(2023, 1, 1))
        >>> clock.advance(timedelta(days=1)).isoformat()
        '2023-01-02T00:00:00+00:00'
    """

    def __init__(self, start: datetime) -> None:
        self._lock = threading.Lock()
        self._now = to_utc(start, "ManualClock start")

    def now(self) -> datetime:
        """The clock's current time, timezone-aware, in UTC."""
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` (which must not be negative); return the new time."""
        if not isinstance(delta, timedelta) or delta < timedelta(0):
            raise ValidationError(f"advance() takes a non-negative timedelta, got {delta!r}")
        with self._lock:
            try:
                self._now += delta
            except OverflowError:
                raise ValidationError(f"advance({delta!r}) would move the clock past the datetime "
                                      f"range ({_RANGE}) from {self._now.isoformat()}; give a "
                                      "smaller timedelta") from None
            return self._now

    def set(self, value: datetime) -> datetime:
        """Jump to `value` (naive means UTC); going backwards is allowed for tests."""
        new = to_utc(value, "ManualClock.set value")
        with self._lock:
            self._now = new
            return new

    def __repr__(self) -> str:
        return f"ManualClock({self.now().isoformat()!r})"
