"""Selectors: which rows of an interval a curator picks (Gantry 0.6's names).

A `Selector` is a sampling method, a limit, filters (combined with AND) and tag
filters. A curator's selectors are combined with OR, without duplicates. Each
compiles to SQL over the interval's rows (``base``), with every value bound.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from ..._limits import check_bool, check_limit, check_text, check_value
from ..._names import MAX_FIELD_LENGTH
from ..._sql import quote_ident
from ...errors import ValidationError

__all__ = [
    "BoundsFilter", "ContainsFilter", "EqualsFilter", "Filter", "OrderedSampler", "Selector",
    "StratifiedSampler", "TagFilter", "UniformSampler",
]

STRATIFY_MODES = ("strict", "proportional", "balanced")


def _field(name: object, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_FIELD_LENGTH:
        raise ValidationError(f"{what} must be a field name such as 'inputs.speed' (1 to "
                              f"{MAX_FIELD_LENGTH} characters), got {name!r}")
    return check_text(name, what)


def _bound(value: object, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, datetime, date)):
        raise ValidationError(f"{what} must be a number or a datetime, got {value!r}")
    return check_value(value, what)


def _items(value: object, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{what} must be a list, got {type(value).__name__}")
    return list(value)


class Filter(ABC):
    """A condition on one field of a row."""

    field: str

    @abstractmethod
    def sql(self) -> tuple[str, list[Any]]:
        """The condition as SQL over ``base`` and its bound parameters."""


@dataclass(frozen=True)
class BoundsFilter(Filter):
    """`lower` < field < `upper` (either may be None); each bound exclusive unless marked."""

    field: str
    lower: Any = None
    upper: Any = None
    lower_inclusive: bool = False
    upper_inclusive: bool = False

    def __post_init__(self) -> None:
        _field(self.field, "BoundsFilter field")
        lower, upper = _bound(self.lower, "lower bound"), _bound(self.upper, "upper bound")
        check_bool(self.lower_inclusive, "lower_inclusive")
        check_bool(self.upper_inclusive, "upper_inclusive")
        if lower is None and upper is None:
            raise ValidationError(f"BoundsFilter on {self.field!r} needs a lower or an upper bound")
        if lower is not None and upper is not None and _kind(lower) != _kind(upper):
            raise ValidationError(f"BoundsFilter on {self.field!r}: bounds {lower!r} and {upper!r} "
                                  "are not of one kind (numbers, dates or datetimes)")
        if lower is not None and upper is not None and lower > upper:
            raise ValidationError(f"BoundsFilter on {self.field!r}: lower bound {lower!r} is above "
                                  f"upper bound {upper!r}")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    def sql(self) -> tuple[str, list[Any]]:
        column = f"base.{quote_ident(self.field)}"
        clauses, params = [], []
        if self.lower is not None:
            clauses.append(f"{column} {'>=' if self.lower_inclusive else '>'} ?")
            params.append(self.lower)
        if self.upper is not None:
            clauses.append(f"{column} {'<=' if self.upper_inclusive else '<'} ?")
            params.append(self.upper)
        return "(" + " AND ".join(clauses) + ")", params


@dataclass(frozen=True)
class EqualsFilter(Filter):
    """field == `equals`."""

    field: str
    equals: Any

    def __post_init__(self) -> None:
        _field(self.field, "EqualsFilter field")
        object.__setattr__(self, "equals", check_value(self.equals, f"EqualsFilter on "
                                                                     f"{self.field!r}: equals"))

    def sql(self) -> tuple[str, list[Any]]:
        return f"base.{quote_ident(self.field)} = ?", [self.equals]


@dataclass(frozen=True)
class ContainsFilter(Filter):
    """The string field contains `contains`."""

    field: str
    contains: str

    def __post_init__(self) -> None:
        _field(self.field, "ContainsFilter field")
        if not isinstance(self.contains, str):
            raise ValidationError(f"ContainsFilter on {self.field!r} takes a string")
        check_text(self.contains, f"ContainsFilter on {self.field!r}: contains", empty=True)

    def sql(self) -> tuple[str, list[Any]]:
        return f"contains(base.{quote_ident(self.field)}, ?)", [self.contains]


@dataclass(frozen=True)
class TagFilter(Filter):
    """The record carries tag `name` with value `value`."""

    name: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not isinstance(self.value, str):
            raise ValidationError("TagFilter takes a tag name and a string value")
        _field(self.name, "TagFilter name")
        check_text(self.value, f"TagFilter {self.name!r}: value", empty=True)

    @property
    def field(self) -> str:  # type: ignore[override]
        return f"tags.{self.name}"

    def sql(self) -> tuple[str, list[Any]]:
        return f"base.{quote_ident(self.field)} = ?", [self.value]


@dataclass(frozen=True)
class UniformSampler:
    """Rows drawn uniformly at random (deterministically, per curator and interval)."""


@dataclass(frozen=True)
class OrderedSampler:
    """The first rows by `field`, ``sort="ascending"`` or ``"descending"``."""

    field: str
    sort: str = "ascending"

    def __post_init__(self) -> None:
        _field(self.field, "OrderedSampler field")
        if self.sort not in ("ascending", "descending"):
            raise ValidationError(f"sort must be 'ascending' or 'descending', got {self.sort!r}")


@dataclass(frozen=True)
class StratifiedSampler:
    """Rows per category of a categorical `field`: ``mode`` strict, proportional or balanced."""

    field: str
    mode: str = "strict"

    def __post_init__(self) -> None:
        _field(self.field, "StratifiedSampler field")
        if self.mode not in STRATIFY_MODES:
            raise ValidationError(f"mode must be one of {STRATIFY_MODES}, got {self.mode!r}")


def _kind(value: object) -> str:
    return "datetime" if isinstance(value, datetime) else "date" if isinstance(value, date) \
        else "number"


Sampler = UniformSampler | OrderedSampler | StratifiedSampler


@dataclass(frozen=True)
class Selector:
    """Pick up to `limit` rows with `method` among those passing every filter and tag filter."""

    method: Sampler
    limit: int
    filters: list[Filter] = field(default_factory=list)
    tags: list[TagFilter] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.method, (UniformSampler, OrderedSampler, StratifiedSampler)):
            raise ValidationError(f"method must be a UniformSampler, OrderedSampler or "
                                  f"StratifiedSampler, got {type(self.method).__name__}")
        check_limit(self.limit, "selector limit")
        object.__setattr__(self, "filters", _items(self.filters, "filters"))
        object.__setattr__(self, "tags", _items(self.tags, "tags"))
        for item in self.filters:
            if not isinstance(item, (BoundsFilter, EqualsFilter, ContainsFilter, TagFilter)):
                raise ValidationError(f"filters must be BoundsFilter, EqualsFilter, ContainsFilter "
                                      f"or TagFilter objects, got {type(item).__name__}")
        for item in self.tags:
            if not isinstance(item, TagFilter):
                raise ValidationError(f"tags must be TagFilter objects, got {type(item).__name__}")

    def fields(self) -> set[str]:
        """Every field this selector reads."""
        names = {f.field for f in [*self.filters, *self.tags]}
        if isinstance(self.method, (OrderedSampler, StratifiedSampler)):
            names.add(self.method.field)
        return names

    def where(self) -> tuple[str, list[Any]]:
        """The AND of all filters as SQL over ``base``."""
        clauses, params = ["TRUE"], []
        for item in [*self.filters, *self.tags]:
            clause, values = item.sql()
            clauses.append(clause)
            params.extend(values)
        return " AND ".join(clauses), params
