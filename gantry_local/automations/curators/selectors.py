"""Selectors: which rows of an interval a curator picks (Gantry 0.6's
``gantry.automations.curators.selectors``: names, fields and defaults).

A `Selector` is a sampling method, a limit, filters (combined with AND) and tag
filters. A curator's selectors are combined with OR, without duplicates. Everything
is validated when constructed (a `ValidationError` says what to change); the SQL
lives in `._sampling`. Like Gantry's pydantic models, values compare equal field by
field and have ``dict()``.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, asdict, dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from ..._limits import check_limit, check_text, check_value
from ..._names import MAX_FIELD_LENGTH
from ...errors import ValidationError

__all__ = [
    "ALL_FILTERS_T", "ALL_METHODS_T", "MAX_NAME_LEN", "TIME_COLUMN_NAME", "BoundsFilter",
    "ContainsFilter", "EqualsFilter", "Filter", "OrderedSampler", "OrderingDirection",
    "Sampler", "SamplingMethod", "Selector", "StratificationMode", "StratifiedSampler",
    "TagFilter", "UniformSampler",
]

MAX_NAME_LEN = 128  # curator, application and dataset names (Gantry's server allowed 255)
TIME_COLUMN_NAME = "__time"


class OrderingDirection(str, Enum):
    """Direction specifying how to order a sort."""

    ASCENDING = "ascending"
    DESCENDING = "descending"


class SamplingMethod(str, Enum):
    """Sampling method to use when selecting a subset of data."""

    uniform = "uniform"
    ordered = "ordered"
    stratified = "stratified"


class StratificationMode(str, Enum):
    """How a stratified sampler shares `limit` among the categories of its field.

    strict: exactly `limit` rows (or all there are); each category gets the integer part
    of its exact share and the rows the fractions leave are drawn at random from the
    rest: 100 records A×51, B×15, C×16, D×17, E×1 with limit 10 give A5 B1 C1 D1 E0 plus 2.
    proportional: each category its share rounded half to even (may exceed `limit`):
    the same records give A5 B2 C2 D2 E0. balanced: every category the size of the
    smallest, at most limit / number of categories.
    """

    strict = "strict"
    proportional = "proportional"
    balanced = "balanced"


def _field(name: object, what: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_FIELD_LENGTH:
        raise ValidationError(f"{what} must be a field name such as 'inputs.speed' (1 to "
                              f"{MAX_FIELD_LENGTH} characters), got {name!r}")
    return check_text(name, what)


def _enum(kind: type[Enum], value: object, what: str) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)  # type: ignore[attr-defined]
        raise ValidationError(f"{what} must be one of {allowed}, got {value!r}") from None


def _bound(value: object, what: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, datetime, date)):
        raise ValidationError(f"{what} must be a number or a datetime, got {value!r}")
    return check_value(value, what)


def _kind(value: object) -> str:
    return "datetime" if isinstance(value, datetime) else "date" if isinstance(value, date) \
        else "number"


class _Model:
    """What Gantry's pydantic models offer: ``dict()``."""

    def dict(self) -> dict[str, Any]:
        """The fields as a dict (nested values too)."""
        return asdict(self)  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class TagFilter(_Model):
    """The record carries tag `name` with value `value`."""

    name: str
    value: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name or not isinstance(self.value, str):
            raise ValidationError("TagFilter takes a tag name and a string value")
        _field(self.name, "TagFilter name")
        check_text(self.value, f"TagFilter {self.name!r}: value", empty=True)

    @property
    def field(self) -> str:
        """The column the tag is stored in."""
        return f"tags.{self.name}"


@dataclass(frozen=True)
class Filter(_Model):
    """Base class of the filters: a condition on one field."""

    field: str

    def __post_init__(self) -> None:
        if type(self) is Filter:
            raise ValidationError("Filter is a base class: use BoundsFilter, EqualsFilter or "
                                  "ContainsFilter")
        _field(self.field, f"{type(self).__name__} field")


@dataclass(frozen=True)
class BoundsFilter(Filter):
    """A range on a number or time field. Bounds are exclusive (``upper``, ``lower``) or
    inclusive (``inclusive_upper``, ``inclusive_lower``): at least one, at most one of each
    side, as in Gantry."""

    _: KW_ONLY
    upper: Any = None
    inclusive_upper: Any = None
    lower: Any = None
    inclusive_lower: Any = None

    def __post_init__(self) -> None:
        super().__post_init__()
        where = f"BoundsFilter on {self.field!r}"
        values = {name: _bound(getattr(self, name), f"{where}: {name}")
                  for name in ("upper", "inclusive_upper", "lower", "inclusive_lower")}
        for name, value in values.items():
            object.__setattr__(self, name, value)
        if all(v is None for v in values.values()):
            raise ValidationError(f"{where} needs a bound: upper, inclusive_upper, lower or "
                                  "inclusive_lower")
        for side in ("upper", "lower"):
            if values[side] is not None and values[f"inclusive_{side}"] is not None:
                raise ValidationError(f"{where} has both an exclusive and an inclusive {side} "
                                      f"bound; pass {side}= or inclusive_{side}=, not both")
        low, high = self.low, self.high
        if low is not None and high is not None:
            if _kind(low) != _kind(high):
                raise ValidationError(f"{where}: bounds {low!r} and {high!r} are not of one "
                                      "kind (numbers, dates or datetimes)")
            if low > high or (low == high and (self.lower is not None or self.upper is not None)):
                raise ValidationError(f"{where}: no value lies between lower bound {low!r} and "
                                      f"upper bound {high!r}")

    @property
    def low(self) -> Any:
        """The lower bound, whichever kind (None without one)."""
        return self.lower if self.lower is not None else self.inclusive_lower

    @property
    def high(self) -> Any:
        """The upper bound, whichever kind (None without one)."""
        return self.upper if self.upper is not None else self.inclusive_upper


