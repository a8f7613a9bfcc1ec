"""The single-record hot path: `log_record` validated on the caller's thread, then buffered.

`SingleRecords.log_one` is the hot path of a model server: a prediction whose shape (field
names and value types) is already known costs one dict look-up, one lock and one list
extend: its values join the other records of the same layout in a flat list (see
`RowSlot`, whose positions `TIME`, `KEY`, `VERSION`, `TAGS` come first). Anything new (a
field, a nested dict, a widened type, feedback) takes the careful path, `_log_one`, which
validates the whole call against a draft schema and commits it only if all of it is valid,
so a rejected call stores nothing. The differential tests (tests/test_roundtrip.py) log
each record twice and check that both paths store the same row.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from time import time_ns
from typing import TYPE_CHECKING, Any

from ..errors import NotFoundError, ValidationError
from . import _inputs as args
from . import _types as types
from ._batches import META_WIDTH, RowSlot
from ._schema import RECORDS, AppSchema, SchemaDraft, fits
from ._types import INT_MAX, INT_MIN

if TYPE_CHECKING:
    from ._buffer import LogBuffer

__all__ = ["AppState", "Fields", "Row", "SingleRecords", "shape_of"]

Fields = dict[str, Any]  # one section of a record: field name -> value
# A record as a `RowSlot` holds it: time_us, join key, version, tags, then the values of
# its inputs and outputs (see `_batches.TIME` ...).
Row = tuple[Any, ...]
Shape = tuple[object, ...]  # `shape_of`: field names, then value types
IntPicker = Callable[[Row], tuple[int, ...]]  # a row's int values (their range is checked)

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
    # Prediction shapes known to fit the schema, each with the slot its records gather in
    # and a picker of its int values in a row (None without ints), whose range is still
    # checked per call. Types only widen, so a shape that fitted once fits forever.
    shapes: dict[Shape, tuple[RowSlot, IntPicker | None]] = field(default_factory=dict)
    # One slot per field layout (names of inputs, names of outputs).
    layouts: dict[tuple[tuple[str, ...], tuple[str, ...]], RowSlot] = field(default_factory=dict)

    def slot_for(self, inputs: Fields, outputs: Fields) -> tuple[RowSlot, Fields, Fields]:
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
            # the first position twice: the picker returns a tuple even for one int
            picker = itemgetter(*ints, ints[0]) if ints else None
            self.shapes[shape_of(inputs, outputs)] = (slot, picker)
        return slot, inputs, outputs

    def known_slot(self, inputs: Fields, outputs: Fields) -> RowSlot | None:
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


def shape_of(inputs: Fields, outputs: Fields) -> Shape:
    """A prediction's shape: the field names, then the exact value types, of inputs and
    outputs (names are strings and types are not, so the flat tuple is unambiguous)."""
    return (*inputs, *map(type, inputs.values()), *outputs, *map(type, outputs.values()))


class SingleRecords:
    """`log_record` for a `RecordLogger`: the fast path and the careful one."""

    _buffer: LogBuffer
    _system_clock: bool
    _now_us: Callable[[], int]
    _prefix: str
    _counter: itertools.count[int]
    _random: random.Random
    careful_calls: int

    def log_one(
        self, app: AppState, version: object, inputs: Mapping[str, object] | None,
        outputs: object, feedback: Mapping[str, object] | None, join_key: object,
        timestamp: object, tags: Mapping[str, str] | None, sample_rate: float,
    ) -> str | None:
        """Log one record; its join key, or None when `sample_rate` left it out.

        The fast path below inlines, for speed, `args.wrap_output` (a dict is used as is),
        `shape_of` and `AppState.known_slot` (the shape look-up and the int range check,
        `types.numbers_in_range`), `SchemaDraft.fits` for tags (plus an ASCII check in
        place of `_texts_ok`), `self._stamp` (`new_key`, `args.time_us`, `args.clock_us`)
        and `args.check_version` for ASCII strings. Everything else goes to `_log_one`.
        """
        if (type(inputs) is dict and outputs is not None and feedback is None
                and type(sample_rate) is float and sample_rate == 1.0 and not app.deleted):
            outs = outputs if type(outputs) is dict else args.wrap_output(outputs)
            found = app.shapes.get(
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
                picked = () if ints is None else ints(row)
                if not picked or (min(picked) >= INT_MIN and max(picked) <= INT_MAX):
                    self._buffer.put_row(slot, row)
                    return key
        return self._log_one(app, version, inputs, outputs, feedback, join_key, timestamp, tags,
                             sample_rate)

    def _log_one(
        self, app: AppState, version: object, inputs: object, outputs: object, feedback: object,
        join_key: object, timestamp: object, tags: object, sample_rate: object,
    ) -> str | None:
        """`log_one` for every call: all checks, and the schema updated when the call is valid."""
        self.careful_calls += 1
        if app.deleted:
            raise NotFoundError(f"application {app.name!r} was deleted")
        keep = True  # validated in full either way: a dropped call is refused like a kept one
        if type(sample_rate) is not float or sample_rate != 1.0:
            keep = self._random.random() < args.check_sample_rate(sample_rate)
        ins, outs, fb, tag = _sections(inputs, outputs, feedback, join_key, tags)
        key, when = self._stamp(join_key, timestamp)
        ver = args.check_version(version)
        slot = None if ins is None or outs is None else app.known_slot(ins, outs)
        if slot is not None and not _texts_ok(ins, outs):
            slot = None  # the careful path names the bad string
        if slot is None or fb is not None or tag is not None:
            ins, outs, fb, tag = _careful(app, slot, ins, outs, fb, tag, commit=keep)
            if keep and ins is not None and outs is not None and slot is None:
                slot, ins, outs = app.slot_for(ins, outs)
        if not keep:
            return None
        if slot is None or ins is None or outs is None:
            self._buffer.put((app.uid, when, key, fb))
            return key
        self._buffer.put_row(slot, (when, key, ver, tag, *ins.values(), *outs.values()),
                             None if fb is None else (app.uid, when, key, fb))
        return key

    def new_key(self) -> str:
        """A join key unique across processes: a random per-process prefix and a counter."""
        return f"{self._prefix}{next(self._counter):x}"

    def _stamp(self, join_key: object, timestamp: object) -> tuple[str, int]:
        """A record's join key (a fresh one if None) and time in microseconds."""
        key = self.new_key() if join_key is None else args.check_join_key(join_key)
        if timestamp is not None:
            return key, args.time_us(timestamp)
        return key, time_ns() // 1000 if self._system_clock else self._now_us()


