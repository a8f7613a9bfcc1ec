"""Ranges for automation definitions: limits, spans of time, moments, numbers and text.

Every definition that the scheduler runs later (curators, selectors, filters, triggers,
actions) is checked with these when it is made, so nothing stored can fail a later tick.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .errors import ValidationError

__all__ = ["EARLIEST", "LATEST", "MAX_LIMIT", "MAX_SPAN", "MIN_SPAN", "check_bool",
           "check_int", "check_limit", "check_moment", "check_number", "check_span",
           "check_text", "check_value", "shown"]

MAX_LIMIT = 10_000  # Gantry's cap on the rows a selector picks per interval
MIN_SPAN = timedelta(seconds=1)
MAX_SPAN = timedelta(days=3660)  # about ten years: intervals, delays and windows
EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2200, 1, 1, tzinfo=timezone.utc)
_INT64 = (-(2**63), 2**63 - 1)


def check_bool(value: object, what: str) -> bool:
    """`value` if it is a bool (1, 'yes' and the like are refused: they read as intent)."""
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be True or False, got {value!r}")
    return value


def check_int(value: object, what: str, low: int, high: int) -> int:
    """An integer (not a bool) within ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError(f"{what} must be an integer from {low:,} to {high:,}, "
                              f"got {value!r}")
    return int(value)


def check_limit(value: object, what: str = "limit") -> int:
    """A row limit per interval: 1 to 10,000, as Gantry caps it."""
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_LIMIT:
        raise ValidationError(f"{what} must not exceed {MAX_LIMIT:,} records per interval (as "
                              f"in Gantry), got {value:,}; lower it or curate shorter intervals")
    return check_int(value, what, 1, MAX_LIMIT)


def check_number(value: object, what: str, low: float, high: float) -> float:
    """A finite real number within ``[low, high]``."""
    try:
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and \
            math.isfinite(value) and low <= value <= high
    except OverflowError:  # an int beyond any float
        ok = False
    if not ok:
        shown = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else \
            f"an integer of {len(str(abs(value)))} digits"
        raise ValidationError(f"{what} must be a finite number from {low:g} to {high:g}, got "
                              f"{shown}")
    return float(value)  # type: ignore[arg-type]


def check_span(value: object, what: str, zero: bool = False) -> timedelta:
    """A timedelta from 1 second (or 0 when `zero`) to about ten years (3,660 days)."""
    low = timedelta(0) if zero else MIN_SPAN
    if not isinstance(value, timedelta) or not low <= value <= MAX_SPAN:
        shown = "0" if zero else "1 second"
        raise ValidationError(f"{what} must be a timedelta from {shown} to {MAX_SPAN.days:,} "
                              f"days, got {value!r}")
    return value


def check_moment(value: object, what: str) -> datetime:
    """An aware UTC datetime (naive means UTC) from 1900 to 2200."""
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be a datetime, got {type(value).__name__}")
    try:
        moment = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else \
            value.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:
        raise ValidationError(f"{what} {value!r} cannot be read as UTC: {exc}") from exc
    if not EARLIEST <= moment < LATEST:
        raise ValidationError(f"{what} must lie between {EARLIEST:%Y-%m-%d} and "
                              f"{LATEST:%Y-%m-%d} (UTC), got {value.isoformat()}")
    return moment


def check_text(value: object, what: str, empty: bool = False) -> str:
    """A string that DuckDB and JSON can carry: UTF-8 encodable, no NUL (non-empty unless
    `empty`)."""
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a string, got {type(value).__name__}")
    if not value and not empty:
        raise ValidationError(f"{what} must not be empty")
    if "\x00" in value:
        raise ValidationError(f"{what} must not contain NUL characters, got {value[:40]!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{what} {value[:40]!r} is not valid text (a lone surrogate?): "
                              f"{exc.reason}") from exc
    return value


def check_value(value: object, what: str) -> Any:
    """A value to compare a field with: bool, 64-bit int, finite float, text, date or datetime."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return check_int(value, what, *_INT64)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValidationError(f"{what} must not be NaN (nothing equals NaN)")
        return value
    if isinstance(value, str):
        return check_text(value, what, empty=True)
    if isinstance(value, datetime):
        return check_moment(value, what)
    if isinstance(value, date):
        if not EARLIEST.date() <= value < LATEST.date():
            raise ValidationError(f"{what} must lie between {EARLIEST:%Y-%m-%d} and "
                                  f"{LATEST:%Y-%m-%d}, got {value.isoformat()}")
        return value
    raise ValidationError(f"{what} must be a bool, number, string, date or datetime, got "
                          f"{type(value).__name__}")


def shown(value: object) -> str:
    """`value` for a message: repr, but an int too long for repr (> 4,300 digits raises) by
    its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an integer of {value.bit_length()} bits"
    return repr(value)
