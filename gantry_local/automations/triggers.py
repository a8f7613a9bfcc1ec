"""Triggers: when an automation acts (Gantry's ``gantry.automations.triggers``).

`IntervalTrigger`: a curator's intervals ``[start_on + k*interval, start_on + (k+1)*interval)``.
`AggregationTrigger`: an aggregate of fields over a trailing window leaves its bounds.
`QueriesAggregationTrigger`: the difference between two queries' aggregates.
`DatasetVersionTrigger` (ours): a dataset has a new version (runs a test suite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .._limits import check_moment, check_span
from .._names import check_name
from ._aggregation import AggregationTrigger, QueriesAggregationTrigger, Trigger

__all__ = ["AggregationTrigger", "DatasetVersionTrigger", "IntervalTrigger",
           "QueriesAggregationTrigger", "Trigger"]


@dataclass(frozen=True)
class IntervalTrigger(Trigger):
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
class DatasetVersionTrigger(Trigger):
    """Whenever `dataset` has a new latest version (e.g. a curator's run added one).

    The scheduler checks on each tick; when several versions arrived since the last
    tick, the action runs once, on the newest.
    """

    dataset: str

    def __post_init__(self) -> None:
        check_name(self.dataset, "dataset name")
