"""Gantry's filter dicts and masks, turned into what `records.query.Query` compiles.

Gantry's kinds map onto today's: ``equals`` (exact match), ``inclusive_lower_bound`` and
``inclusive_upper_bound``, tag filters (``"dtype": "tag"`` on a tag name), and the strict
comparisons a mask such as ``df["inputs.x"] > 3`` makes. A strict comparison keeps an
inclusive bound in the base query (which checks the field and the value's type) and adds
one `Extra` condition that the frame applies around the base query with a bound value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from .._names import is_valid_text
from ..clock import to_utc
from ..errors import ValidationError

__all__ = ["Extra", "resolve_time", "translate"]

_STRICT = {"lower_bound": ">", "upper_bound": "<"}
_TAG_KINDS = ("category_query", "equals", "string_query", "null_value")


@dataclass(frozen=True)
class Extra:
    """One condition applied around the base query: ``field op ?`` with `value` bound."""

    field: str
    op: str  # one of > < <>
    value: Any

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _scalar(self.value, f"{self.field} {self.op}"))


def translate(filters: object, tags: Mapping[str, str]) -> tuple[list[dict[str, Any]],
                                                                  dict[str, str], list[Extra]]:
    """Gantry filter dicts as (today's filter dicts, tag matches, extra conditions)."""
    if filters is None:
        return [], dict(tags), []
    if isinstance(filters, (str, bytes, Mapping)) or not isinstance(filters, Sequence):
        raise ValidationError(f"filters must be a list of filter dicts, got "
                              f"{type(filters).__name__}")
    base: list[dict[str, Any]] = []
    extras: list[Extra] = []
    for spec in filters:
        if not isinstance(spec, Mapping) or not isinstance(spec.get("feature_name"), str):
            raise ValidationError(f"each filter must be a dict with a 'feature_name' string, "
                                  f"got {spec!r}")
        spec = dict(spec)
        dtype = spec.pop("dtype", None)
        if dtype is not None and not isinstance(dtype, str):
            raise ValidationError(f"filter 'dtype' must be a string such as 'tag', got {dtype!r}")
        if dtype == "tag":
            base.append(_tag_filter(spec))
            continue
        inclusive = spec.pop("inclusive", True)
        if not isinstance(inclusive, bool):
            raise ValidationError(f"filter 'inclusive' must be True or False, got {inclusive!r}")
        strict = not inclusive
        for key, kind in (("inclusive_lower_bound", "lower_bound"),
                          ("inclusive_upper_bound", "upper_bound")):
            if key in spec:
                if kind in spec:
                    raise ValidationError(f"filter {spec!r} gives both {key} and {kind}")
                spec[kind] = spec.pop(key)
        if "equals" in spec:
            spec.update(_equals(spec.pop("equals"), spec))
        elif "not_equals" in spec:
            value = spec.pop("not_equals")
            extras.append(Extra(spec["feature_name"], "<>", value))
            spec["null_value"] = False
        elif strict:
            extras.extend(Extra(spec["feature_name"], op, spec[key])
                          for key, op in _STRICT.items() if key in spec)
        base.append(spec)
    return base, dict(tags), extras


def _equals(value: object, spec: Mapping[str, Any]) -> dict[str, Any]:
    """``equals`` as today's kinds: a boolean_query, a category match or a closed range."""
    if isinstance(value, bool):
        return {"boolean_query": value}
    if isinstance(value, str):
        return {"category_query": [value]}
    if isinstance(value, (int, float, datetime, date)):
        return {"lower_bound": value, "upper_bound": value}
    raise ValidationError(f"equals in filter {dict(spec)!r} must be a bool, number, string or "
                          f"datetime, got {type(value).__name__}")


def _tag_filter(spec: dict[str, Any]) -> dict[str, Any]:
    """A Gantry tag filter (``feature_name`` is the tag's name) on our ``tags.*`` column."""
    name = spec.pop("feature_name")
    kinds = [k for k in spec if k in _TAG_KINDS]
    if len(kinds) != 1 or len(spec) != 1:
        raise ValidationError(f"a tag filter takes one of {', '.join(_TAG_KINDS)}, got "
                              f"{sorted(spec)} for tag {name!r}")
    if kinds[0] == "equals":
        value = spec.pop("equals")
        if not isinstance(value, str):
            raise ValidationError(f"tag {name!r} can only equal a string, got {value!r}")
        spec["category_query"] = [value]
    column = name if name.startswith("tags.") else f"tags.{name}"
    return {"feature_name": column, **spec}


def _scalar(value: object, what: str) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and not is_valid_text(value):
        raise ValidationError(f"{what}: the string {value[:40]!r} is not valid Unicode (it holds "
                              "a lone surrogate)")
    if isinstance(value, float) and math.isnan(value):
        raise ValidationError(f"{what}: NaN matches nothing; compare with a number")
    if isinstance(value, (bool, int, float, str, datetime, date)):
        return to_utc(value, what) if isinstance(value, datetime) else value
    raise ValidationError(f"{what} must be a bool, number, string or datetime, got "
                          f"{type(value).__name__}")


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
