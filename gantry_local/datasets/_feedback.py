"""Refreshing a dataset's feedback columns from the latest feedback, as a new version.

Curated rows are frozen when curated; labels often arrive later. `refresh_feedback` joins
the latest feedback onto a version's rows by ``__join_key`` (a key with no feedback keeps
what it had), part by part, so each part keeps the version number that added its rows.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa

from ..errors import ValidationError
from . import _tables
from ._manifest import TABLE, FileEntry, Part
from ._view import DatasetView

__all__ = ["JOIN_KEY", "feedback_frame", "refreshed_entry"]

JOIN_KEY = "__join_key"
PREFIX = "feedback."


def feedback_frame(source: Any) -> pl.DataFrame:
    """The latest feedback per join key: from an application (all its records, whenever
    logged) or a frame with ``__join_key`` and ``feedback.*`` columns."""
    query = getattr(source, "query", None)
    if callable(query) and not isinstance(source, (pl.DataFrame, pa.Table)):
        source = query(all_time=True)
        to_arrow = getattr(source, "to_arrow", None)
        if callable(to_arrow):
            source = to_arrow()
    table = _tables.frame_to_table(source)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    columns = [c for c in frame.columns if c.startswith(PREFIX)]
    if JOIN_KEY not in frame.columns:
        raise ValidationError(f"the feedback has no {JOIN_KEY!r} column to match rows by")
    if frame.schema[JOIN_KEY] not in (pl.String, pl.Null):
        raise ValidationError(f"the feedback's {JOIN_KEY!r} column holds {frame.schema[JOIN_KEY]}, "
                              "not text: join keys are strings (as log_record returns them)")
    frame = frame.select(JOIN_KEY, *columns)
    if columns:
        frame = frame.filter(pl.any_horizontal(pl.col(columns).is_not_null()))
    return frame.unique(JOIN_KEY, keep="last", maintain_order=True)


def _refresh(rows: pl.DataFrame, feedback: pl.DataFrame) -> pl.DataFrame:
    """`rows` with each ``feedback.*`` value replaced by the latest one for its key."""
    new = [c for c in feedback.columns if c != JOIN_KEY]
    renamed = feedback.rename({c: f"{c}\u0000new" for c in new})
    joined = rows.join(renamed, on=JOIN_KEY, how="left", maintain_order="left")
    updates = []
    for column in new:
        latest = pl.col(f"{column}\u0000new")
        if column in rows.columns:
            kind = rows.schema[column]
            updates.append(pl.coalesce(latest.cast(kind, strict=False) if kind != pl.Null
                                       else latest, pl.col(column)).alias(column))
        else:
            updates.append(latest.alias(column))
    out = joined.with_columns(updates).drop([f"{c}\u0000new" for c in new])
    return out.select([*rows.columns, *[c for c in new if c not in rows.columns]])


def refreshed_entry(dataset: DatasetView, version_id: str, name: str, entry: FileEntry,
                    feedback: pl.DataFrame) -> FileEntry:
    """A table entry whose parts carry the latest feedback."""
    if entry.kind != TABLE:
        raise ValidationError(f"{name!r} is an artifact, not a table")
    if entry.rows and JOIN_KEY not in dict(entry.schema):
        raise ValidationError(f"table {name!r} has no {JOIN_KEY!r} column, so its rows cannot "
                              "be matched to feedback")
    parts: list[Part] = []
    tables = []
    for part in entry.parts:
        one = FileEntry(TABLE, (part,), entry.schema)
        rows = pl.from_arrow(dataset._read_table(version_id, name, one, True))
        assert isinstance(rows, pl.DataFrame)
        tables.append(_refresh(rows, feedback).to_arrow())
    if not tables:
        return entry
    schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    for part, table in zip(entry.parts, tables, strict=True):
        new = dataset._table_entry(_tables.frame_to_table(table.cast(schema)))
        parts.append(Part(new.parts[0].object, new.parts[0].rows, new.parts[0].bytes,
                          part.added_in or None, new.parts[0].labelled))
    return FileEntry(TABLE, tuple(parts), _tables.schema_of(schema.empty_table()))
