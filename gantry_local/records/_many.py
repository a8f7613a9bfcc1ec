"""Batch ingestion: `log_records` of lists or frames, validated whole, then buffered in chunks.

A call is all or nothing for validation: every record is checked against a draft schema
(dict rows with C-level loops where they share one shape, frames column by column in
Arrow) before anything is buffered. Rows become `RowBatch` chunks, frames `ArrowBatch`
chunks; the flush thread turns them into tables (see `_batches`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from functools import partial
from operator import is_not, itemgetter
from typing import TYPE_CHECKING, Any, cast

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .._names import check_field_name
from ..errors import BufferFullError, NotFoundError, ValidationError
from . import _inputs as args
from . import _types as types
from ._batches import TIME_TYPE, ArrowBatch, RowBatch, SameShapeRows, build_section_columns
from ._schema import RECORDS, SchemaDraft, fits, table_of
from ._single import AppState, commit_draft

if TYPE_CHECKING:
    from ._buffer import LogBuffer

__all__ = ["ManyRecords"]


class ManyRecords:
    """`log_records` for a `RecordLogger`."""

    _buffer: LogBuffer
    _now_us: Callable[[], int]
    _prefix: str
    _batch_ids: itertools.count[int]
    _random: random.Random
    _chunk: int
    _frame_chunk: int

    def log_many(
        self, app: AppState, version: object, inputs: Any, outputs: Any, feedbacks: Any,
        join_keys: Any, timestamps: Any, tags: Any, sample_rate: float,
        sort_on_timestamp: bool = False,
    ) -> list[str]:
        """Log the records of one call; the join keys of those kept (all but the ones
        `sample_rate` left out), in the order given. With `sort_on_timestamp`, records are
        stored in time order (time-window queries are faster on data inserted in order)."""
        if app.deleted:
            raise NotFoundError(f"application {app.name!r} was deleted")
        rate = args.check_sample_rate(sample_rate)
        ver = args.check_version(version)
        prediction = inputs is not None or outputs is not None
        if prediction and (inputs is None or outputs is None):
            raise ValidationError("predictions need both inputs and outputs (one entry per "
                                  "record); to log feedback alone pass feedbacks= and join_keys=")
        if not prediction and feedbacks is None:
            raise ValidationError("nothing to log: pass inputs and outputs, or feedbacks with "
                                  "join_keys")
        if not prediction and join_keys is None:
            raise ValidationError("feedback alone needs join_keys: one per feedback, naming the "
                                  "prediction it is for")
        if not prediction and tags is not None:
            raise ValidationError("tags describe predictions; log them with inputs and outputs")

        frames = any(args.is_frame(v) for v in (inputs, outputs, feedbacks))
        sections: dict[str, Any] = {}
        for section, value in (("inputs", inputs), ("outputs", outputs), ("feedback", feedbacks)):
            if value is None:
                continue
            if args.is_frame(value):
                sections[section] = args.frame_to_arrow(value, section)
            else:
                sections[section] = args.as_rows(value, section, scalar_ok=section == "outputs")
        count = _common_length(sections)
        given_keys: list[str] | None = None
        made: list[str] = []  # keys made chunk by chunk (frames, no sampling)
        keys: pa.Array[Any] | None
        if join_keys is None and frames and rate >= 1.0:
            keys = None  # made per chunk, so the writer starts before all keys exist
        elif join_keys is None:
            keys = self._key_array(count)
        else:
            given_keys = [args.check_join_key(k) for k in _sized(join_keys, count, "join_keys")]
            keys = pa.array(given_keys, pa.string())
        times: pa.Array[Any]
        if timestamps is None:
            times = _repeat(self._now_us(), TIME_TYPE, count)
        else:
            times = pa.array([args.time_us(t) for t in _sized(timestamps, count, "timestamps")],
                             TIME_TYPE)
        tag_rows = _tag_rows(tags, count)
        order = _time_order(times) if sort_on_timestamp and timestamps is not None else None
        if keys is None and order is not None:
            keys = self._key_array(count)

        if rate < 1.0:  # the whole call is validated first: a dropped record is checked too
            assert keys is not None
            self._validate(app, sections, tag_rows)
            draw = self._random.random
            kept = [i for i in range(count) if draw() < rate]
            picked = pa.array(kept, pa.int64())
            sections = {s: _pick(v, kept) for s, v in sections.items()}
            times, keys = times.take(picked), keys.take(picked)
            tag_rows = None if tag_rows is None else [tag_rows[i] for i in kept]
            if order is not None:
                order = _time_order(times)
        result = keys
        if order is not None:
            assert keys is not None
            listed = cast(list[int], order.to_pylist())
            sections = {s: _pick(v, listed) for s, v in sections.items()}
            times, keys = times.take(order), keys.take(order)
            tag_rows = None if tag_rows is None else [tag_rows[i] for i in listed]

        draft = app.schema.draft()
        batches: Iterable[RowBatch | ArrowBatch]
        if frames:
            batches = self._arrow_batches(app, draft, ver, sections, keys, times, tag_rows, made)
        else:
            assert keys is not None
            batches = self._row_batches(app, draft, ver, sections, keys, times, tag_rows)
        self._put_all(batches)
        if given_keys is not None and rate >= 1.0:
            return given_keys
        return made if result is None else _strings(result)

    @staticmethod
    def _validate(app: AppState, sections: dict[str, Any],
                  tag_rows: list[dict[str, str]] | None) -> None:
        """Check every record of a call against a draft schema that is then thrown away."""
        draft = app.schema.draft()
        for section, value in sections.items():
            if isinstance(value, pa.Table):
                _check_frame(draft, section, value)
            else:
                _check_section(draft, section, value)
        if tag_rows is not None:
            _check_rows(draft, "tags", tag_rows)

    def _row_batches(
        self, app: AppState, draft: SchemaDraft, version: str | None, sections: dict[str, Any],
        keys: pa.Array[Any], times: pa.Array[Any], tag_rows: list[dict[str, str]] | None,
    ) -> list[RowBatch]:
        checked: dict[str, list[dict[str, Any]] | SameShapeRows] = {}
        for section, rows in sections.items():
            checked[section] = _check_section(draft, section, rows)
        tags = None if tag_rows is None else _check_rows(draft, "tags", tag_rows)
        commit_draft(app, draft)
        whole = RowBatch(app, times, keys, version, checked.get("inputs"), checked.get("outputs"),
                         checked.get("feedback"), tags)
        return [whole.part(start, start + self._chunk) for start in range(0, len(keys), self._chunk)]

    def _arrow_batches(
        self, app: AppState, draft: SchemaDraft, version: str | None, sections: dict[str, Any],
        keys: pa.Array[Any] | None, times: pa.Array[Any], tag_rows: list[dict[str, str]] | None,
        made: list[str],
    ) -> Iterator[ArrowBatch]:
        """The call's chunks, built one at a time after the whole call is validated (so a
        type clash stores nothing); with `keys` None, fresh keys are made per chunk and
        appended to `made` once the chunk is buffered (while the flush thread writes)."""
        columns: dict[str, dict[str, pa.Array[Any]]] = {}
        for section, value in sections.items():
            if isinstance(value, pa.Table):
                columns[section] = _check_frame(draft, section, value)
            else:
                rows = _check_rows(draft, section, value)
                columns[section] = build_section_columns(section, rows, draft.columns(table_of(section)))
        if tag_rows is not None:
            rows = _check_rows(draft, "tags", tag_rows)
            columns["tags"] = build_section_columns("tags", rows, draft.columns(RECORDS))
        commit_draft(app, draft)
        count = len(times)
        prefix = f"{self._prefix}{next(self._batch_ids):x}." if keys is None else ""
        versions = _repeat(version, pa.string(), count) if "inputs" in columns else None
        for start in range(0, count, self._frame_chunk):
            size = min(self._frame_chunk, count - start)
            chunk_keys = _numbered(prefix, start, size) if keys is None \
                else keys.slice(start, size)
            meta = {"__time": times.slice(start, size), "__join_key": chunk_keys}
            records = feedback = None
            if versions is not None:
                records = pa.table({**meta, "__version": versions.slice(start, size),
                                    **_sliced(columns["inputs"], start, size),
                                    **_sliced(columns["outputs"], start, size),
                                    **_sliced(columns.get("tags", {}), start, size)})
            if "feedback" in columns:
                feedback = pa.table({**meta, **_sliced(columns["feedback"], start, size)})
            yield ArrowBatch(app, records, feedback)
            if keys is None:
                made += cast(list[str], chunk_keys.to_pylist())

    def _put_all(self, batches: Iterable[RowBatch | ArrowBatch]) -> None:
        accepted = 0
        for batch in batches:
            try:
                self._buffer.put(batch, batch.size)
            except BufferFullError as exc:
                raise BufferFullError(
                    f"{exc} {accepted:,} records of this call were buffered and will be written; "
                    "the rest were not logged.", accepted) from None
            accepted += batch.size

    def _key_array(self, count: int) -> pa.Array[Any]:
        """`count` fresh join keys: ``<prefix><call>.<n>``.

        The dot keeps them apart from single-record keys (``<prefix><hex counter>``).
        """
        return _numbered(f"{self._prefix}{next(self._batch_ids):x}.", 0, count)


def _numbered(prefix: str, start: int, count: int) -> pa.Array[Any]:
    """``prefix + str(n)`` for n in [start, start + count), built by polars (pyarrow's
    binary_join imports pandas on first use)."""
    keys = pl.select(pl.lit(prefix) + pl.int_range(start, start + count, dtype=pl.Int64)
                     .cast(pl.String)).to_series().to_arrow()
    return cast("pa.Array[Any]", keys.cast(pa.string()))


def _strings(array: pa.Array[Any], step: int = 50_000) -> list[str]:
    """`array.to_pylist()` in slices: one call over a million strings would hold the GIL
    (and the flush thread) for a tenth of a second."""
    out: list[str] = []
    for start in range(0, len(array), step):
        out += cast(list[str], array.slice(start, step).to_pylist())
    return out


def _sliced(columns: dict[str, pa.Array[Any]], start: int, size: int) -> dict[str, pa.Array[Any]]:
    return {name: array.slice(start, size) for name, array in columns.items()}


def _repeat(value: int | str | None, arrow_type: pa.DataType, count: int) -> pa.Array[Any]:
    """`count` copies of one value (None gives nulls) as an Arrow array of `arrow_type`.

    Built by polars: pyarrow's first conversion of a Python value imports pandas (0.3 s).
    """
    if value is None:
        return cast("pa.Array[Any]", pa.nulls(count, arrow_type))  # type: ignore[call-overload]
    series = pl.repeat(value, count, eager=True, dtype=pl.Int64 if isinstance(value, int)
                       else pl.String).to_arrow()
    return cast("pa.Array[Any]", series.cast(arrow_type))


def _check_same_shape(draft: SchemaDraft, section: str, rows: list[Any]) -> SameShapeRows | None:
    """The rows as columns when every row is a dict with exactly the first row's fields and
    every value's type is already accepted; None to take the general, row-by-row path.

    Every loop here runs in C (``map``, ``set``, ``itemgetter``): a batch of a million
    records is checked in a fraction of what a Python loop over them costs.
    """
    if not rows or set(map(type, rows)) != {dict}:
        return None
    names = tuple(rows[0])
    if not names or set(map(len, rows)) != {len(names)}:
        return None  # (rows without fields: columns alone would not say how many there are)
    columns = []
    for name in names:
        check_field_name(name, f"{section} of record 0")
        try:
            column = list(map(itemgetter(name), rows))
        except KeyError:
            return None
        seen = set(map(type, column))
        if int in seen and not _column_ints_fit(column, seen):
            return None  # the careful path names the value
        if not types.column_texts_valid(column, seen):
            return None
        allowed = draft.fast[section].get(name)
        if allowed is None or not seen <= allowed:
            logical = types.logical_of_types(seen)
            if logical is None:  # nested dicts, lists, numpy ...: the careful path
                return None
            draft.note(table_of(section), f"{section}.{name}", logical)
        columns.append(column)
    return SameShapeRows(names, columns)


def _column_ints_fit(column: list[Any], seen: set[type]) -> bool:
    """True when every int in a column fits 64 bits; min and max in C where they can."""
    if seen <= {int, _NONE}:
        return types.numbers_in_range(list(filter(_not_none, column)) if _NONE in seen
                                      else column)
    return types.ints_in_range(column)


_NONE = type(None)
_not_none = partial(is_not, None)


def _check_section(draft: SchemaDraft, section: str, rows: list[Any]
                   ) -> list[dict[str, Any]] | SameShapeRows:
    same = _check_same_shape(draft, section, rows)
    return same if same is not None else _check_rows(draft, section, rows)


def _check_rows(draft: SchemaDraft, section: str, rows: list[Any]) -> list[dict[str, Any]]:
    """Validated flat copies of dict rows, noting new columns in the draft."""
    accepted = draft.fast[section]
    out = []
    for index, row in enumerate(rows):
        if type(row) is dict and fits(row, accepted) and types.texts_valid(row.values()):
            out.append(row.copy())
        else:
            out.append(draft.normalise(section, row, f"record {index}"))
            accepted = draft.fast[section]
    return out


def _check_frame(draft: SchemaDraft, section: str, table: pa.Table) -> dict[str, pa.Array[Any]]:
    """Arrow columns of a frame section, flattened, typed and noted in the draft."""
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    names = table.column_names
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValidationError(f"{section}: columns {twice} are given twice (a dotted column name "
                              "and a struct column flatten to the same field); keep one of them")
    out: dict[str, pa.Array[Any]] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        full = f"{section}.{name}"
        logical = types.from_arrow(column.type, f"{section} column {name!r}")
        if section == "tags" and logical != "str":
            raise ValidationError(f"tag {name!r} must hold strings, got {column.type}")
        draft.note(table_of(section), full, logical)
        target = types.arrow_type(logical)
        try:
            if pa.types.is_dictionary(column.type):
                column = column.cast(column.type.value_type)
            timestamps = _check_time_range(column, f"{section} column {name!r}")
            # unsafe only for timestamps (nanoseconds truncate), whose range was just checked
            column = column.cast(target, safe=not timestamps) if column.type != target else column
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ValidationError(f"{section} column {name!r} cannot be stored as {logical}: "
                                  f"{exc}") from exc
        # one chunk (polars, most tables) is used as it is: combining would copy every buffer
        out[full] = cast("pa.Array[Any]", column.chunk(0) if column.num_chunks == 1
                         else column.combine_chunks())
    return out


_US_PER_UNIT = {"s": 1_000_000, "ms": 1000, "us": 1}
_DAY_RANGE = (date.min - date(1970, 1, 1)).days, (date.max - date(1970, 1, 1)).days


def _check_time_range(column: pa.ChunkedArray[Any], where: str) -> bool:
    """True for a column of timestamps (or lists of them), after checking that its dates and
    times lie in years 1 to 9999: Arrow's unsafe cast to microseconds would wrap them."""
    values: Any = column
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        values = pc.list_flatten(values)
    kind = values.type
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return False
    if pa.types.is_timestamp(kind) and kind.unit == "ns":  # int64 nanoseconds: 1677 to 2262
        return True
    ints = values.cast(pa.int64() if pa.types.is_date64(kind) or pa.types.is_timestamp(kind)
                       else pa.int32())
    low, high = (v.as_py() for v in pc.min_max(ints).values())
    if low is None:
        return pa.types.is_timestamp(kind)
    if pa.types.is_timestamp(kind):
        scale = _US_PER_UNIT[kind.unit]
        inside = low * scale >= args.MIN_US and high * scale <= args.MAX_US
    else:
        per_day = 86_400_000 if pa.types.is_date64(kind) else 1
        inside = _DAY_RANGE[0] * per_day <= low and high < (_DAY_RANGE[1] + 1) * per_day
    if not inside:
        raise ValidationError(f"{where} holds dates or times outside years 1 to 9999")
    return pa.types.is_timestamp(kind)


