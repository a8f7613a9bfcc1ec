"""The log calls: validate on the caller's thread, buffer, return. Writing happens elsewhere.

`log_one` is the hot path of a model server: a prediction whose shape (field names and
value types) is already known costs one dict look-up, one lock and one list extend: its
values join the other records of the same layout in a flat list (see `RowSlot`).
Anything new (a field, a nested dict, a widened type) takes the careful path, which
validates the whole call against a draft schema and commits it only if all of it is
valid, so a rejected call stores nothing.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from operator import is_not, itemgetter
from time import time_ns
from typing import Any, cast

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .._names import check_field_name
from ..clock import Clock, SystemClock
from ..errors import BufferFullError, NotFoundError, ValidationError
from . import _inputs as args
from . import _types as types
from ._batches import (
    META_WIDTH,
    TIME_TYPE,
    ArrowBatch,
    RowBatch,
    RowSlot,
    SameShapeRows,
    build_section_columns,
)
from ._buffer import LogBuffer
from ._schema import RECORDS, AppSchema, SchemaDraft, fits, table_of
from ._types import INT_MAX, INT_MIN

__all__ = ["AppState", "RecordLogger"]


_uids = itertools.count(1)
_MAX_SHAPES = 4096
_MAX_LAYOUTS = 1024


@dataclass(eq=False)
class AppState:
    """What logging needs to know about an application, shared by every thread.

    `uid` identifies this incarnation of the application: buffered records carry it,
    so records of a deleted application never land in a new one of the same name.
    """

    name: str
    application_type: str
    schema: AppSchema
    deleted: bool = field(default=False)
    uid: int = field(default_factory=lambda: next(_uids))
    # Prediction shapes (`shape_of`) known to fit the schema, each with the slot its
    # records gather in and a getter of its int values in a row (None without ints),
    # whose range is still checked per call. Types only widen, so a shape that fitted
    # once fits forever.
    shapes: dict[tuple[Any, ...], tuple[RowSlot, Callable[[tuple[Any, ...]], Any] | None]] = \
        field(default_factory=dict)
    # One slot per field layout (names of inputs, names of outputs).
    layouts: dict[tuple[tuple[str, ...], tuple[str, ...]], RowSlot] = field(default_factory=dict)

    def slot_for(self, inputs: dict[str, Any], outputs: dict[str, Any]
                 ) -> tuple[RowSlot, dict[str, Any], dict[str, Any]]:
        """The slot for already-valid inputs and outputs, and the dicts to take values from.

        Past `_MAX_LAYOUTS` layouts (optional fields in every combination) records are
        padded with None to every known field, so the number of slots stays bounded.
        """
        layout = (tuple(inputs), tuple(outputs))
        slot = self.layouts.get(layout)
        if slot is None and len(self.layouts) >= _MAX_LAYOUTS:
            columns = self.schema.snapshot(RECORDS)
            layout = (tuple(c[7:] for c in columns if c.startswith("inputs.")),
                      tuple(c[8:] for c in columns if c.startswith("outputs.")))
            inputs = {name: inputs.get(name) for name in layout[0]}
            outputs = {name: outputs.get(name) for name in layout[1]}
            return self._layout_slot(layout), inputs, outputs
        if slot is None:
            slot = self._layout_slot(layout)
        values = (*inputs.values(), *outputs.values())
        # a list's element types are not in its shape: lists always take the careful path
        if len(self.shapes) < _MAX_SHAPES and list not in map(type, values):
            ints = [META_WIDTH + n for n, value in enumerate(values) if type(value) is int]
            # the first position twice: the getter returns a tuple even for one int
            getter = itemgetter(*ints, ints[0]) if ints else None
            self.shapes[shape_of(inputs, outputs)] = (slot, getter)
        return slot, inputs, outputs

    def known_slot(self, inputs: dict[str, Any], outputs: dict[str, Any]) -> RowSlot | None:
        """The slot of a familiar prediction whose ints fit 64 bits, else None."""
        found = self.shapes.get(shape_of(inputs, outputs))
        if found is None:
            return None
        slot, ints = found
        if ints is None:
            return slot
        row = (*(None,) * META_WIDTH, *inputs.values(), *outputs.values())  # as `ints` reads it
        return slot if types.numbers_in_range(ints(row)) else None

    def _layout_slot(self, layout: tuple[tuple[str, ...], tuple[str, ...]]) -> RowSlot:
        slot = self.layouts.get(layout)
        return slot if slot is not None else self.layouts.setdefault(layout, RowSlot(self, *layout))


def shape_of(inputs: dict[str, Any], outputs: dict[str, Any]) -> tuple[Any, ...]:
    """A prediction's shape: the field names, then the exact value types, of inputs and
    outputs (names are strings and types are not, so the flat tuple is unambiguous)."""
    return (*inputs, *map(type, inputs.values()), *outputs, *map(type, outputs.values()))


class RecordLogger:
    """Validates log calls and queues them on a `LogBuffer`."""

    def __init__(self, buffer: LogBuffer, clock: Clock, chunk_records: int = 50_000) -> None:
        self._buffer = buffer
        self._system_clock = type(clock) is SystemClock
        self._now_us: Callable[[], int] = partial(args.clock_us, clock)
        self._prefix = os.urandom(8).hex() + "-"
        self._counter = itertools.count(1)
        self._batch_ids = itertools.count(1)
        self._random = random.Random()
        self._chunk = max(1, min(chunk_records, buffer.capacity))
        self.careful_calls = 0  # log_record calls that missed the fast path (for tests)

    def new_key(self) -> str:
        """A join key unique across processes: a random per-process prefix and a counter."""
        return f"{self._prefix}{next(self._counter):x}"

    # -- one record ---------------------------------------------------------------------------

    def log_one(
        self, app: AppState, version: object, inputs: Any, outputs: Any, feedback: Any,
        join_key: object, timestamp: object, tags: Any, sample_rate: float,
    ) -> str:
        # The common call, a familiar prediction without feedback, in a few steps.
        if (type(inputs) is dict and outputs is not None and feedback is None
                and type(sample_rate) is float and sample_rate == 1.0 and not app.deleted):
            outs = outputs if type(outputs) is dict else args.wrap_output(outputs)
            found = app.shapes.get(  # known_slot and _stamp, inlined
                (*inputs, *map(type, inputs.values()), *outs, *map(type, outs.values())))
            if found is not None and (tags is None or (
                    type(tags) is dict and app.schema.fits("tags", tags)
                    and all(map(str.isascii, tags.values())))):  # else checked carefully
                slot, ints = found
                key = f"{self._prefix}{next(self._counter):x}" if join_key is None else \
                    args.check_join_key(join_key)
                if timestamp is not None:
                    when = args.time_us(timestamp)
                else:
                    when = time_ns() // 1000 if self._system_clock else self._now_us()
                ver = version if version is None or (type(version) is str and version.isascii()
                                                     and 0 < len(version) <= args.MAX_VERSION) \
                    else args.check_version(version)
                row = (when, key, ver, None if tags is None else tags.copy(), *inputs.values(),
                       *outs.values())
                picked = () if ints is None else ints(row)  # numbers_in_range, inlined
                if not picked or (min(picked) >= INT_MIN and max(picked) <= INT_MAX):
                    self._buffer.put_row(slot, row)
                    return key
        return self._log_one(app, version, inputs, outputs, feedback, join_key, timestamp, tags,
                             sample_rate)

    def _log_one(
        self, app: AppState, version: object, inputs: Any, outputs: Any, feedback: Any,
        join_key: object, timestamp: object, tags: Any, sample_rate: float,
    ) -> str:
        """`log_one` for every call: all checks, and the schema updated when the call is valid."""
        self.careful_calls += 1
        if app.deleted:
            raise NotFoundError(f"application {app.name!r} was deleted")
        keep = True  # validated in full either way: a dropped call is refused like a kept one
        if type(sample_rate) is not float or sample_rate != 1.0:
            keep = self._random.random() < args.check_sample_rate(sample_rate)
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValidationError(
                    "a prediction needs both inputs and outputs; to log feedback alone, pass "
                    "feedback= with the prediction's join_key="
                )
            if type(inputs) is not dict:
                if not isinstance(inputs, Mapping):
                    raise ValidationError(
                        f"inputs must be a dict of field to value, got {type(inputs).__name__}; "
                        "use log_records() for lists and frames"
                    )
                inputs = args.as_dict(inputs, "inputs")
            outputs = args.wrap_output(outputs)
        elif feedback is None:
            raise ValidationError("nothing to log: pass inputs and outputs, or feedback with a "
                                  "join_key")
        elif join_key is None:
            raise ValidationError("feedback alone needs the join_key of the prediction it is for")
        elif tags is not None:
            raise ValidationError("tags describe predictions; log them with inputs and outputs")
        if feedback is not None and type(feedback) is not dict:
            if not isinstance(feedback, Mapping):
                raise ValidationError(f"feedback must be a dict, got {type(feedback).__name__}")
            feedback = args.as_dict(feedback, "feedback")
        if tags is not None and type(tags) is not dict:
            raise ValidationError(f"tags must be a dict of strings, got {type(tags).__name__}")

        key, when = self._stamp(join_key, timestamp)
        ver = args.check_version(version)
        slot = None if inputs is None else app.known_slot(inputs, outputs)
        if slot is not None and not _texts_ok(inputs, outputs):
            slot = None  # the careful path names the bad string
        if slot is None or feedback is not None or tags is not None:
            inputs, outputs, feedback, tags = self._careful(app, slot, inputs, outputs, feedback,
                                                            tags, commit=keep)
            if keep and inputs is not None and slot is None:
                slot, inputs, outputs = app.slot_for(inputs, outputs)
        if not keep:
            return key
        if slot is None:
            self._buffer.put((app.uid, when, key, feedback))
            return key
        self._buffer.put_row(slot, (when, key, ver, tags, *inputs.values(), *outputs.values()),
                             None if feedback is None else (app.uid, when, key, feedback))
        return key

    def _stamp(self, join_key: object, timestamp: object) -> tuple[str, int]:
        """A record's join key (a fresh one if None) and time in microseconds."""
        key = self.new_key() if join_key is None else args.check_join_key(join_key)
        if timestamp is not None:
            return key, args.time_us(timestamp)
        return key, time_ns() // 1000 if self._system_clock else self._now_us()

    @staticmethod
    def _careful(app: AppState, slot: RowSlot | None, inputs: Any, outputs: Any, feedback: Any,
                 tags: Any, commit: bool = True) -> tuple[Any, Any, Any, Any]:
        """The sections of a call that is not a familiar prediction alone: checked against
        the schema (new columns committed only if the whole call is valid, and `commit`) and
        copied."""
        schema = app.schema
        if ((slot is not None or inputs is None
             or (fits(inputs, schema.fast["inputs"]) and fits(outputs, schema.fast["outputs"])))
                and (feedback is None or schema.fits("feedback", feedback))
                and (tags is None or schema.fits("tags", tags))
                and _texts_ok(inputs, outputs, feedback, tags)):
            return (inputs, outputs, None if feedback is None else feedback.copy(),
                    None if tags is None else tags.copy())
        draft = schema.draft()
        where = "log_record"
        inputs = None if inputs is None else draft.normalise("inputs", inputs, where)
        outputs = None if outputs is None else draft.normalise("outputs", outputs, where)
        feedback = None if feedback is None else draft.normalise("feedback", feedback, where)
        tags = None if tags is None else draft.normalise("tags", tags, where)
        if commit:
            _commit(app, draft)
        return inputs, outputs, feedback, tags

    # -- many records -------------------------------------------------------------------------

    def log_many(
        self, app: AppState, version: object, inputs: Any, outputs: Any, feedbacks: Any,
        join_keys: Any, timestamps: Any, tags: Any, sample_rate: float,
    ) -> list[str]:
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
        made: list[pa.Array[Any]] = []  # keys made chunk by chunk (frames, no sampling)
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
        all_keys = keys

        if rate < 1.0:  # the whole call is validated first: a dropped record is checked too
            assert keys is not None
            self._validate(app, sections, tag_rows)
            draw = self._random.random
            kept = [i for i in range(count) if draw() < rate]
            picked = pa.array(kept, pa.int64())
            sections = {s: _pick(v, kept) for s, v in sections.items()}
            times, keys = times.take(picked), keys.take(picked)
            tag_rows = None if tag_rows is None else [tag_rows[i] for i in kept]

        draft = app.schema.draft()
        batches: Iterable[RowBatch | ArrowBatch]
        if frames:
            batches = self._arrow_batches(app, draft, ver, sections, keys, times, tag_rows, made)
        else:
            assert keys is not None
            batches = self._row_batches(app, draft, ver, sections, keys, times, tag_rows)
        self._put_all(batches)
        if given_keys is not None:
            return given_keys
        if all_keys is None:
            all_keys = pa.chunked_array(made, pa.string())  # type: ignore[assignment]
        return cast(list[str], all_keys.to_pylist())  # type: ignore[union-attr]

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
        _commit(app, draft)
        whole = RowBatch(app, times, keys, version, checked.get("inputs"), checked.get("outputs"),
                         checked.get("feedback"), tags)
        return [whole.part(start, start + self._chunk) for start in range(0, len(keys), self._chunk)]

    def _arrow_batches(
        self, app: AppState, draft: SchemaDraft, version: str | None, sections: dict[str, Any],
        keys: pa.Array[Any] | None, times: pa.Array[Any], tag_rows: list[dict[str, str]] | None,
        made: list[pa.Array[Any]],
    ) -> Iterator[ArrowBatch]:
        """The call's chunks, built one at a time after the whole call is validated (so a
        type clash stores nothing); with `keys` None, fresh keys are made per chunk and
        appended to `made`."""
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
        _commit(app, draft)
        count = len(times)
        prefix = f"{self._prefix}{next(self._batch_ids):x}." if keys is None else ""
        versions = _repeat(version, pa.string(), count) if "inputs" in columns else None
        for start in range(0, count, self._chunk):
            size = min(self._chunk, count - start)
            if keys is None:
                chunk_keys = _numbered(prefix, start, size)
                made.append(chunk_keys)
            else:
                chunk_keys = keys.slice(start, size)
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


def _commit(app: AppState, draft: SchemaDraft) -> None:
    if draft.changes:
        with app.schema.lock:
            app.schema.commit(draft)


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


def _texts_ok(*sections: dict[str, Any] | None) -> bool:
    """True when every string value of the given sections is valid Unicode."""
    return all(section is None or types.texts_valid(section.values()) for section in sections)


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
        out[full] = column.combine_chunks()
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

