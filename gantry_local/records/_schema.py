"""Per-application schemas: which columns exist, their logical types, and record validation.

Two tables per application: ``records`` (inputs, outputs, tags) and ``feedback``.
Columns are named ``<section>.<field>``; nested dicts flatten to dotted names.
A schema is copy-on-write: readers (the logging fast path) never lock, writers
swap in new dicts under the application's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from .._names import MAX_FIELD_DEPTH, check_field_name, is_valid_text
from ..errors import ValidationError
from . import _types as types
from ._types import INT_MAX, INT_MIN

__all__ = ["MAX_COLUMNS", "SECTIONS", "AppSchema", "SchemaDraft", "table_of"]

SECTIONS = ("inputs", "outputs", "feedback", "tags")
RECORDS, FEEDBACK = "records", "feedback"
_NONE = type(None)
_EMPTY: frozenset[type] = frozenset()
_TAG_TYPES = frozenset({str})
_MAX_SHAPES = 1024
# Each new field is one ALTER TABLE and widens every later insert: past this many columns a
# table's flushes take seconds, so a record that would add more is refused at call time.
MAX_COLUMNS = 1000


def table_of(section: str) -> str:
    """Which table a section's columns live in."""
    return FEEDBACK if section == "feedback" else RECORDS


class AppSchema:
    """The logical columns of one application's two tables, plus the fast-path lookup maps."""

    def __init__(self, records: Mapping[str, str], feedback: Mapping[str, str]) -> None:
        self.lock = threading.Lock()
        self.columns: dict[str, dict[str, str]] = {RECORDS: dict(records), FEEDBACK: dict(feedback)}
        self.fast: dict[str, dict[str, frozenset[type]]] = _fast_maps(self.columns)
        # Record shapes (field names and exact value types) already known to fit. Types only
        # widen, so a shape that fitted once fits forever: no invalidation is needed.
        self.shapes: dict[str, set[tuple[tuple[str, ...], tuple[type, ...]]]] = {
            section: set() for section in SECTIONS}

    def fits(self, section: str, record: dict[str, Any]) -> bool:
        """True when `record` needs no schema change: a set look-up for a familiar shape."""
        shape = (tuple(record), tuple(map(type, record.values())))
        shapes = self.shapes[section]
        if shape in shapes:
            return int not in shape[1] or types.ints_in_range(record.values())
        if fits(record, self.fast[section]):
            if len(shapes) < _MAX_SHAPES:
                shapes.add(shape)
            return True
        return False

    def snapshot(self, table: str) -> dict[str, str]:
        """The current columns of `table` (a dict that is never mutated afterwards)."""
        return self.columns[table]

    def draft(self) -> SchemaDraft:
        """A tentative copy to validate one call against; nothing changes until `commit`."""
        return SchemaDraft(self)

    def commit(self, draft: SchemaDraft) -> None:
        """Apply a draft's new and widened columns (call with `lock` held)."""
        if not draft.changes:
            return
        columns = {table: dict(cols) for table, cols in self.columns.items()}
        for (table, column), logical in draft.changes.items():
            current = columns[table].get(column)
            merged = logical if current is None else types.widen(current, logical)
            if merged is None:  # another thread won a race with a clashing type
                raise _clash(column, current or "", logical)
            columns[table][column] = merged
        self.fast = _fast_maps(columns)
        self.columns = columns


