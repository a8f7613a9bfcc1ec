"""Appends whose columns differ from the table's: the union schema and lossless widening.

A table's parts always share one schema. An append whose rows add columns, lack some, or
hold a wider type makes the table's schema the union (the table's columns first, new ones
after, in their order); a side without a column holds nulls there. A type change is taken
only where every stored value converts losslessly (int64 to double, null to anything,
timestamp units, string to large_string ...); anything else is a `ValidationError`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from ..errors import ValidationError

__all__ = ["conform", "union_schema"]

_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, ValueError,
                OverflowError)


def union_schema(table: str, old: pa.Schema, new: pa.Schema) -> pa.Schema:
    """The schema holding `old`'s columns then `new`'s new ones, each at the wider type.

    Raises:
        ValidationError: a column whose types have no lossless common type (named, with both
            types and what to do).
    """
    old, new = old.remove_metadata(), new.remove_metadata()
    for field in new:
        index = old.get_field_index(field.name)
        if index >= 0 and old.field(index).type != field.type:
            _check_common_type(table, old.field(index), field)
    try:
        unified = pa.unify_schemas([old, new], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValidationError(f"cannot append to {table!r}: {exc}") from None
    return pa.schema([f.with_nullable(True) for f in unified])


def _check_common_type(table: str, old: pa.Field[Any], new: pa.Field[Any]) -> None:
    """Refuse two types of one column with no lossless common type."""
    try:
        pa.unify_schemas([pa.schema([old]), pa.schema([new])],
                                  promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise ValidationError(
            f"cannot append to {table!r}: column {old.name!r} is {old.type} in the table and "
            f"{new.type} in the new rows, and neither converts to the other without loss; cast "
            f"the new rows' column to {old.type}, or push the table again with push_dataframe "
            "under the new type") from None


def conform(table: pa.Table, schema: pa.Schema, what: str) -> pa.Table:
    """`table` with exactly `schema`'s columns in its order: missing ones null, others cast
    losslessly.

    Raises:
        ValidationError: a value that does not convert without loss (naming the column).
    """
    columns = []
    for field in schema:
        index = table.schema.get_field_index(field.name)
        if index < 0:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(index)
        if column.type != field.type:
            try:
                column = column.cast(field.type, safe=True)
            except _CAST_ERRORS as exc:
                raise ValidationError(
                    f"cannot append to {what}: column {field.name!r} must widen from "
                    f"{column.type} to {field.type}, but its values do not convert without "
                    f"loss ({str(exc)[:160]}); cast the new rows to the table's type, or push "
                    "the table again with push_dataframe") from None
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)
