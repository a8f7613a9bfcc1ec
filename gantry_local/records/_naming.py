"""Logical field names and the DuckDB columns that hold them.

Field names are case-sensitive (``inputs.Amount`` and ``inputs.amount`` are two
fields, as two JSON keys are), but DuckDB matches identifiers regardless of the case
of ASCII letters.
So each logical column of a table has a physical column: its own name, unless a
column of that table already has the name in some case; then ``<name>~<n>`` with
the smallest n >= 2 that is free. The first field keeps its name; the mapping is
recorded in ``_gl_columns.physical_name`` and never changes afterwards.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping

import pyarrow as pa

__all__ = ["fold", "physical_name", "to_logical", "to_physical", "unique_names"]

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(name: str) -> str:
    """`name` as DuckDB compares identifiers: ASCII letters lower-cased, nothing else."""
    return name.translate(_ASCII_LOWER)


def physical_name(logical: str, taken: Iterable[str]) -> str:
    """The physical column for a new `logical` column beside the `taken` physical ones."""
    used = {fold(name) for name in taken}
    if fold(logical) not in used:
        return logical
    n = 2
    while fold(f"{logical}~{n}") in used:
        n += 1
    return f"{logical}~{n}"


def unique_names(names: Iterable[str]) -> dict[str, str]:
    """Physical names for `names` in order (each keeps its own unless an earlier one took it
    in another case): for handing DuckDB a table whose columns differ only in case."""
    physical: dict[str, str] = {}
    for name in names:
        physical[name] = physical_name(name, physical.values())
    return physical


def to_physical(table: pa.Table, physical: Mapping[str, str]) -> pa.Table:
    """`table` with its logical column names replaced by their physical ones."""
    names = [physical.get(name, name) for name in table.column_names]
    return table if names == table.column_names else table.rename_columns(names)


def to_logical(table: pa.Table, logical: Mapping[str, str]) -> pa.Table:
    """`table` with its physical column names replaced by the logical ones they hold."""
    names = [logical.get(name, name) for name in table.column_names]
    return table if names == table.column_names else table.rename_columns(names)
