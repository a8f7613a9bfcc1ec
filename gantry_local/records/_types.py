"""Logical field types: what a logged value is, how types widen, and how each maps to DuckDB and Arrow.

A logical type is a short string: ``null`` (only None seen so far), ``bool``, ``int``,
``float``, ``str``, ``datetime`` (UTC), ``date``, or ``list<T>`` for any of those.
Types only ever widen: ``null`` becomes anything, ``int`` becomes ``float``, and a
list's element type widens the same way. Everything else is a clash.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from .._names import is_valid_text
from ..errors import ValidationError

__all__ = [
    "arrow_type",
    "column_texts_valid",
    "duckdb_type",
    "from_arrow",
    "from_numpy_datetime",
    "from_python",
    "ints_in_range",
    "numbers_in_range",
    "python_types",
    "texts_valid",
    "widen",
]

NULL = "null"
INT_MIN, INT_MAX = -(2**63), 2**63 - 1  # ints are stored as BIGINT
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

    numpy scalars become Python scalars, ``datetime64`` a datetime (NaT: None) and a
    1-dimensional array a list; subclasses of int, float and str (enums ...) become the
    plain type; a list's elements must share one type.

    Raises:
        ValidationError: the value is of an unsupported type, out of range, a string
            that is not valid Unicode, or a list that mixes types.
    """
    if value is None:
        return NULL, None
    logical = _PY_TO_LOGICAL.get(type(value))
    if logical is not None:
        if logical == "int" and not INT_MIN <= value <= INT_MAX:
            raise out_of_range(where, value)
        if logical == "str" and not is_valid_text(value):
            raise invalid_text(where, value)
        return logical, value
    if isinstance(value, (list, tuple)):
        return _from_list(value, where)
    if isinstance(value, (np.generic, np.ndarray)):
        return _from_numpy(value, where)
    return _from_subclass(value, where)


def _from_subclass(value: Any, where: str) -> tuple[str, Any]:
    """Subclasses of the supported types (IntEnum, StrEnum, pandas.Timestamp ...)."""
    if isinstance(value, int):  # bool cannot be subclassed
        return from_python(int(value), where)
    if isinstance(value, float):
        return "float", float(value)
    if isinstance(value, str):
        return from_python(str.__str__(value), where)
    if isinstance(value, datetime):
        if value != value:  # pandas.NaT
            return NULL, None
        convert = getattr(value, "to_pydatetime", None)
        plain = convert(warn=False) if callable(convert) else value
        return "datetime", datetime.combine(plain.date(), plain.timetz())
    if isinstance(value, date):
        return "date", date(value.year, value.month, value.day)
    raise ValidationError(
        f"{where}: values of type {type(value).__name__} are not supported; "
        f"supported types are {SUPPORTED} (nested dicts are flattened)"
    )


def _from_numpy(value: Any, where: str) -> tuple[str, Any]:
    """numpy scalars and arrays: 0-d as their scalar, 1-d as a list, more dimensions refused."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return from_python(value[()], where)
        if value.ndim > 1:
            raise ValidationError(
                f"{where}: a {value.ndim}-dimensional numpy array {value.shape} is not supported; "
                "1-dimensional arrays are stored as lists (lists of lists are not supported): "
                "log each row under its own name, or flatten it")
        return _from_list(list(value) if value.dtype.kind in "mMgG" else value.tolist(), where)
    if isinstance(value, np.datetime64):
        converted = from_numpy_datetime(value, where)
        return (NULL, None) if converted is None else ("datetime", converted)
    if isinstance(value, np.floating):
        number = float(value)  # a longdouble's item() is itself
        if math.isinf(number) and not np.isinf(value):
            raise ValidationError(f"{where}: {value!r} does not fit a 64-bit float")
        return "float", number
    if isinstance(value, (np.bool_, np.integer, np.str_)):
        return from_python(value.item(), where)
    raise ValidationError(
        f"{where}: numpy values of type {type(value).__name__} are not supported; "
        f"supported types are {SUPPORTED}"
    )


def from_numpy_datetime(value: np.datetime64, where: str) -> datetime | None:
    """A numpy datetime64 of any unit as a naive UTC datetime (microseconds); NaT as None.

    Raises:
        ValidationError: the time is outside years 1 to 9999.
    """
    if np.isnat(value):
        return None
    unit = np.datetime_data(value.dtype)[0]
    if unit in ("ns", "ps", "fs", "as"):  # finer than stored: truncate to microseconds
        value = value.astype("datetime64[us]")
    item = value.item()  # a datetime, a date, or an int when outside Python's range
    if isinstance(item, datetime):
        return item
    if isinstance(item, date):
        return datetime(item.year, item.month, item.day)
    raise ValidationError(f"{where}: {value!r} is outside the stored range (years 1 to 9999)")


def invalid_text(where: str, value: str) -> ValidationError:
    return ValidationError(f"{where}: the string {value[:40]!r} is not valid Unicode (it holds a "
                           "lone surrogate); strings must encode to UTF-8")


def texts_valid(values: Iterable[Any]) -> bool:
    """True when every str among `values` is valid Unicode (`is_valid_text`)."""
    return all(value.isascii() or is_valid_text(value) for value in values if type(value) is str)


def column_texts_valid(column: list[Any], seen: set[type]) -> bool:
    """`texts_valid` for a column whose value types are `seen`: one join, checked in C."""
    if str not in seen:
        return True
    return is_valid_text("".join(column if seen == {str} else
                                 [value for value in column if type(value) is str]))


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
        if isinstance(item, (list, tuple, dict, np.ndarray)):
            raise ValidationError(f"{where}: lists may hold only scalars, got a {type(item).__name__}")
        kind, norm = from_python(item, where)
        if is_list(kind):
            raise ValidationError(f"{where}: lists may hold only scalars, got a {type(item).__name__}")
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