def _equals(value: object, what: str) -> Any:
    """Gantry's rule: the strings "true" and "false" are booleans."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return check_value(value, what)


@dataclass(frozen=True)
class EqualsFilter(Filter):
    """field == `equals` (a bool, number or string; "true" and "false" are bools, as in
    Gantry)."""

    equals: Any

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "equals", _equals(self.equals, f"EqualsFilter on "
                                                                f"{self.field!r}: equals"))


@dataclass(frozen=True)
class ContainsFilter(Filter):
    """The string field contains `contains`."""

    contains: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.contains, str):
            raise ValidationError(f"ContainsFilter on {self.field!r} takes a string, got "
                                  f"{type(self.contains).__name__}")
        check_text(self.contains, f"ContainsFilter on {self.field!r}: contains", empty=True)


ALL_FILTERS_T = BoundsFilter | EqualsFilter | ContainsFilter


@dataclass(frozen=True)
class Sampler(_Model):
    """Base class of the samplers."""

    def _check_sample(self, sample: object, method: SamplingMethod) -> None:
        if sample != method:
            raise ValidationError(f"{type(self).__name__}'s sample must be {method.value!r}, "
                                  f"got {sample!r}")
        object.__setattr__(self, "sample", method)


@dataclass(frozen=True)
class UniformSampler(Sampler):
    """Rows drawn uniformly at random (deterministically, per curator and interval)."""

    _: KW_ONLY
    sample: SamplingMethod = SamplingMethod.uniform

    def __post_init__(self) -> None:
        self._check_sample(self.sample, SamplingMethod.uniform)


@dataclass(frozen=True)
class OrderedSampler(Sampler):
    """The first rows by `field`, ``sort`` ascending or descending (nulls last; ties by
    time, then join key)."""

    field: str
    sort: OrderingDirection
    _: KW_ONLY
    sample: SamplingMethod = SamplingMethod.ordered

    def __post_init__(self) -> None:
        self._check_sample(self.sample, SamplingMethod.ordered)
        _field(self.field, "OrderedSampler field")
        object.__setattr__(self, "sort", _enum(OrderingDirection, self.sort, "sort"))


@dataclass(frozen=True)
class StratifiedSampler(Sampler):
    """Rows per category of `field` (text, integer, boolean or date values), shared out as
    `mode` says (`StratificationMode`; proportional by default, as in Gantry)."""

    field: str
    mode: StratificationMode = StratificationMode.proportional
    _: KW_ONLY
    sample: SamplingMethod = SamplingMethod.stratified

    def __post_init__(self) -> None:
        self._check_sample(self.sample, SamplingMethod.stratified)
        _field(self.field, "StratifiedSampler field")
        if self.field in NOT_CATEGORIES:
            raise ValidationError(f"cannot stratify on {self.field!r}: {NOT_CATEGORIES[self.field]}"
                                  "; stratify on a field of categories (text, integer, boolean)")
        object.__setattr__(self, "mode", _enum(StratificationMode, self.mode, "mode"))


# Fields every application has that can never be categories.
NOT_CATEGORIES = {TIME_COLUMN_NAME: "it is a timestamp",
                  "__feedback_time": "it is a timestamp",
                  "__join_key": "every record has its own"}

ALL_METHODS_T = OrderedSampler | UniformSampler | StratifiedSampler
_NEWEST = OrderedSampler(TIME_COLUMN_NAME, OrderingDirection.DESCENDING)


@dataclass(frozen=True)
class Selector(_Model):
    """Pick up to `limit` rows (1 to 10,000, Gantry's cap) with `method` (Gantry's default:
    the newest rows) among those passing every filter and tag filter."""

    method: ALL_METHODS_T = _NEWEST
    _: KW_ONLY
    limit: int
    filters: list[ALL_FILTERS_T | TagFilter] = field(default_factory=list)
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


def _items(value: object, what: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise ValidationError(f"{what} must be a list, got {type(value).__name__}")
    return list(value)
