"""The stock curators: Gantry 0.6's ten, with its names, argument order and defaults.

Each builds one `Selector`; our extra keyword arguments (`curation_delay`,
`only_labelled`, `min_labelled_share`, `max_label_wait`) pass through to `Curator`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ..._limits import check_bool
from .curators import Curator
from .selectors import (
    TIME_COLUMN_NAME,
    BoundsFilter,
    EqualsFilter,
    OrderedSampler,
    OrderingDirection,
    Selector,
    StratificationMode,
    StratifiedSampler,
    UniformSampler,
)

__all__ = [
    "AscendedSortCurator", "BalancedStratificationCurator", "BoundedRangeCurator",
    "DescendedSortCurator", "EqualityCurator", "NewestCurator", "OldestCurator",
    "ProportionalStratificationCurator", "StrictStratificationCurator", "UniformCurator",
]

_DAY = timedelta(days=1)


class _Stock(Curator):
    """A curator of one selector; `limit` is that selector's."""

    def __init__(self, name: str, application_name: str, selector: Selector,
                 curated_dataset_name: str | None, start_on: datetime | None,
                 curation_interval: timedelta, curate_past_intervals: bool,
                 options: dict[str, Any]) -> None:
        super().__init__(name=name, application_name=application_name,
                         curated_dataset_name=curated_dataset_name, start_on=start_on,
                         curation_interval=curation_interval,
                         curate_past_intervals=curate_past_intervals, selectors=[selector],
                         **options)


class UniformCurator(_Stock):
    """Up to `limit` records of each interval, uniformly at random."""

    def __init__(self, name: str, application_name: str, limit: int,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 **options: Any) -> None:
        super().__init__(name, application_name, Selector(method=UniformSampler(), limit=limit),
                         curated_dataset_name, start_on, curation_interval,
                         curate_past_intervals, options)


class NewestCurator(_Stock):
    """The `limit` newest records of each interval (by `__time`)."""

    def __init__(self, name: str, application_name: str, limit: int,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 **options: Any) -> None:
        method = OrderedSampler(field=TIME_COLUMN_NAME, sort=OrderingDirection.DESCENDING)
        super().__init__(name, application_name, Selector(method=method, limit=limit),
                         curated_dataset_name, start_on, curation_interval,
                         curate_past_intervals, options)


class OldestCurator(_Stock):
    """The `limit` oldest records of each interval (by `__time`)."""

    def __init__(self, name: str, application_name: str, limit: int,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 **options: Any) -> None:
        method = OrderedSampler(field=TIME_COLUMN_NAME, sort=OrderingDirection.ASCENDING)
        super().__init__(name, application_name, Selector(method=method, limit=limit),
                         curated_dataset_name, start_on, curation_interval,
                         curate_past_intervals, options)


class _Stratification(_Stock):
    mode = StratificationMode.proportional

    def __init__(self, name: str, application_name: str, limit: int, stratify_field: str,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 **options: Any) -> None:
        self.stratify_field = stratify_field
        method = StratifiedSampler(field=stratify_field, mode=self.mode)
        super().__init__(name, application_name, Selector(method=method, limit=limit),
                         curated_dataset_name, start_on, curation_interval,
                         curate_past_intervals, options)


class BalancedStratificationCurator(_Stratification):
    """Every category of `stratify_field` the size of the smallest (at most limit /
    categories)."""

    mode = StratificationMode.balanced


class ProportionalStratificationCurator(_Stratification):
    """Each category in proportion to its share, rounded half to even (may exceed
    `limit`): 100 records A×51, B×15, C×16, D×17, E×1 with limit 10 give A5 B2 C2 D2 E0."""

    mode = StratificationMode.proportional


class StrictStratificationCurator(_Stratification):
    """Exactly `limit` records (or all there are): each category the integer part of its
    exact share, the rows the fractions leave drawn at random from the rest: 100 records
    A×51, B×15, C×16, D×17, E×1 with limit 10 give A5 B1 C1 D1 E0 plus 2 at random."""

    mode = StratificationMode.strict


class AscendedSortCurator(_Stock):
    """The `limit` records with the smallest `sort_field` (nulls last, ties by time)."""

    direction = OrderingDirection.ASCENDING

    def __init__(self, name: str, application_name: str, limit: int, sort_field: str,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 **options: Any) -> None:
        self.sort_field = sort_field
        method = OrderedSampler(field=sort_field, sort=self.direction)
        super().__init__(name, application_name, Selector(method=method, limit=limit),
                         curated_dataset_name, start_on, curation_interval,
                         curate_past_intervals, options)


class DescendedSortCurator(AscendedSortCurator):
    """The `limit` records with the largest `sort_field` (nulls last, ties by time)."""

    direction = OrderingDirection.DESCENDING


class BoundedRangeCurator(_Stock):
    """Records with `lower_bound` < `bound_field` < `upper_bound` (strict, as in Gantry),
    the first `limit` of them by `bound_field` (ascending unless ``sort_ascending=False``)."""

    def __init__(self, name: str, application_name: str, limit: int, bound_field: str,
                 upper_bound: float, lower_bound: float,
                 curated_dataset_name: str | None = None, start_on: datetime | None = None,
                 curation_interval: timedelta = _DAY, curate_past_intervals: bool = True,
                 sort_ascending: bool = True, **options: Any) -> None:
        self.bound_field = bound_field
        self.sort_ascending = check_bool(sort_ascending, "sort_ascending")
        sort = OrderingDirection.ASCENDING if sort_ascending else OrderingDirection.DESCENDING
        selector = Selector(method=OrderedSampler(field=bound_field, sort=sort), limit=limit,
                            filters=[BoundsFilter(field=bound_field, upper=upper_bound,
                                                  lower=lower_bound)])
        super().__init__(name, application_name, selector, curated_dataset_name, start_on,
                         curation_interval, curate_past_intervals, options)


class EqualityCurator(_Stock):
    """Records whose `field` equals `equals`, up to `limit` of them uniformly at random (the
    strings "true" and "false" are booleans, as in Gantry)."""

    def __init__(self, name: str, application_name: str, limit: int, field: str,
                 equals: bool | str | int | float, curated_dataset_name: str | None = None,
                 start_on: datetime | None = None, curation_interval: timedelta = _DAY,
                 curate_past_intervals: bool = True, **options: Any) -> None:
        self.field = field
        selector = Selector(method=UniformSampler(), limit=limit,
                            filters=[EqualsFilter(field=field, equals=equals)])
        super().__init__(name, application_name, selector, curated_dataset_name, start_on,
                         curation_interval, curate_past_intervals, options)
