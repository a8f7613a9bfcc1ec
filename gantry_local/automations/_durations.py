"""ISO 8601 durations, as Gantry's alerts API spells windows and delays (``"PT1H5M26S"``)."""

from __future__ import annotations

import re
from datetime import timedelta

from ..errors import ValidationError

__all__ = ["from_iso_duration", "to_iso_duration"]

_PATTERN = re.compile(r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
                      r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
                      r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?")
_MAX = timedelta(days=3_660)


def from_iso_duration(text: object, what: str) -> timedelta:
    """``"P1D"``, ``"PT1H5M26S"``, ``"P0D"`` ... as a timedelta (weeks, days, hours, minutes,
    seconds; years and months have no fixed length and are refused).

    Raises:
        ValidationError: not such a duration, or longer than 3,660 days.
    """
    if isinstance(text, timedelta):
        value = text
    else:
        match = _PATTERN.fullmatch(text) if isinstance(text, str) else None
        if match is None or text in ("P", "PT") or (isinstance(text, str) and text.endswith("T")):
            raise ValidationError(f"{what} must be an ISO 8601 duration such as 'PT1H5M26S' or "
                                  f"'P1D' (weeks, days, hours, minutes, seconds), got {text!r}")
        value = timedelta(**{k: float(v) for k, v in match.groupdict().items() if v})
    if value < timedelta(0) or value > _MAX:
        raise ValidationError(f"{what} must be from 0 to 3,660 days, got {text!r}")
    return value


def to_iso_duration(value: timedelta) -> str:
    """A timedelta as an ISO 8601 duration (``P1DT2H``; ``P0D`` for zero)."""
    seconds = value.total_seconds()
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, rest = divmod(rest, 60)
    time = "".join(f"{n:g}{unit}" for n, unit in ((hours, "H"), (minutes, "M"), (rest, "S")) if n)
    out = f"P{days:g}D" if days or not time else "P"
    return out + (f"T{time}" if time else "")
