"""Checks and conversions for the arguments of the log calls (everything but the records' fields)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pyarrow as pa

from ..clock import datetime_to_us
from ..errors import ValidationError

__all__ = ["check_join_key", "check_sample_rate", "check_version", "frame_to_arrow", "time_us"]

MAX_JOIN_KEY = 1024


def check_version(version: object) -> str | None:
    """A model version as stored: ints and strings are the same (``10`` == ``"10"``)."""
    if version is None or type(version) is str:
        return version
    if isinstance(version, int) and not isinstance(version, bool):
        return str(version)
    if isinstance(version, str):
        return str(version)
    raise ValidationError(f"version must be an int or a string, got {type(version).__name__}")


def check_join_key(key: object) -> str:
    """A join key as stored: a non-empty string (ints are converted)."""
    if type(key) is str and 0 < len(key) <= MAX_JOIN_KEY:
        return key
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key)
    if isinstance(key, str):
        raise ValidationError(f"join keys must be 1 to {MAX_JOIN_KEY} characters, got {len(key)}")
    raise ValidationError(f"join keys must be strings, got {type(key).__name__}")


def check_sample_rate(rate: object) -> float:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or math.isnan(rate) \
            or not 0 < rate <= 1:
        raise ValidationError(f"sample_rate must be a number in (0, 1], got {rate!r}")
    return float(rate)


def time_us(value: object) -> int:
    """Microseconds since the epoch for a record timestamp; naive datetimes are UTC."""
    if isinstance(value, datetime):
        return datetime_to_us(value)
    if isinstance(value, date):
        raise ValidationError(f"timestamps must be datetimes, got the date {value}")
    raise ValidationError(f"timestamps must be datetimes, got {type(value).__name__}")


def as_list(value: object, what: str) -> list[Any]:
    """A list argument (a list, tuple, or a polars/pandas Series)."""
    if isinstance(value, (list, tuple)):
        return list(value)
    to_list = getattr(value, "to_list", None) or getattr(value, "tolist", None)
    if callable(to_list) and type(value).__module__.split(".")[0] in {"polars", "pandas", "numpy"}:
        return list(to_list())
    raise ValidationError(f"{what} must be a list, got {type(value).__name__}")


def is_frame(value: object) -> bool:
    """True for polars/pandas DataFrames and Series and Arrow tables/record batches."""
    if isinstance(value, (pa.Table, pa.RecordBatch)):
        return True
    module = type(value).__module__.split(".")[0]
    return module in {"polars", "pandas"} and type(value).__name__ in {"DataFrame", "Series"}


def frame_to_arrow(value: object, what: str) -> pa.Table:
    """An Arrow table from a frame; a Series becomes one column named after it (or ``value``)."""
    if isinstance(value, pa.Table):
        return value
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    kind = type(value).__name__
    module = type(value).__module__.split(".")[0]
    name = getattr(value, "name", None)
    if kind == "Series":
        name = name if isinstance(name, str) and name else "value"
        value = value.to_frame(name)  # type: ignore[attr-defined]
    try:
        if module == "polars":
            return value.to_arrow()  # type: ignore[attr-defined,no-any-return]
        return pa.Table.from_pandas(value, preserve_index=False)  # type: ignore[arg-type]
    except Exception as exc:
        raise ValidationError(f"{what}: could not convert the {module} frame to Arrow: {exc}") \
            from exc


def wrap_output(value: object) -> dict[str, Any]:
    """Outputs as a dict: a bare value (number, string, list ...) is stored as ``outputs.value``."""
    if type(value) is dict:
        return value
    if isinstance(value, Mapping):
        return dict(value)
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
