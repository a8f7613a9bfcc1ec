"""Gantry's filter dicts as SQL conditions with bound parameters.

One meaning everywhere a filter dict is accepted (``app.query``, ``gantry_local.query``,
views, saved queries, query triggers), Gantry 0.6's:

- ``lower_bound`` / ``upper_bound``: strict (``>`` / ``<``), what ``series > x`` makes;
- ``inclusive_lower_bound`` / ``inclusive_upper_bound``: ``>=`` / ``<=``; the bound kinds
  combine in one dict;
- ``equals``: exact match (what ``series == x`` makes on numbers); ``not_number_query``:
  a present number that differs (``series != x``);
- ``category_query`` (one of a list), ``string_query`` (a substring), ``null_value``,
  ``boolean_query``;
- ``"dtype": "tag"``: ``feature_name`` names a tag; other ``dtype`` values are ignored.

The negated match Gantry's ``series != "x"`` builds (``string_query: "^(?!(x)$).*$"``) is
read as "present and not exactly x". ``"inclusive": True/False`` beside a bound (stored by
an earlier release) still says whether the bound includes its value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from .._names import is_valid_text
from ..clock import to_utc
from ..errors import ValidationError
from ._types import NULL

__all__ = ["FILTER_KINDS", "filter_sql", "tag_column"]

_BOUNDS = {"lower_bound": ">", "inclusive_lower_bound": ">=", "upper_bound": "<",
           "inclusive_upper_bound": "<="}
FILTER_KINDS = (*_BOUNDS, "equals", "not_number_query", "category_query", "string_query",
                "null_value", "boolean_query")
_TAG_KINDS = ("category_query", "equals", "string_query", "null_value")
_NOT_EXACTLY = re.compile(r"\^\(\?!\((.*)\)\$\)\.\*\$", re.DOTALL)  # Gantry's `!=` on strings
_META_TYPES = {"__time": "datetime", "__feedback_time": "datetime", "__join_key": "str",
               "__version": "str"}
_KIND_OF: dict[type, str] = {bool: "bool", int: "int", float: "float", str: "str",
                             datetime: "datetime", date: "date"}
# which kinds of given value compare with a field of each logical type
_MATCHES = {"int": ("int", "float"), "float": ("int", "float"), "bool": ("bool",),
            "str": ("str",), "datetime": ("datetime", "date"), "date": ("date", "datetime")}


def filter_sql(spec: object, known: Mapping[str, str], logged: set[str],
               logical: Mapping[str, str] | None = None) -> tuple[str, list[Any]]:
    """One Gantry filter dict as a SQL condition with bound parameters.

    `known` maps field names to SQL column references, `logged` holds fields the schema
    declares without a stored column yet, and `logical` gives each field's logical type:
    values of the wrong kind for the field raise `ValidationError`.
    """
    if not isinstance(spec, Mapping) or "feature_name" not in spec:
        raise ValidationError(f"each filter must be a dict with a 'feature_name', got {spec!r}")
    if not isinstance(spec["feature_name"], str):
        raise ValidationError(f"feature_name must be a string, got {spec['feature_name']!r}")
    spec = _normalised(spec)
    name = spec.pop("feature_name")
    kinds = list(spec)
    unknown = [k for k in kinds if k not in FILTER_KINDS]
    if unknown or not kinds:
        raise ValidationError(f"filter {dict(spec, feature_name=name)!r}: give one of "
                              f"{', '.join(FILTER_KINDS)}"
                              + (f" (unknown keys: {unknown})" if unknown else ""))
    column = _field(known, logged, name)
    field_type = _META_TYPES.get(name) or (logical or {}).get(name, NULL)
    if field_type == NULL:  # no value logged yet: compare with NULL, whatever the given type
        column = "NULL"
    if set(kinds) <= set(_BOUNDS):
        return _bounds_sql(spec, name, column, field_type)
    if len(kinds) > 1:
        raise ValidationError(f"filter {dict(spec, feature_name=name)!r} mixes {kinds}; use "
                              "one filter per condition")
    return _kind_sql(kinds[0], spec[kinds[0]], name, column, field_type)


def _normalised(spec: Mapping[str, Any]) -> dict[str, Any]:
    """`spec` with a tag's column name, without ``dtype``, the ``inclusive`` flag applied."""
    spec = dict(spec)
    dtype = spec.pop("dtype", None)
    if dtype is not None and not isinstance(dtype, str):
        raise ValidationError(f"filter 'dtype' must be a string such as 'tag', got {dtype!r}")
    if dtype == "tag":
        return _tag_filter(spec)
    if "inclusive" in spec:
        inclusive = spec.pop("inclusive")
        if not isinstance(inclusive, bool):
            raise ValidationError(f"filter 'inclusive' must be True or False, got {inclusive!r}")
        for strict, closed in (("lower_bound", "inclusive_lower_bound"),
                               ("upper_bound", "inclusive_upper_bound")):
            _both(spec, strict, closed)
            if inclusive and strict in spec:
                spec[closed] = spec.pop(strict)
    for strict, closed in (("lower_bound", "inclusive_lower_bound"),
                           ("upper_bound", "inclusive_upper_bound")):
        _both(spec, strict, closed)
    return spec


