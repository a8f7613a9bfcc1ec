"""Argument types of the ``gantry-local`` command: each turns one bad value into a usage error.

Every value is checked where it is parsed, so a command never starts with a number, a time
or a path it cannot use. The bounds keep window arithmetic (a start minus an interval, an
end plus one) inside what Python's ``datetime`` can hold.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_DURATION",
    "duration",
    "existing_file",
    "folder",
    "key_value",
    "moment",
    "number",
    "output_file",
    "path",
    "text",
]

EARLIEST = datetime(1900, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(3000, 1, 1, tzinfo=timezone.utc)
MAX_DURATION = timedelta(days=36_500)
_UNITS = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


def _finite(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def number(kind: type[int] | type[float], low: float, high: float, what: str
           ) -> Callable[[str], float]:
    """A parser of a finite `kind` number in [low, high]; `what` names it in the message."""

    def parse(text: str) -> float:
        try:
            value: float | None = kind(text)
        except ValueError:
            value = None
        if value is None or not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {what} from {low:,.10g} to {high:,.10g}")
        return value

    return parse


def duration(text: str) -> timedelta:
    """'30m', '6h', '1d', '2w' (a decimal number and a unit) as a timedelta."""
    value = _finite(text[:-1])
    unit = _UNITS.get(text[-1:])
    seconds = None if value is None or unit is None else value * unit
    if seconds is None or not 60 <= seconds <= MAX_DURATION.total_seconds():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration like 30m, 6h, 1d or 2w, from 1m to "
            f"{MAX_DURATION.days:,}d")
    return timedelta(seconds=seconds)


def moment(text: str) -> datetime:
    """An ISO date or datetime from 1900 to 2999, as UTC (naive means UTC)."""
    try:
        value = datetime.fromisoformat(text)
        value = value.replace(tzinfo=timezone.utc) if value.tzinfo is None \
            else value.astimezone(timezone.utc)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date like 2024-01-31 or "
                                         "2024-01-31T12:00") from None
    except OverflowError:
        value = datetime.min.replace(tzinfo=timezone.utc)
    if not EARLIEST <= value < LATEST:
        raise argparse.ArgumentTypeError(f"{text!r} is outside the years "
                                         f"{EARLIEST.year}-{LATEST.year - 1} (UTC)")
    return value


def text(value: str) -> str:
    """A non-empty UTF-8 string without NUL characters (a name, a URL, a path)."""
    problem = "is empty" if not value else "holds a NUL character" if "\x00" in value else None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # bytes the locale could not decode, kept as surrogates
        problem = "is not valid UTF-8"
    if problem:
        raise argparse.ArgumentTypeError(f"{value!r} {problem}")
    return value


def path(value: str) -> Path:
    """A path that is not empty and holds no NUL character."""
    return Path(text(value))


def _nearest_existing(target: Path) -> Path:
    for candidate in (target, *target.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def folder(value: str) -> Path:
    """A folder that exists, or can be made (nothing on its way is a file)."""
    target = path(value)
    found = _nearest_existing(target)
    if not found.is_dir():
        raise argparse.ArgumentTypeError(f"{str(found)!r} is a file, not a folder")
    return target


def output_file(value: str) -> Path:
    """A file to write: not a folder, and its folder exists or can be made."""
    target = path(value)
    if target.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; give a file name in it")
    folder(str(target.parent))
    return target


def existing_file(value: str) -> Path:
    """A file to read: it exists and is not a folder."""
    target = path(value)
    if not target.exists():
        raise argparse.ArgumentTypeError(f"no file {value!r}")
    if target.is_dir():
        raise argparse.ArgumentTypeError(f"{value!r} is a folder; give a file")
    return target


def key_value(value: str) -> tuple[str, Any]:
    """KEY=VALUE with KEY a Python identifier (fsspec options are keyword arguments); VALUE
    is read as JSON when it is JSON (``use_ssl=false`` is a bool, ``config_kwargs={...}`` a
    dict), else kept as a string (``endpoint_url=http://...``)."""
    key, sep, item = text(value).partition("=")
    if not sep or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"{value!r} is not KEY=VALUE (KEY a name like "
                                         "endpoint_url)")
    try:  # NaN and Infinity stay strings: no fsspec option wants them
        return key, json.loads(item, parse_constant=_not_json)
    except (ValueError, RecursionError):
        return key, item


def _not_json(name: str) -> Any:
    raise ValueError(name)
