"""Leak-free splits: a dataset version into train and evaluation parts, grouped by content.

A row's *content key* is the md5 of its content columns (by default its ``inputs.*``
columns; a table without them uses every column not starting with ``__``), each value
as text and NULL as a marker, so identical inputs have one key. A split puts every row of
one group (one content key, or one value of a field) on the same side, chosen by the md5
of the seed and the group: the same version, seed and fraction always give the same split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from .._sql import quote_ident
from ..errors import GantryLocalError, StorageError, ValidationError
from . import _tables
from ._checks import check_lineage, check_version_ref
from ._manifest import FileEntry
from ._view import DatasetView

__all__ = ["CONTENT", "Split", "content_columns", "content_keys", "push_parts", "split_version"]

CONTENT = "content"
_NULL = "\u2400"  # stands for NULL inside a key (a value cannot be told from NULL otherwise)
_SEP = "\u241f"
_BUCKETS = 16**8


@dataclass(frozen=True)
class Split:
    """The two versions a split made: `train` and `evaluation` (each a version's details)."""

    train: dict[str, Any]
    evaluation: dict[str, Any]
    by: str
    eval_fraction: float
    seed: int

    def __iter__(self) -> Any:  # train, evaluation = ds.split(...)
        return iter((self.train, self.evaluation))


def content_columns(names: Sequence[str], fields: Sequence[str] | None = None) -> list[str]:
    """The columns whose values make a row's content (see the module docstring)."""
    if fields is not None:
        if isinstance(fields, str) or not all(isinstance(f, str) for f in fields) or not fields:
            raise ValidationError(f"fields must be a non-empty list of column names, got "
                                  f"{fields!r}")
        missing = [f for f in fields if f not in names]
        if missing:
            raise ValidationError(f"no columns {missing} in the table (columns: {list(names)})")
        return list(fields)
    inputs = [n for n in names if n.startswith("inputs.")]
    chosen = inputs or [n for n in names if not n.startswith("__")]
    if not chosen:
        raise ValidationError("the table has no content columns (no inputs.* and no column "
                              "outside __*); name them with fields=")
    return sorted(chosen)


def _key_sql(columns: Sequence[str]) -> str:
    parts = ", ".join(f"coalesce(CAST({quote_ident(c)} AS VARCHAR), $null)" for c in columns)
    return f"md5(concat_ws($sep, {parts}))"


def _keys(table: pa.Table, columns: Sequence[str], seed: str | None = None
          ) -> pa.ChunkedArray[Any]:
    """Per row, the md5 hex of its columns' values (with `seed` first, when given)."""
    con = duckdb.connect()
    try:
        con.register("t", table.select(list(columns)))  # only the columns the key reads
        key = _key_sql(columns)
        if seed is not None:
            key = f"md5($seed || {key})"
        params: dict[str, Any] = {"null": _NULL, "sep": _SEP}
        if seed is not None:
            params["seed"] = seed + _SEP
        result = con.sql(f"SELECT {key} AS k FROM t", params=params).to_arrow_table()  # noqa: S608
    except duckdb.Error as exc:
        types = {c: str(table.schema.field(c).type) for c in columns}
        raise ValidationError(
            f"cannot compute content keys over the columns {types}: DuckDB cannot read one of "
            f"these types as text ({type(exc).__name__}: {str(exc).splitlines()[0]}); group by "
            "other columns (fields=[...] or by='<column>')") from exc
    finally:
        con.close()
    column: pa.ChunkedArray[Any] = result.column("k")
    return column


def content_keys(frame: Any, fields: Sequence[str] | None = None) -> list[str]:
    """The content key of every row of a frame (polars, pandas or Arrow), in row order.

    Example:
        >>> overlap = set(content_keys(eval_rows)) & train.content_keys()
    """
    table = _tables.frame_to_table(frame)
    return [str(k) for k in _keys(table, content_columns(table.column_names, fields)).to_pylist()]


def _check_split_args(eval_fraction: object, by: object, seed: object) -> None:
    if isinstance(eval_fraction, bool) or not isinstance(eval_fraction, (int, float)) or \
            not math.isfinite(eval_fraction) or not 0 < eval_fraction < 1:
        raise ValidationError(f"eval_fraction must be a number between 0 and 1 (exclusive), "
                              f"got {eval_fraction!r}")
    if not isinstance(by, str) or not by:
        raise ValidationError(f"by must be 'content' or a column name, got {by!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValidationError(f"seed must be an integer, got {seed!r}")


def split_version(dataset: DatasetView, version_id: str | None, eval_fraction: float, by: str,
                  seed: int, filename: str | None, fields: Sequence[str] | None
                  ) -> tuple[pa.Table, pa.Table, dict[str, Any]]:
    """The train and evaluation rows of a version's table, and the lineage to store."""
    check_version_ref(version_id)
    _check_split_args(eval_fraction, by, seed)
    if by != CONTENT and fields is not None:
        raise ValidationError(f"fields= names the content columns of by='content'; with "
                              f"by={by!r} the groups are that column's values: pass one or the "
                              "other")
    full = dataset.resolve(version_id)
    table = dataset.read_arrow(full, filename)
    columns = content_columns(table.column_names, fields) if by == CONTENT else \
        content_columns(table.column_names, [by])
    buckets = _keys(table, columns, str(seed))
    threshold = f"{math.floor(eval_fraction * _BUCKETS):08x}"
    is_eval = pc.less(pc.utf8_slice_codeunits(buckets, 0, 8), pa.scalar(threshold))
    evaluation = table.filter(is_eval)
    train = table.filter(pc.invert(is_eval))
    lineage = {"split_of": {"dataset": dataset.name, "version_id": full,
                            "file": filename},
               "by": by, "fields": columns, "eval_fraction": eval_fraction, "seed": seed,
               "rows": {"train": train.num_rows, "evaluation": evaluation.num_rows}}
    return train, evaluation, lineage


def push_parts(targets: Sequence[DatasetView], parts: Sequence[pa.Table], source: str, by: str,
               lineage: dict[str, Any]) -> list[dict[str, Any]]:
    """Commit the train and evaluation parts as new versions of `targets`: both or neither.

    Both tables are uploaded before either commit. If the second commit fails, the first is
    taken back (its commit record deleted while it is still its dataset's latest version)
    and the error is raised; an unreadable part leaves nothing committed.

    Raises:
        StorageError: a commit failed and the first could not be taken back (saying which
            version stays and how to roll it back).
    """
    entries = [target._table_entry(_tables.frame_to_table(rows))
               for target, rows in zip(targets, parts, strict=True)]
    infos: list[dict[str, Any]] = []
    for target, entry, part in zip(targets, entries, ("train", "evaluation"), strict=True):
        message = (f"{part} part ({entry.rows:,} rows) of {source} version "
                   f"{lineage['split_of']['version_id'][:12]}, grouped by {by}")
        try:
            infos.append(target._commit(_put_data(entry), message, None,
                                        check_lineage({**lineage, "part": part})))
        except Exception as exc:
            stays = [f"version {info['version_id']} of dataset {done.name!r} ({reason}); roll "
                     f"it back with get_dataset({done.name!r}).rollback(<its parent>)"
                     for done, info in zip(targets, infos, strict=False)
                     if (reason := _take_back(done, info["version_id"])) is not None]
            if stays:
                raise StorageError(f"{exc}; half of the split stays: {'; '.join(stays)}") from exc
            raise
    return infos


def _put_data(entry: FileEntry) -> Callable[[dict[str, FileEntry]], dict[str, FileEntry]]:
    return lambda files: {**files, "data": entry}


def _take_back(dataset: DatasetView, version_id: str) -> str | None:
    """Remove the commit of `version_id` if it is still `dataset`'s latest version; else the
    reason it stays."""
    try:
        seq, head = dataset._head()
        if head != version_id:
            return f"another version ({head}) was committed after it"
        dataset.store.delete(f"datasets/{dataset.name}/log/{seq:012d}.json")
    except GantryLocalError as exc:
        return f"it could not be taken back: {exc}"
    dataset.store.log_cache.get(dataset.name, {}).pop(seq, None)
    return None
