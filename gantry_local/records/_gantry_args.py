"""Gantry's extra logging arguments, turned into what the logger takes.

``feedback_id``/``feedback_ids`` and ``feedback_keys`` are Gantry's older ways to name a
record's join key (a hash of some input values), ``ignore_inputs`` leaves input fields out,
``row_tags``/``global_tags`` are tags per record and for the whole call. None of them is
on the hot path: `Workspace.log_record` resolves them here only when one is given.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from ..errors import ValidationError
from . import _inputs as args

__all__ = [
    "UNSET", "JoinKey", "compute_feedback_id", "drop_ignored", "merge_tags", "resolve_join_key",
    "resolve_join_keys", "wrong_feedback_name",
]


class _Unset:
    """The default of an argument that belongs to the other log call (see `wrong_feedback_name`)."""

    def __repr__(self) -> str:
        return "<unset>"


UNSET: Any = _Unset()


def wrong_feedback_name(call: str) -> ValidationError:
    """The error for ``feedbacks=`` given to `log_record` or ``feedback=`` to `log_records`."""
    if call == "log_record":
        return ValidationError("log_record takes feedback= (one dict for one record); feedbacks= "
                               "(a list, one per record) belongs to log_records and log")
    return ValidationError(f"{call} takes feedbacks= (a list or frame, one entry per record); "
                           "feedback= (one dict) belongs to log_record")


def _encode(value: object) -> object:
    """JSON for the values Gantry's event encoder handles (datetimes, numpy scalars ...)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def compute_feedback_id(inputs: Mapping[str, Any], feedback_keys: Sequence[str] | None = None
                        ) -> str:
    """Gantry's join key from input values: the md5 of the JSON list of the values of
    `feedback_keys` (all inputs when None), in sorted key order.

    Raises:
        ValidationError: `inputs` is not a dict, lacks one of `feedback_keys`, or holds a
            value JSON cannot encode.
    """
    if not isinstance(inputs, Mapping):
        raise ValidationError(f"feedback keys are computed from a dict of inputs, got "
                              f"{type(inputs).__name__}")
    keys = list(inputs) if not feedback_keys else _names(feedback_keys, "feedback_keys")
    missing = [k for k in keys if k not in inputs]
    if missing:
        raise ValidationError(f"feedback_keys {missing} are not among the inputs "
                              f"{sorted(map(str, inputs))}")
    values = [inputs[k] for k in sorted(keys)]
    if any(isinstance(v, float) and not math.isfinite(v) for v in values):
        raise ValidationError("feedback_keys name a NaN or infinite input; a join key needs "
                              "finite values")
    try:
        text = json.dumps(values, sort_keys=True, default=_encode, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"the inputs named by feedback_keys cannot make a join key: "
                              f"{exc}") from exc
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _names(value: object, what: str) -> list[str]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not all(
            isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a list of field names, got {value!r:.80}")
    return list(value)


def resolve_join_key(inputs: object, feedback_id: object, feedback_keys: object,
                     join_key: object) -> object:
    """A record's join key from Gantry's `feedback_id` (a key, or a dict to hash) or
    `feedback_keys` (input fields to hash); `join_key` when neither is given."""
    if feedback_id is None and feedback_keys is None:
        return join_key
    if join_key is not None:
        raise ValidationError("give join_key, or feedback_id/feedback_keys (Gantry's older "
                              "names for it), not both")
    if feedback_id is not None and feedback_keys is not None:
        raise ValidationError("give feedback_id or feedback_keys, not both")
    if isinstance(feedback_id, str):
        return feedback_id
    if isinstance(feedback_id, Mapping):
        return compute_feedback_id(feedback_id, list(feedback_id))
    if feedback_id is not None:
        raise ValidationError(f"feedback_id must be a string or a dict of values to hash, got "
                              f"{type(feedback_id).__name__}")
    if inputs is None:
        raise ValidationError("feedback_keys name input fields: pass the inputs too, or pass "
                              "join_key")
    return compute_feedback_id(inputs, _names(feedback_keys, "feedback_keys"))  # type: ignore[arg-type]


def resolve_join_keys(inputs: object, feedback_ids: object, feedback_keys: object,
                      join_keys: object) -> object:
    """`resolve_join_key` for every record of a `log_records` call."""
    if feedback_ids is None and feedback_keys is None:
        return join_keys
    if join_keys is not None:
        raise ValidationError("give join_keys, or feedback_ids/feedback_keys (Gantry's older "
                              "names for them), not both")
    if feedback_ids is not None and feedback_keys is not None:
        raise ValidationError("give feedback_ids or feedback_keys, not both")
    if feedback_ids is not None:
        return [resolve_join_key(None, fid, None, None)
                for fid in args.as_list(feedback_ids, "feedback_ids")]
    if inputs is None:
        raise ValidationError("feedback_keys name input fields: pass the inputs too, or pass "
                              "join_keys")
    names = _names(feedback_keys, "feedback_keys")
    return [compute_feedback_id(row, names) for row in _rows(inputs, "inputs")]


def _rows(value: object, what: str) -> list[Any]:
    """A section as a list of dicts (frames converted), for per-record arguments."""
    if args.is_frame(value):
        table = args.frame_to_arrow(value, what)
        return table.to_pylist()
    return args.as_rows(value, what)


def drop_ignored(inputs: Any, ignore_inputs: object) -> Any:
    """`inputs` (one dict, a list of dicts or a frame) without the fields `ignore_inputs`
    names (Gantry's "not monitored"); names that are absent are ignored."""
    if ignore_inputs is None or inputs is None:
        return inputs
    names = set(_names(ignore_inputs, "ignore_inputs"))
    if isinstance(inputs, Mapping):
        return {k: v for k, v in inputs.items() if k not in names}
    if args.is_frame(inputs):
        table = args.frame_to_arrow(inputs, "inputs")
        return table.drop_columns([n for n in table.column_names if n in names])
    return [{k: v for k, v in row.items() if k not in names} if isinstance(row, Mapping) else row
            for row in args.as_list(inputs, "inputs")]


def merge_tags(tags: object, row_tags: object, global_tags: object, count: int) -> object:
    """One tag dict per record from Gantry's three tag arguments (later ones win: `tags`,
    then `global_tags`, then `row_tags`), or `tags` itself when the others are None."""
    if row_tags is None and global_tags is None:
        return tags
    if global_tags is not None and not isinstance(global_tags, Mapping):
        raise ValidationError(f"global_tags must be a dict of strings, got "
                              f"{type(global_tags).__name__}")
    rows: list[dict[str, Any]]
    if tags is None or isinstance(tags, Mapping):
        rows = [dict(tags or {}) for _ in range(count)]
    else:
        given = args.as_list(tags, "tags")
        if len(given) != count or not all(isinstance(t, Mapping) for t in given):
            raise ValidationError(f"tags must be one dict, or one dict per record ({count})")
        rows = [dict(t) for t in given]
    for row in rows:
        row.update(global_tags or {})
    if row_tags is not None:
        per_row = _row_tags(row_tags, count)
        for row, extra in zip(rows, per_row, strict=True):
            row.update(extra)
    return rows


def _row_tags(value: object, count: int) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        return [value] * count
    if args.is_frame(value):
        table = args.frame_to_arrow(value, "row_tags")
        if isinstance(table, pa.Table):
            value = table.to_pylist()
    rows = args.as_list(value, "row_tags")
    if len(rows) != count:
        raise ValidationError(f"row_tags has {len(rows)} entries but there are {count} records")
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValidationError(f"row_tags[{index}] must be a dict of strings, got "
                                  f"{type(row).__name__}")
    return rows


class _NotADict(ValidationError, TypeError):
    """`JoinKey.from_dict` of something else than a dict (a `TypeError`, as Gantry's)."""


class JoinKey(str):
    """Gantry's join key type: a string, with `from_dict` to derive one from values.

    Example:
        >>> JoinKey.from_dict({"foo": "bar", "bar": "baz"})
        '44258089824ec9db73fd592f418fbea1'
    """

    @classmethod
    def from_dict(cls, dict_: Mapping[str, Any]) -> str:
        """The md5 of `dict_` as JSON with sorted keys (Gantry's hash, the same digest).

        Raises:
            ValidationError: `dict_` is not a dict (also a `TypeError`), or holds a value JSON
                cannot encode.
        """
        if not isinstance(dict_, Mapping):
            raise _NotADict(f"JoinKey.from_dict takes a dict of values, got "
                            f"{type(dict_).__name__}")
        try:
            text = json.dumps(dict(dict_), sort_keys=True, default=_encode)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"JoinKey.from_dict cannot encode {dict(dict_)!r:.80}: "
                                  f"{exc}") from exc
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