def _both(spec: Mapping[str, Any], strict: str, closed: str) -> None:
    if strict in spec and closed in spec:
        raise ValidationError(f"filter {dict(spec)!r} gives both {closed} and {strict}")


def _tag_filter(spec: dict[str, Any]) -> dict[str, Any]:
    """A Gantry tag filter (``feature_name`` is the tag's name) on our ``tags.*`` column."""
    name = spec.pop("feature_name")
    kinds = [k for k in spec if k in _TAG_KINDS]
    if len(kinds) != 1 or len(spec) != 1:
        raise ValidationError(f"a tag filter takes one of {', '.join(_TAG_KINDS)}, got "
                              f"{sorted(spec)} for tag {name!r}")
    if kinds[0] == "equals" and not isinstance(spec["equals"], str):
        raise ValidationError(f"tag {name!r} can only equal a string, got {spec['equals']!r}")
    column = name if name.startswith("tags.") else f"tags.{name}"
    return {"feature_name": column, **spec}


def _bounds_sql(spec: Mapping[str, Any], name: str, column: str,
                field_type: str) -> tuple[str, list[Any]]:
    clauses, values, keys = [], [], []
    for key, op in _BOUNDS.items():
        if key in spec:
            clauses.append(f"{column} {op} ?")
            values.append(_bound(spec[key], key, name, field_type))
            keys.append(key)
    if len(values) == 2 and _comparable(*values) and values[0] > values[1]:
        raise ValidationError(f"filter {dict(spec, feature_name=name)!r}: {keys[0]} is above "
                              f"{keys[1]}")
    return "(" + " AND ".join(clauses) + ")", values


def _kind_sql(kind: str, value: Any, name: str, column: str,
              field_type: str) -> tuple[str, list[Any]]:
    if kind == "category_query":
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise ValidationError("category_query must be a list of values")
        if not value:
            return "FALSE", []
        values = [_value(v, "category_query", name, field_type) for v in value]
        return f"{column} IN ({', '.join('?' for _ in values)})", values
    if kind == "string_query":
        if not isinstance(value, str) or not is_valid_text(value):
            raise ValidationError("string_query must be a string of valid Unicode (matched as a "
                                  f"substring), got {value!r}")
        _expect(field_type, ("str",), kind, name)
        negated = _NOT_EXACTLY.fullmatch(value)
        if negated:
            return f"{column} <> ?", [negated.group(1)]
        return f"contains({column}, ?)", [str.__str__(value)]
    if kind == "equals":
        return f"{column} = ?", [_scalar(value, "equals", name, field_type)]
    if kind == "not_number_query":
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValidationError(f"not_number_query must be a number, got {value!r}")
        return f"{column} <> ?", [_bound(value, kind, name, field_type)]
    if isinstance(value, np.bool_):
        value = bool(value)
    if not isinstance(value, bool):
        raise ValidationError(f"{kind} must be True or False, got {value!r}")
    if kind == "null_value":
        return f"{column} IS {'' if value else 'NOT '}NULL", []
    _expect(field_type, ("bool", "int"), kind, name)  # 0/1 labels are booleans too
    return f"{column} = ?", [value]


