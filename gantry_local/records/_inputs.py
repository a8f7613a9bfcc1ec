"""Checks and conversions for the arguments of the log calls (everything but the records' fields)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from .._names import MAX_FIELD_DEPTH, check_field_name, is_valid_text
from ..clock import datetime_to_us, read_clock, to_utc
from ..errors import ValidationError
from ._types import from_numpy_datetime

__all__ = ["check_join_key", "check_sample_rate", "check_version", "frame_to_arrow", "time_us"]

MAX_JOIN_KEY = 1024
_NOT_INTS = (bool, np.bool_, np.timedelta64)  # int subclasses (timedelta64 is a numpy integer)
MAX_VERSION = 1024
_UTC = timezone.utc
# the stored time range: what a Python datetime can hold, in UTC
MIN_US = datetime_to_us(datetime.min.replace(tzinfo=_UTC))
MAX_US = datetime_to_us(datetime.max.replace(tzinfo=_UTC))


def check_version(version: object) -> str | None:
    """A model version as stored: ints and strings are the same (``10`` == ``"10"``)."""
    if version is None:
        return None
    if isinstance(version, str):
        text = str.__str__(version)
        if 0 < len(text) <= MAX_VERSION and is_valid_text(text):
            return text
        raise ValidationError(f"version must be 1 to {MAX_VERSION} characters of valid Unicode "
                              f"(no lone surrogates), got {text[:40]!r}")
    if isinstance(version, (int, np.integer)) and not isinstance(version, _NOT_INTS):
        if not -(10**(MAX_VERSION - 1)) < int(version) < 10**MAX_VERSION:  # str() can raise
            raise ValidationError(f"version must be at most {MAX_VERSION} characters, got an "
                                  f"integer of {int(version).bit_length()} bits")
        return str(int(version))
    raise ValidationError(f"version must be an int or a string, got {type(version).__name__}")


def check_join_key(key: object) -> str:
    """A join key as stored: 1 to 1,024 characters of valid Unicode (ints are converted)."""
    if type(key) is str and 0 < len(key) <= MAX_JOIN_KEY and (key.isascii()
                                                               or is_valid_text(key)):
        return key
    if isinstance(key, (int, np.integer)) and not isinstance(key, _NOT_INTS):
        if not -(10**(MAX_JOIN_KEY - 1)) < int(key) < 10**MAX_JOIN_KEY:  # str() can raise
            raise ValidationError(f"join keys must be at most {MAX_JOIN_KEY} characters, got "
                                  f"an integer of {int(key).bit_length()} bits")
        return str(int(key))
    if isinstance(key, str) and type(key) is not str:  # a subclass, e.g. gantry.JoinKey
        return check_join_key(str.__str__(key))
    if isinstance(key, str):
        raise ValidationError(f"join keys must be 1 to {MAX_JOIN_KEY} characters of valid "
                              f"Unicode (no lone surrogates), got {key[:40]!r} ({len(key)} "
                              "characters)")
    raise ValidationError(f"join keys must be strings, got {type(key).__name__}")


def check_sample_rate(rate: object) -> float:
    """`rate` as a float in (0, 1]; bools, NaN, strings and anything outside are refused."""
    if isinstance(rate, _NOT_INTS) or not isinstance(rate, numbers.Real):
        raise ValidationError(f"sample_rate must be a number in (0, 1], got {rate!r}")
    number = float(rate)
    if math.isnan(number) or not 0 < number <= 1:
        raise ValidationError(f"sample_rate must be a number in (0, 1], got {rate!r}")
    return number


def time_us(value: object, what: str = "timestamps") -> int:
    """Microseconds since the epoch for a record timestamp; naive datetimes are UTC.

    numpy datetime64 values are taken too. Times must lie in years 1 to 9999 in UTC.
    """
    if isinstance(value, datetime):
        try:
            us = datetime_to_us(value)
        except (TypeError, ValueError, OverflowError):
            us = datetime_to_us(to_utc(value, what))  # raises the clear error
        if MIN_US <= us <= MAX_US and value == value:  # NaT != NaT
            return us
        raise ValidationError(f"{what} must be datetimes in years 1 to 9999 (UTC), got {value}")
    if isinstance(value, np.datetime64):
        converted = from_numpy_datetime(value, what)
        if converted is not None:
            return datetime_to_us(converted)
        raise ValidationError(f"{what} must be datetimes, got {value!r}")
    if isinstance(value, date):
        raise ValidationError(f"{what} must be datetimes, got the date {value}")
    raise ValidationError(f"{what} must be datetimes, got {type(value).__name__}")


def clock_us(clock: object) -> int:
    """The clock's now in microseconds, for a record's default time (checked: `read_clock`)."""
    return datetime_to_us(read_clock(clock))


def as_list(value: object, what: str) -> list[Any]:
    """A list argument (a list, tuple, or a polars/pandas Series)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, np.ndarray) and value.dtype.kind in "mM":
        return list(value)  # datetime64 scalars: tolist() would give nanoseconds as ints
    to_list = getattr(value, "to_list", None) or getattr(value, "tolist", None)
    if callable(to_list) and type(value).__module__.split(".")[0] in {"polars", "pandas", "numpy"}:
        return list(to_list())
    raise ValidationError(f"{what} must be a list, got {type(value).__name__}")