def _sections(inputs: object, outputs: object, feedback: object, join_key: object,
              tags: object) -> tuple[Fields | None, Fields | None, Fields | None, Fields | None]:
    """The sections of one call as dicts, after checking that they make a record."""
    ins = outs = fb = None
    if inputs is not None or outputs is not None:
        if inputs is None or outputs is None:
            raise ValidationError(
                "a prediction needs both inputs and outputs; to log feedback alone, pass "
                "feedback= with the prediction's join_key="
            )
        if type(inputs) is dict:
            ins = inputs
        elif isinstance(inputs, Mapping):
            ins = args.as_dict(inputs, "inputs")
        else:
            raise ValidationError(
                f"inputs must be a dict of field to value, got {type(inputs).__name__}; "
                "use log_records() for lists and frames"
            )
        outs = args.wrap_output(outputs)
    elif feedback is None:
        raise ValidationError("nothing to log: pass inputs and outputs, or feedback with a "
                              "join_key")
    elif join_key is None:
        raise ValidationError("feedback alone needs the join_key of the prediction it is for")
    elif tags is not None:
        raise ValidationError("tags describe predictions; log them with inputs and outputs")
    if feedback is not None:
        if type(feedback) is dict:
            fb = feedback
        elif isinstance(feedback, Mapping):
            fb = args.as_dict(feedback, "feedback")
        else:
            raise ValidationError(f"feedback must be a dict, got {type(feedback).__name__}")
    if tags is not None and type(tags) is not dict:
        raise ValidationError(f"tags must be a dict of strings, got {type(tags).__name__}")
    return ins, outs, fb, tags  # type: ignore[return-value]


def _careful(app: AppState, slot: RowSlot | None, inputs: Fields | None, outputs: Fields | None,
             feedback: Fields | None, tags: Fields | None, commit: bool = True
             ) -> tuple[Fields | None, Fields | None, Fields | None, Fields | None]:
    """The sections of a call that is not a familiar prediction alone: checked against the
    schema (new columns committed only if the whole call is valid, and `commit`) and copied."""
    schema = app.schema
    if ((slot is not None or inputs is None or outputs is None
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
        commit_draft(app, draft)
    return inputs, outputs, feedback, tags


def commit_draft(app: AppState, draft: SchemaDraft) -> None:
    """Make the columns a validated call added visible to every thread."""
    if draft.changes:
        with app.schema.lock:
            app.schema.commit(draft)


def _texts_ok(*sections: Fields | None) -> bool:
    """True when every string value of the given sections is valid Unicode."""
    return all(section is None or types.texts_valid(section.values()) for section in sections)
