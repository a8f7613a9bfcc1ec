"""Row-level diff of two dataset versions, computed by DuckDB over the verified tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .._sql import quote_ident
from ..errors import ValidationError

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["DatasetDiff", "diff_versions"]


@dataclass
class DatasetDiff:
    """What changed from version `a` to version `b` of one table.

    Rows are matched by `key` (``__join_key`` when both versions have it, a column the
    caller named, or else whole rows). `changed` holds the `b` side of rows whose key
    exists in both versions with different values in the shared columns.
    """

    a: str
    b: str
    key: str | None
    added: pl.DataFrame
    removed: pl.DataFrame
    changed: pl.DataFrame
    columns_added: list[str] = field(default_factory=list)
    columns_removed: list[str] = field(default_factory=list)
    columns_retyped: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"added": self.added.height, "removed": self.removed.height,
                "changed": self.changed.height}

    def __str__(self) -> str:
        lines = [f"diff {self.a[:12]} -> {self.b[:12]} (matched by "
                 f"{self.key or 'whole rows'}): {self.counts['added']:,} added, "
                 f"{self.counts['removed']:,} removed, {self.counts['changed']:,} changed"]
        if self.columns_added:
            lines.append(f"columns added: {', '.join(self.columns_added)}")
        if self.columns_removed:
            lines.append(f"columns removed: {', '.join(self.columns_removed)}")
        for name, (old, new) in self.columns_retyped.items():
            lines.append(f"column {name}: {old} -> {new}")
        return "\n".join(lines)


def diff_versions(dataset: Dataset, a: str, b: str | None, key: str | None = None,
                  filename: str | None = None) -> DatasetDiff:
    full_a, full_b = dataset.resolve(a), dataset.resolve(b)
    left = dataset.read_arrow(full_a, filename)
    right = dataset.read_arrow(full_b, filename)
    types_a = {f.name: str(f.type) for f in left.schema}
    types_b = {f.name: str(f.type) for f in right.schema}
    shared = [c for c in types_b if c in types_a and types_a[c] == types_b[c]]
    if key is None and "__join_key" in types_a and "__join_key" in types_b:
        key = "__join_key"
    if key is not None and (key not in types_a or key not in types_b):
        raise ValidationError(f"key {key!r} is not a column of both versions")
    added, removed, changed = _row_differences(left, right, shared, key)
    return DatasetDiff(
        full_a, full_b, key, added, removed, changed,
        columns_added=[c for c in types_b if c not in types_a],
        columns_removed=[c for c in types_a if c not in types_b],
        columns_retyped={c: (types_a[c], types_b[c]) for c in types_b
                         if c in types_a and types_a[c] != types_b[c]})


def _row_differences(left: pa.Table, right: pa.Table, shared: list[str], key: str | None
                     ) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One DuckDB pass: a full outer join on the key of (key, row hash, row number)."""
    left_rows = left.append_column(_ROW, pl.int_range(0, left.num_rows, eager=True).to_arrow())
    right_rows = right.append_column(_ROW, pl.int_range(0, right.num_rows, eager=True).to_arrow())
    row_hash = f"hash({', '.join(quote_ident(c) for c in shared)})" if shared else "0"
    con = duckdb.connect()
    try:
        con.register("a", left_rows)
        con.register("b", right_rows)
        if key is None:  # whole rows: multiset difference of row hashes
            numbered = (f"SELECT {row_hash} AS h, row_number() OVER (PARTITION BY {row_hash}) AS n, "
                        f"{quote_ident(_ROW)} AS r FROM")
            rows = con.sql(f"""
                SELECT x.r AS ra, y.r AS rb FROM ({numbered} a) x FULL OUTER JOIN ({numbered} b) y
                ON x.h = y.h AND x.n = y.n WHERE x.h IS NULL OR y.h IS NULL""").to_arrow_table()
        else:
            k = quote_ident(key)
            part = f"SELECT {k} AS k, {row_hash} AS h, {quote_ident(_ROW)} AS r FROM"
            rows = con.sql(f"""
                SELECT x.r AS ra, y.r AS rb FROM ({part} a) x FULL OUTER JOIN ({part} b) y
                ON x.k = y.k WHERE x.h IS DISTINCT FROM y.h""").to_arrow_table()
    finally:
        con.close()
    in_a, in_b = rows.column("ra"), rows.column("rb")
    removed = pc.filter(in_a, pc.is_null(in_b))
    added = pc.filter(in_b, pc.is_null(in_a))
    changed = pc.filter(in_b, pc.and_(pc.is_valid(in_a), pc.is_valid(in_b)))

    def take(table: pa.Table, positions: pa.ChunkedArray[Any]) -> pl.DataFrame:
        frame = pl.from_arrow(table.take(positions.take(pc.sort_indices(positions))))
        assert isinstance(frame, pl.DataFrame)
        return frame

    return take(right, added), take(left, removed), take(right, changed)


_ROW = "__gl_diff_row"
