"""Logical field types: what a logged value is, how types widen, and how each maps to DuckDB and Arrow.

A logical type is a short string: ``null`` (only None seen so far), ``bool``, ``int``,
``float``, ``str``, ``datetime`` (UTC), ``date``, or ``list<T>`` for any of those.
Types only ever widen: ``null`` becomes anything, ``int`` becomes ``float``, and a
list's element type widens the same way. Everything else is a clash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from ..errors import ValidationError

__all__ = [
    "arrow_type",
    "duckdb_type",
    "from_arrow",
    "from_python",
    "ints_in_range",
    "numbers_in_range",
    "python_types",
    "widen",
]

NULL = "null"
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # ints are stored as BIGINT
SCALARS = ("bool", "int", "float", "str", "datetime", "date")
SUPPORTED = "bool, int, float, str, datetime, date, None, and lists of those"

_PY_TO_LOGICAL: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    datetime: "datetime",
    date: "date",
}
_DUCKDB: dict[str, str] = {
    NULL: "VARCHAR",
    "bool": "BOOLEAN",
    "int": "BIGINT",
    "float": "DOUBLE",
    "str": "VARCHAR",
    "datetime": "TIMESTAMPTZ",
    "date": "DATE",
}
_ARROW: dict[str, pa.DataType] = {
    NULL: pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "str": pa.string(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


def is_list(logical: str) -> bool:
    return logical.startswith("list<")


def element(logical: str) -> str:
    """The element type of ``list<T>``."""
    return logical[5:-1]


def widen(old: str, new: str) -> str | None:
    """The type that holds both `old` and `new`, or None when they clash."""
    if old == new or new == NULL:
        return old
    if old == NULL:
        return new
    if {old, new} == {"int", "float"}:
        return "float"
    if is_list(old) and is_list(new):
        inner = widen(element(old), element(new))
        return None if inner is None else f"list<{inner}>"
    return None


def duckdb_type(logical: str) -> str:
    """The DuckDB column type for a logical type."""
    if is_list(logical):
        return duckdb_type(element(logical)) + "[]"
    return _DUCKDB[logical]


def arrow_type(logical: str) -> pa.DataType:
    """The Arrow type a column of this logical type is built with."""
    if is_list(logical):
        return pa.list_(arrow_type(element(logical)))
    return _ARROW[logical]


def python_types(logical: str) -> frozenset[type]:
    """Python value types accepted without a schema change (the logging fast path)."""
    if logical == "float":
        return frozenset({float, int})
    if is_list(logical) or logical == NULL:
        return frozenset()  # lists and unknown types always take the careful path
    return frozenset({_scalar_py_type(logical)})


def _scalar_py_type(logical: str) -> type:
    for py, name in _PY_TO_LOGICAL.items():
        if name == logical:
            return py
    raise KeyError(logical)


def logical_of_types(seen: set[type]) -> str | None:
    """The logical type of a column whose values have exactly these Python types, or None
    when only a value-by-value look can tell (mixed kinds, lists, nested dicts, numpy ...)."""
    kinds = seen - {type(None)}
    if not kinds:
        return NULL
    if kinds == {int, float}:
        return "float"
    if len(kinds) == 1:
        return _PY_TO_LOGICAL.get(kinds.pop())
    return None


def from_python(value: Any, where: str) -> tuple[str, Any]:
    """The logical type of one Python value and the value normalised for storage.

    numpy scalars become Python scalars; a list's elements must share one type.

    Raises:
        ValidationError: the value is of an unsupported type, or a list mixes types.
    """
    if value is None:
        return NULL, None
    logical = _PY_TO_LOGICAL.get(type(value))
    if logical is not None:
        if logical == "int" and not INT_MIN <= value <= INT_MAX:
            raise out_of_range(where, value)
        return logical, value
    if isinstance(value, (list, tuple)):
        return _from_list(value, where)
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and type(value).__module__ == "numpy":
        return from_python(item(), where)
    for py, name in _PY_TO_LOGICAL.items():  # subclasses, e.g. pandas.Timestamp
        if isinstance(value, py):
            converted = value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
            return name, converted
    raise ValidationError(
        f"{where}: values of type {type(value).__name__} are not supported; "
        f"supported types are {SUPPORTED} (nested dicts are flattened)"
    )


def ints_in_range(values: Iterable[Any]) -> bool:
    """False when an int among `values` does not fit the stored 64-bit integers."""
    return all(INT_MIN <= value <= INT_MAX for value in values if type(value) is int)


def numbers_in_range(numbers: Sequence[int | float]) -> bool:
    """`ints_in_range` for values that are all numbers: min and max in C."""
    return not numbers or (min(numbers) >= INT_MIN and max(numbers) <= INT_MAX)


def out_of_range(where: str, value: int) -> ValidationError:
    return ValidationError(
        f"{where}: {value} does not fit a 64-bit integer ({INT_MIN} to {INT_MAX}); "
        "log it as a float or a string")


def _from_list(values: list[Any] | tuple[Any, ...], where: str) -> tuple[str, Any]:
    inner = NULL
    out = []
    for item in values:
        if isinstance(item, (list, tuple, dict)):
            raise ValidationError(f"{where}: lists may hold only scalars, got a {type(item).__name__}")
        kind, norm = from_python(item, where)
        merged = widen(inner, kind)
        if merged is None:
            raise ValidationError(f"{where}: a list mixes {inner} and {kind} values; use one type")
        inner = merged
        out.append(norm)
    return f"list<{inner}>", out


def from_arrow(dtype: pa.DataType, where: str) -> str:
    """The logical type of an Arrow column (after structs were flattened).

    Raises:
        ValidationError: the Arrow type has no logical counterpart.
    """
    if pa.types.is_null(dtype):
        return NULL
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or _is_string_view(dtype):
        return "str"
    if pa.types.is_dictionary(dtype):
        return from_arrow(dtype.value_type, where)  # type: ignore[attr-defined]
    if pa.types.is_timestamp(dtype):
        return "datetime"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or _is_list_view(dtype):
        inner = from_arrow(dtype.value_type, where)  # type: ignore[attr-defined]
        if is_list(inner):
            raise ValidationError(f"{where}: lists of lists are not supported")
        return f"list<{inner}>"
    raise ValidationError(
        f"{where}: Arrow type {dtype} is not supported; supported types are {SUPPORTED}"
    )


def _is_string_view(dtype: pa.DataType) -> bool:
    check = getattr(pa.types, "is_string_view", None)
    return bool(check(dtype)) if check else False


def _is_list_view(dtype: pa.DataType) -> bool:
    check = getattr(pa.types, "is_list_view", None)
    return bool(check(dtype)) if check else False
