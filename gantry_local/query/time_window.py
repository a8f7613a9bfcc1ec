"""Gantry's time windows for `Application.query` (``gantry.query.time_window`` in Gantry)."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..errors import ValidationError

__all__ = ["RelativeTimeWindow", "TimeWindow"]


class TimeWindow:
    """A fixed window from `start_time` to `end_time` (datetimes or ISO strings)."""

    def __init__(self, start_time: str | datetime, end_time: str | datetime) -> None:
        for name, value in (("start_time", start_time), ("end_time", end_time)):
            if not isinstance(value, (str, datetime)):
                raise ValidationError(f"TimeWindow {name} must be a datetime or an ISO string, "
                                      f"got {type(value).__name__}")
        self.start_time = start_time
        self.end_time = end_time

    def __repr__(self) -> str:
        return f"TimeWindow(start_time={self.start_time!r}, end_time={self.end_time!r})"


class RelativeTimeWindow(TimeWindow):
    """The last `window_length` before now minus `offset`, resolved each time it is queried.

    Unlike Gantry (which read the wall clock when the object was made), the window ends
    at the workspace clock's now when the query is built, so tests can inject time.
    """

    def __init__(self, window_length: timedelta, offset: timedelta | None = None) -> None:
        if not isinstance(window_length, timedelta) or window_length <= timedelta(0):
            raise ValidationError(f"window_length must be a positive timedelta, got "
                                  f"{window_length!r}")
        if offset is not None and (not isinstance(offset, timedelta) or offset < timedelta(0)):
            raise ValidationError(f"offset must be a timedelta of zero or more, got {offset!r}")
        self.window_length = window_length
        self.offset = offset if offset is not None else timedelta()

    def __repr__(self) -> str:
        return f"RelativeTimeWindow(window_length={self.window_length!r}, offset={self.offset!r})"

    def resolve(self, now: datetime) -> tuple[datetime, datetime]:
        """The window's (start, end) for the given now."""
        try:
            end = now - self.offset
            return end - self.window_length, end
        except OverflowError:
            raise ValidationError(
                f"{self!r} reaches before year 1 from {now.isoformat()}: use a shorter "
                "window_length or offset") from None
