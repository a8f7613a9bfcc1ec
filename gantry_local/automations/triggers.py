"""Triggers: when a curator runs. Intervals are ``[start_on + k*interval, start_on + (k+1)*interval)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .._names import check_name
from ..clock import to_utc
from ..errors import ValidationError

__all__ = ["DatasetVersionTrigger", "IntervalTrigger"]


@dataclass(frozen=True)
class IntervalTrigger:
    """Every `interval` from `start_on` (naive means UTC); an interval is due at end + `delay`."""

    start_on: datetime
    interval: timedelta
    delay: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_on", to_utc(self.start_on, "start_on"))
        if not isinstance(self.interval, timedelta) or self.interval <= timedelta(0):
            raise ValidationError(f"interval must be a positive timedelta, got {self.interval!r}")
        if not isinstance(self.delay, timedelta) or self.delay < timedelta(0):
            raise ValidationError(f"delay must be a non-negative timedelta, got {self.delay!r}")


@dataclass(frozen=True)
class DatasetVersionTrigger:
    """Whenever `dataset` has a new latest version (e.g. a curator's run added one).

    The scheduler checks on each tick; when several versions arrived since the last
    tick, the action runs once, on the newest.
    """

    dataset: str

    def __post_init__(self) -> None:
        check_name(self.dataset, "dataset name")