def _field(known: Mapping[str, str], logged: set[str], name: str) -> str:
    if name in known:
        return known[name]
    if name in logged:  # known to the schema but no value written yet
        return "NULL"
    fields = ", ".join(sorted(known))
    raise ValidationError(f"unknown field {name!r}; known fields are: {fields}")


def _expect(field_type: str, wanted: tuple[str, ...], what: str, name: object) -> None:
    if field_type != NULL and field_type not in wanted:
        raise ValidationError(f"{what} needs a field of {', '.join(wanted)} values; {name!r} "
                              f"holds {field_type} values")


def _scalar(value: object, what: str, name: object, field_type: str) -> Any:
    """An ``equals`` value: a bool, number, string or datetime of the field's type."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or not isinstance(value, (bool, int, float, str, datetime, date)):
        raise ValidationError(f"{what} in the filter on {name!r} must be a bool, number, string "
                              f"or datetime, got {type(value).__name__}")
    if isinstance(value, float) and math.isnan(value):
        raise ValidationError(f"{what} NaN on {name!r} matches nothing; compare with a number")
    return _value(value, what, name, field_type)


def _value(value: object, what: str, name: object, field_type: str) -> Any:
    """A filter value checked against the field's type, as bound to the query."""
    if value is None and what == "category_query":
        return None
    if isinstance(value, np.generic):
        value = value.item()
    kind = next((k for t, k in _KIND_OF.items() if isinstance(value, t)), None)
    if kind is None:
        raise ValidationError(f"{what} values must be numbers, strings, booleans, datetimes or "
                              f"dates, got {type(value).__name__} {value!r}")
    if field_type != NULL and kind not in _MATCHES.get(field_type, ()):
        raise ValidationError(f"{what} {value!r} is of type {kind}, but {name!r} holds "
                              f"{field_type} values")
    if kind == "str" and not is_valid_text(value):  # type: ignore[arg-type]
        raise ValidationError(f"{what} {value!r} is not valid Unicode (a lone surrogate)")
    if kind == "str":
        return str.__str__(value)  # type: ignore[arg-type]
    if kind == "datetime":
        return to_utc(value, what)  # type: ignore[arg-type]
    return value


def _bound(value: object, key: str, name: object = None, field_type: str = NULL) -> Any:
    if isinstance(value, (np.generic,)):
        value = value.item()
    if isinstance(value, str):
        value = _text_bound(value, key, field_type)
    if isinstance(value, bool) or not isinstance(value, (int, float, datetime, date)):
        raise ValidationError(f"{key} must be a number or a datetime (or a string of one), got "
                              f"{value!r:.80}")
    if isinstance(value, float) and math.isnan(value):
        raise ValidationError(f"{key} must not be NaN")
    _expect(field_type, ("int", "float", "datetime", "date"), key, name)
    return _value(value, key, name, field_type)


def _text_bound(value: str, key: str, field_type: str) -> Any:
    """A bound written as text, as in Gantry's docstrings (``'lower_bound': '100'``): a
    number, or an ISO time on time fields; other text is left for the caller to refuse."""
    text = value.strip()
    if field_type in ("datetime", "date"):
        try:
            return to_utc(datetime.fromisoformat(text.replace("Z", "+00:00")), key)
        except ValueError:
            return value
    if len(text) > 100:
        return value
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return value


def _comparable(low: Any, high: Any) -> bool:
    numbers = (int, float)
    return (isinstance(low, numbers) and isinstance(high, numbers)) or (
        type(low) is type(high))


def tag_column(known: Mapping[str, str], logged: set[str], tag: str) -> str:
    """The SQL reference to tag `tag`'s column (NULL when declared but not stored yet)."""
    return _field(known, logged, f"tags.{tag}")
