"""Triggers: when a curator runs. Intervals are ``[start_on + k*interval, start_on + (k+1)*interval)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .._limits import check_moment, check_span
from .._names import check_name

__all__ = ["DatasetVersionTrigger", "IntervalTrigger"]


@dataclass(frozen=True)
class IntervalTrigger:
    """Every `interval` from `start_on` (naive means UTC); an interval is due at end + `delay`.

    Raises:
        ValidationError: `start_on` outside 1900-2200, an `interval` outside 1 second to
            3,660 days, or a negative or longer `delay`.
    """

    start_on: datetime
    interval: timedelta
    delay: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start_on", check_moment(self.start_on, "start_on"))
        check_span(self.interval, "interval")
        check_span(self.delay, "delay", zero=True)


@dataclass(frozen=True)
class DatasetVersionTrigger:
    """Whenever `dataset` has a new latest version (e.g. a curator's run added one).

    The scheduler checks on each tick; when several versions arrived since the last
    tick, the action runs once, on the newest.
    """

    dataset: str

    def __post_init__(self) -> None:
        check_name(self.dataset, "dataset name")