def is_frame(value: object) -> bool:
    """True for polars/pandas DataFrames and Series, Arrow tables/record batches, and any
    other table that exports an Arrow stream (``__arrow_c_stream__``: DuckDB relations ...)."""
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        return True
    module = type(value).__module__.split(".")[0]
    if module in {"polars", "pandas"} and type(value).__name__ in {"DataFrame", "Series"}:
        return True
    return hasattr(type(value), "__arrow_c_stream__") and not isinstance(value, pa.Array)


def frame_to_arrow(value: object, what: str) -> pa.Table:
    """An Arrow table from a frame; a Series becomes one column named after it (or ``value``).

    `pa.table()` converts anything that exports an Arrow stream, but not pandas (it would
    keep the index as a column: ``from_pandas(preserve_index=False)``) nor polars (its
    stream exports string views and categoricals as dictionaries of views, which pyarrow
    26 cannot cast to our string columns: polars' ``to_arrow()`` gives plain strings and
    costs nothing, sharing the buffers). Column names (and the
    field names of struct columns) follow the rules of dict field names, checked before
    any conversion (polars panics on a NUL in a name).
    """
    module = type(value).__module__.split(".")[0]
    if type(value).__name__ == "Series" and module in {"polars", "pandas"}:
        name = getattr(value, "name", None)
        value = value.to_frame(name if isinstance(name, str) and name else "value")  # type: ignore[attr-defined]
    if module == "polars":
        _check_polars_names(value, what)
    elif module == "pandas":
        _check_column_names(list(value.columns), what)  # type: ignore[attr-defined]
    try:
        if module == "pandas":  # Arrow shares numeric numpy columns: copy, since pandas
            # frames are changed in place and the buffer is written after the call returns
            table = _owned(pa.Table.from_pandas(value, preserve_index=False))  # type: ignore[arg-type]
        elif module == "polars":
            table = value.to_arrow()  # type: ignore[attr-defined]
        else:
            table = pa.table(value)  # type: ignore[call-overload]
    except Exception as exc:
        raise ValidationError(f"{what}: could not convert the {module} frame to Arrow: {exc}") \
            from exc
    _check_arrow_names(table.schema, what)
    return table


def _owned(table: pa.Table) -> pa.Table:
    """`table` with buffers of its own (none shared with the frame it came from)."""
    if not table.num_columns or not table.num_rows:
        return table
    return pa.Table.from_arrays([pa.concat_arrays(column.chunks) for column in table.columns],
                                schema=table.schema)


def _check_column_names(names: list[Any], what: str) -> None:
    """Column names as dict field names: strings, 1 to 255 characters, valid, no NUL; unique."""
    for name in names:
        if not isinstance(name, str):
            raise ValidationError(f"{what}: column names must be strings, got {name!r}; rename "
                                  "the columns (e.g. df.columns = df.columns.astype(str))")
        check_field_name(name, f"{what} column")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"{what}: column names must be unique, got {twice} more than once")


def _check_polars_names(frame: Any, what: str) -> None:
    """`_check_column_names` over a polars frame and its struct fields, from the schema alone."""
    import polars as pl

    def check(names: list[str], dtypes: list[Any], depth: int) -> None:
        _check_column_names(names, what)
        for dtype in dtypes:
            while isinstance(dtype, (pl.List, pl.Array)):
                dtype = dtype.inner
            if isinstance(dtype, pl.Struct):
                if depth >= MAX_FIELD_DEPTH:
                    raise _too_deep(what)
                check([f.name for f in dtype.fields], [f.dtype for f in dtype.fields], depth + 1)

    schema = frame.schema
    check(list(schema.names()), list(schema.dtypes()), 1)


def _check_arrow_names(schema: pa.Schema, what: str) -> None:
    """`_check_column_names` over an Arrow schema and its struct fields."""

    def check(fields: list[pa.Field[Any]], depth: int) -> None:
        _check_column_names([f.name for f in fields], what)
        for f in fields:
            dtype = f.type
            while isinstance(dtype, (pa.ListType, pa.LargeListType, pa.FixedSizeListType)):
                dtype = dtype.value_type
            if isinstance(dtype, pa.StructType):
                if depth >= MAX_FIELD_DEPTH:
                    raise _too_deep(what)
                check([dtype.field(i) for i in range(dtype.num_fields)], depth + 1)

    check(list(schema), 1)


def _too_deep(what: str) -> ValidationError:
    return ValidationError(f"{what}: struct columns nest more than {MAX_FIELD_DEPTH} levels deep; "
                           "flatten them")


def as_dict(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    """A plain dict copy of a Mapping; one that fails to be read is a `ValidationError`."""
    try:
        return dict(value)
    except Exception as exc:
        raise ValidationError(f"{what}: the {type(value).__name__} could not be read as a dict: "
                              f"{exc!r}") from exc


def wrap_output(value: object) -> dict[str, Any]:
    """Outputs as a dict: a bare value (number, string, list ...) is stored as ``outputs.value``."""
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return as_dict(value, "outputs")
    return {"value": value}


def as_rows(value: object, what: str, scalar_ok: bool = False) -> list[Any]:
    """A list of per-record dicts (or, for outputs, bare values wrapped as ``value``)."""
    rows = as_list(value, what)
    if scalar_ok:
        return [wrap_output(row) for row in rows]
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValidationError(
                f"{what}[{index}] must be a dict of field to value, got {type(row).__name__}"
            )
    return rows


def length_of(value: Sequence[Any] | pa.Table) -> int:
    return value.num_rows if isinstance(value, pa.Table) else len(value)