def _common_length(sections: Mapping[str, Any]) -> int:
    lengths = {s: args.length_of(v) for s, v in sections.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{s}={n}" for s, n in lengths.items())
        raise ValidationError(f"inputs, outputs and feedbacks must have one entry per record; got "
                              f"{detail}")
    return next(iter(lengths.values()))


def _sized(value: Any, count: int, what: str) -> list[Any]:
    items = args.as_list(value, what)
    if len(items) != count:
        raise ValidationError(f"{what} has {len(items)} entries but there are {count} records")
    return items


def _tag_rows(tags: Any, count: int) -> list[dict[str, str]] | None:
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        shared = dict(tags)
        return [shared] * count
    rows = _sized(tags, count, "tags")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValidationError(f"tags[{index}] must be a dict of strings, got "
                                  f"{type(row).__name__}")
    return rows


def _pick(value: Any, kept: list[int]) -> Any:
    if isinstance(value, pa.Table):
        return value.take(pa.array(kept, pa.int64()))
    return [value[i] for i in kept]


def _time_order(times: pa.Array[Any]) -> pa.Array[Any] | None:
    """The positions that put `times` in order (stable), or None when they already are."""
    if len(times) < 2:
        return None
    ints = times.cast(pa.int64())
    if pc.all(pc.greater_equal(ints[1:], ints[:-1])).as_py():
        return None
    return cast("pa.Array[Any]", pc.sort_indices(ints))
