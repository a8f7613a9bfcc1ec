"""Views (Gantry's ``gquery.create_view``) and the JSON helpers of saved definitions; below
`_saved` and `_frame`, so a `GantryDataFrame` can save itself as a view."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .._context import Context
from .._db import run, storage_errors, transaction
from ..clock import read_clock, to_utc
from ..errors import AlreadyExistsError, ValidationError
from ..records._inputs import check_version

__all__ = ["check_name", "create_view", "from_json", "seconds", "to_json"]

_MAX_NAME = 255


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME \
            or not name.isprintable():
        raise ValidationError(f"a {what} name must be 1 to {_MAX_NAME} printable characters, "
                              f"got {name!r:.80}")
    return name


def to_json(value: object) -> str:
    def encode(item: object) -> object:
        if isinstance(item, datetime):
            return {"__datetime__": to_utc(item, "time").isoformat()}
        raise ValidationError(f"cannot save a {type(item).__name__} in a query or view")

    return json.dumps(value, default=encode, allow_nan=False, sort_keys=True)


def from_json(text: str) -> Any:
    def decode(item: dict[str, Any]) -> object:
        if set(item) == {"__datetime__"}:
            return datetime.fromisoformat(item["__datetime__"])
        return item

    return json.loads(text, object_hook=decode)


def seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def create_view(ws: Context, name: object, application: str, start_time: object,
                end_time: object,
                duration: object, version: object, tag_filters: object,
                data_filters: object, check: Callable[[Any, str, Any, Any, Any], object]
                ) -> None:
    """`gquery.create_view` against a given workspace; `check(ws, application, version,
    data_filters, tag_filters)` raises when the filters do not make a valid query."""
    ws.app_state(application)
    check_name(name, "view")
    if duration is not None:
        if start_time is not None or end_time is not None:
            raise ValidationError("Cannot provide duration and start_time/end_time at the "
                                  "same time")
        if not isinstance(duration, timedelta) or duration <= timedelta(0):
            raise ValidationError(f"duration must be a positive timedelta, got {duration!r}")
    elif start_time is not None or end_time is not None:
        if start_time is None or end_time is None:
            raise ValidationError("Need to provide both start_time and end_time")
        start_time = to_utc(start_time, "start_time")  # type: ignore[arg-type]
        end_time = to_utc(end_time, "end_time")  # type: ignore[arg-type]
        if start_time > end_time:  # type: ignore[operator]
            raise ValidationError(f"start_time {start_time} is after end_time {end_time}")
    else:
        raise ValidationError("Need to provide duration or start_time/end_time")
    if tag_filters is not None and (not isinstance(tag_filters, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tag_filters.items())):
        raise ValidationError(f"tag_filters must be a dict of strings, got {tag_filters!r:.80}")
    if data_filters is not None and (isinstance(data_filters, (str, bytes, Mapping))
                                     or not isinstance(data_filters, Sequence)):
        raise ValidationError("data_filters must be a list of filter dicts")
    ver = check_version(version)
    # the filters must make a valid query now, not when the view is used
    check(ws, application, ver, data_filters, tag_filters)
    definition = to_json({"start_time": start_time, "end_time": end_time,
                           "duration": seconds(duration),  # type: ignore[arg-type]
                           "tag_filters": dict(tag_filters or {}),
                           "data_filters": list(data_filters or [])})
    with ws.database.cursor() as con, storage_errors(f"creating view {name!r}"), transaction(con):
        if run(con, "SELECT 1 FROM _gl_views WHERE application = ? AND name = ?",
               [application, name]):
            raise AlreadyExistsError(f"view {name!r} already exists in {application!r}; pick "
                                     "another name")
        run(con, "INSERT INTO _gl_views VALUES (?, ?, ?, ?, ?)",
            [application, name, ver, definition, read_clock(ws.clock)])