class SchemaDraft:
    """A schema under validation: the committed columns plus this call's changes."""

    def __init__(self, schema: AppSchema) -> None:
        self._schema = schema
        self.changes: dict[tuple[str, str], str] = {}
        self._added: dict[str, int] = {}
        self.fast: dict[str, dict[str, frozenset[type]]] = {
            section: dict(keys) for section, keys in schema.fast.items()
        }

    def columns(self, table: str) -> dict[str, str]:
        """The committed columns of `table` with this draft's changes applied."""
        merged = dict(self._schema.columns[table])
        merged.update({c: t for (tb, c), t in self.changes.items() if tb == table})
        return merged

    def current(self, table: str, column: str) -> str | None:
        return self.changes.get((table, column)) or self._schema.columns[table].get(column)

    def normalise(self, section: str, record: Mapping[str, Any], where: str) -> dict[str, Any]:
        """Flatten one section of one record, check its types, and note new or widened columns.

        Returns:
            The flat dict to buffer (keys without the section prefix).

        Raises:
            ValidationError: unsupported value, bad field name, or a type clash.
        """
        if not isinstance(record, Mapping):
            raise ValidationError(
                f"{where}: {section} must be a dict of field to value, got {type(record).__name__}"
            )
        flat: dict[str, Any] = {}
        _flatten(record, "", flat, f"{where} {section}")
        table = table_of(section)
        for key, value in flat.items():
            column = f"{section}.{key}"
            if section == "tags":
                if not isinstance(value, str):
                    raise ValidationError(
                        f"{where}: tag {key!r} must be a string, got {type(value).__name__}; "
                        "tags are string-to-string maps"
                    )
                if not is_valid_text(value):
                    raise types.invalid_text(f"{where}: tag {key!r}", value)
                logical = "str"
            else:
                logical, flat[key] = types.from_python(value, f"{where} field {column!r}")
            self.note(table, column, logical)
        return flat

    def note(self, table: str, column: str, logical: str) -> None:
        """Record that `column` holds `logical` values; raise on a clash."""
        current = self.current(table, column)
        if current is None:
            self._count_new(table, column)
            merged = logical
        else:
            widened = types.widen(current, logical)
            if widened is None:
                raise _clash(column, current, logical)
            merged = widened
        if merged != current:
            self.changes[(table, column)] = merged
            section, _, key = column.partition(".")
            self.fast.setdefault(section, {})[key] = _accepted(section, merged)

    def _count_new(self, table: str, column: str) -> None:
        added = self._added.get(table, 0)
        if len(self._schema.columns[table]) + added >= MAX_COLUMNS:
            raise ValidationError(
                f"field {column!r} would be column {MAX_COLUMNS + 1} of this application's {table} "
                f"table; the limit is {MAX_COLUMNS}. Log wide features as one list or struct "
                "field, or split them over several applications."
            )
        self._added[table] = added + 1


def _flatten(record: Mapping[str, Any], prefix: str, out: dict[str, Any], where: str,
             parents: tuple[Mapping[str, Any], ...] = ()) -> None:
    if len(parents) >= MAX_FIELD_DEPTH or any(record is p for p in parents):
        raise _too_deep(where, prefix, parents, record)
    for key, value in record.items():
        check_field_name(key, where)
        name = prefix + key
        if isinstance(value, Mapping):
            if not value:
                continue
            _flatten(value, name + ".", out, where, (*parents, record))
        elif name in out:
            raise ValidationError(f"{where}: field {name!r} is given twice (a dotted name and a "
                                  "nested dict flatten to the same column); keep one of them")
        else:
            out[name] = list(value) if isinstance(value, tuple) else value


def _too_deep(where: str, prefix: str, parents: tuple[Mapping[str, Any], ...],
              record: Mapping[str, Any]) -> ValidationError:
    if any(record is p for p in parents):
        return ValidationError(f"{where}: the dict at {prefix[:-1][:60]!r} contains itself (a "
                               "cycle); log a copy without the reference")
    return ValidationError(f"{where}: dicts nest more than {MAX_FIELD_DEPTH} levels deep (at "
                           f"{prefix[:60]!r}...); flatten the value or log it as a string")


def fits(record: Mapping[str, Any], accepted: Mapping[str, frozenset[type]]) -> bool:
    """True when every value's exact type is already accepted (and every int fits 64 bits):
    the cheap, lock-free check."""
    get = accepted.get
    for key, value in record.items():
        kind = type(value)
        if kind not in get(key, _EMPTY) or (kind is int and not INT_MIN <= value <= INT_MAX):
            return False
    return True


def _accepted(section: str, logical: str) -> frozenset[type]:
    if section == "tags":
        return _TAG_TYPES
    return types.python_types(logical) | {_NONE}


def _fast_maps(columns: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, frozenset[type]]]:
    maps: dict[str, dict[str, frozenset[type]]] = {section: {} for section in SECTIONS}
    for cols in columns.values():
        for column, logical in cols.items():
            section, _, key = column.partition(".")
            if section in maps:
                maps[section][key] = _accepted(section, logical)
    return maps


def _clash(column: str, old: str, new: str) -> ValidationError:
    return ValidationError(
        f"field {column!r} was logged as {old} and is now {new}; a field keeps one type "
        "(only int widens to float). Log it under another name or convert the values."
    )
