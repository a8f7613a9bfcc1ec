"""Gantry's time arguments (``"-24H"``, ``"now"``, ISO strings) resolved on the workspace clock.

Filter dicts and masks are compiled by `records._filters` (one meaning for every entry point).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from ..clock import to_utc
from ..errors import ValidationError

__all__ = ["resolve_time"]


_RELATIVE = re.compile(r"^-([0-9]{1,12})(S|SEC|M|MIN|H|D|W)$", re.IGNORECASE)
_UNITS = {"S": "seconds", "SEC": "seconds", "M": "minutes", "MIN": "minutes", "H": "hours",
          "D": "days", "W": "weeks"}


def resolve_time(value: object, what: str, now: datetime) -> datetime:
    """A Gantry time argument: a datetime, an ISO string, ``"now"`` or ``"-24H"`` style.

    Relative strings count back from `now` (the workspace clock) in S, M(IN), H, D or W.
    """
    if isinstance(value, datetime):
        return to_utc(value, what)
    if not isinstance(value, str):
        raise ValidationError(f"{what} must be a datetime or a string such as '-24H', 'now' "
                              f"or '2024-01-01T00:00:00', got {type(value).__name__}")
    text = value.strip()
    if text.lower() == "now":
        return to_utc(now, what)
    match = _RELATIVE.match(text) if len(text) <= 20 else None
    if match:
        amount, unit = int(match.group(1)), _UNITS[match.group(2).upper()]
        try:
            return to_utc(now, what) - timedelta(**{unit: amount})
        except OverflowError as exc:
            raise ValidationError(f"{what} {value!r} reaches outside the datetime range") from exc
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{what} {value[:60]!r} is not a time: give a datetime, an ISO string, "
                              "'now', or a relative time such as '-24H' or '-7D'") from None
    return to_utc(parsed, what)
