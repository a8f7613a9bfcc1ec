"""Row-level diff of two dataset versions, computed by DuckDB over the verified tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb
import polars as pl

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
    con = duckdb.connect()
    try:
        con.register("a", left)
        con.register("b", right)
        cols = ", ".join(quote_ident(c) for c in shared) or "NULL"
        if key is None:
            added = con.sql(f"SELECT {cols} FROM b EXCEPT ALL SELECT {cols} FROM a").pl()
            removed = con.sql(f"SELECT {cols} FROM a EXCEPT ALL SELECT {cols} FROM b").pl()
            changed = pl.DataFrame()
        else:
            k = quote_ident(key)
            added = con.sql(f"SELECT b.* FROM b ANTI JOIN a ON a.{k} = b.{k}").pl()
            removed = con.sql(f"SELECT a.* FROM a ANTI JOIN b ON a.{k} = b.{k}").pl()
            row_a = f"hash({', '.join('a.' + quote_ident(c) for c in shared)})"
            row_b = f"hash({', '.join('b.' + quote_ident(c) for c in shared)})"
            changed = con.sql(f"SELECT b.* FROM b JOIN a ON a.{k} = b.{k} "
                              f"WHERE {row_a} <> {row_b}").pl()
    finally:
        con.close()
    return DatasetDiff(
        full_a, full_b, key, added, removed, changed,
        columns_added=[c for c in types_b if c not in types_a],
        columns_removed=[c for c in types_a if c not in types_b],
        columns_retyped={c: (types_a[c], types_b[c]) for c in types_b
                         if c in types_a and types_a[c] != types_b[c]})
