"""Saved queries and views (Gantry's ``app.save_query`` and ``gquery.create_view``), kept in
the workspace's DuckDB file (``_gl_saved_queries``, ``_gl_views``) as JSON definitions."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from .._db import run, storage_errors, transaction
from ..clock import read_clock, to_utc
from ..errors import AlreadyExistsError, NotFoundError, ValidationError
from ..records._inputs import check_version
from ._frame import GantryDataFrame

__all__ = ["check_batch", "create_view", "get_query", "list_queries", "list_views",
           "save_query", "view_frame"]

_MAX_NAME = 255


def _check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME \
            or not name.isprintable():
        raise ValidationError(f"a {what} name must be 1 to {_MAX_NAME} printable characters, "
                              f"got {name!r:.80}")
    return name


def _to_json(value: object) -> str:
    def encode(item: object) -> object:
        if isinstance(item, datetime):
            return {"__datetime__": to_utc(item, "time").isoformat()}
        raise ValidationError(f"cannot save a {type(item).__name__} in a query or view")

    return json.dumps(value, default=encode, allow_nan=False, sort_keys=True)


def _from_json(text: str) -> Any:
    def decode(item: dict[str, Any]) -> object:
        if set(item) == {"__datetime__"}:
            return datetime.fromisoformat(item["__datetime__"])
        return item

    return json.loads(text, object_hook=decode)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


# -- saved queries --------------------------------------------------------------------------

def save_query(ws: Any, application: str, name: object, query: object) -> None:
    """Save `query` (a `GantryDataFrame` of `application`) under `name`, replacing one."""
    ws._app_state(application)
    _check_name(name, "query")
    if not isinstance(query, GantryDataFrame):
        raise ValidationError(f"save_query saves a GantryDataFrame (from app.query), got "
                              f"{type(query).__name__}")
    if query.application != application:
        raise ValidationError(f"the query is of application {query.application!r}, not "
                              f"{application!r}")
    if query.start_time is None or query.end_time is None:
        raise ValidationError("Both start_time and end_time must be specified.")
    tags = {k: v for k, v in query.tags.items() if k != "env" or query.env is None}
    definition = _to_json({
        "start_time": query.start_time, "end_time": query.end_time, "version": query.version,
        "env": query.env, "tags": tags, "filters": query.gantry_filters,
        "relative_time_window": _seconds(query.relative_time_window),
        "relative_time_delay": _seconds(query.relative_time_delay),
    })
    with ws.database.cursor() as con, storage_errors(f"saving query {name!r}"), transaction(con):
        run(con, "DELETE FROM _gl_saved_queries WHERE application = ? AND name = ?",
            [application, name])
        run(con, "INSERT INTO _gl_saved_queries VALUES (?, ?, ?, ?)",
            [application, name, definition, read_clock(ws.clock)])


def _definitions(ws: Any, application: str) -> list[tuple[str, dict[str, Any], datetime]]:
    ws._app_state(application)
    with ws.database.cursor() as con, storage_errors(f"reading {application!r}'s saved queries"):
        rows = run(con, "SELECT name, definition, created_at FROM _gl_saved_queries WHERE "
                        "application = ? ORDER BY name", [application])
    return [(name, _from_json(text), created) for name, text, created in rows]


def get_query(ws: Any, application: str, name: object) -> GantryDataFrame:
    """The saved query as a `GantryDataFrame`; a relative window ends at the clock's now."""
    _check_name(name, "query")
    found = {n: d for n, d, _ in _definitions(ws, application)}
    if name not in found:
        raise NotFoundError(f"no saved query {name!r} in {application!r} (saved: "
                            f"{sorted(found) or 'none yet'}); save one with app.save_query")
    spec = found[name]  # type: ignore[index]
    start, end = spec["start_time"], spec["end_time"]
    if spec["relative_time_window"] is not None:
        end = read_clock(ws.clock) - timedelta(seconds=spec["relative_time_delay"] or 0)
        start = end - timedelta(seconds=spec["relative_time_window"])
    frame = GantryDataFrame(ws, application, start, end, spec["version"], spec["env"],
                            spec["filters"], spec["tags"])
    if spec["relative_time_window"] is not None:
        frame.relative_time_window = timedelta(seconds=spec["relative_time_window"])
        frame.relative_time_delay = timedelta(seconds=spec["relative_time_delay"] or 0)
    return frame


def list_queries(ws: Any, application: str) -> list[dict[str, Any]]:
    """Every saved query of `application`, by name."""
    return [{"name": name, **spec, "created_at": created}
            for name, spec, created in _definitions(ws, application)]


# -- views ----------------------------------------------------------------------------------

def create_view(ws: Any, name: object, application: str, start_time: object, end_time: object,
                duration: object, version: object, tag_filters: object,
                data_filters: object) -> None:
    """`gquery.create_view` against a given workspace."""
    ws._app_state(application)
    _check_name(name, "view")
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
    GantryDataFrame(ws, application, None, None, ver, None, data_filters, tag_filters)
    definition = _to_json({"start_time": start_time, "end_time": end_time,
                           "duration": _seconds(duration),  # type: ignore[arg-type]
                           "tag_filters": dict(tag_filters or {}),
                           "data_filters": list(data_filters or [])})
    with ws.database.cursor() as con, storage_errors(f"creating view {name!r}"), transaction(con):
        if run(con, "SELECT 1 FROM _gl_views WHERE application = ? AND name = ?",
               [application, name]):
            raise AlreadyExistsError(f"view {name!r} already exists in {application!r}; pick "
                                     "another name")
        run(con, "INSERT INTO _gl_views VALUES (?, ?, ?, ?, ?)",
            [application, name, ver, definition, read_clock(ws.clock)])


def _views(ws: Any, application: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    ws._app_state(application)
    with ws.database.cursor() as con, storage_errors(f"reading {application!r}'s views"):
        rows = run(con, "SELECT name, version, definition FROM _gl_views WHERE application = ? "
                        "ORDER BY name", [application])
    return [(name, ver, _from_json(text)) for name, ver, text in rows]


def list_views(ws: Any, application: str, version: object = None,
               environment: object = None) -> list[str]:
    """Names of `application`'s views for `version` and `environment` (None: any)."""
    ver = check_version(version)
    if environment is not None and not isinstance(environment, str):
        raise ValidationError(f"environment must be a string, got {type(environment).__name__}")
    return [name for name, view_version, spec in _views(ws, application)
            if (ver is None or view_version in (None, ver))
            and (environment is None or spec["tag_filters"].get("env") in (None, environment))]


def view_frame(ws: Any, application: str, view: object, version: int | str | None,
               environment: str | None, tags: Mapping[str, str] | None) -> GantryDataFrame:
    """A `GantryDataFrame` over a saved view (its window, tag and data filters)."""
    _check_name(view, "view")
    found = {name: (ver, spec) for name, ver, spec in _views(ws, application)}
    if view not in found:
        raise NotFoundError(f"View {view!r} not found. Available views for {application!r}: "
                            f"{sorted(found)}")
    view_version, spec = found[view]  # type: ignore[index]
    if spec["duration"] is not None:
        end = read_clock(ws.clock)
        start = end - timedelta(seconds=spec["duration"])
    else:
        start, end = spec["start_time"], spec["end_time"]
    merged = {**spec["tag_filters"], **(tags or {})}
    return GantryDataFrame(ws, application, start, end,
                           version if version is not None else view_version, environment,
                           spec["data_filters"], merged)


def check_batch(ws: Any, application: str, batch_id: object, version: object) -> None:
    """Raise unless `batch_id` is a batch of `application` (of `version`, if given)."""
    from ..records._batch_log import list_batches

    if not isinstance(batch_id, str):
        raise ValidationError(f"batch_id must be a string, got {type(batch_id).__name__}")
    with ws.database.cursor() as con:
        batches = [b["id"] for b in list_batches(con, application, check_version(version))]
    if batch_id not in batches:
        raise NotFoundError(f"Batch {batch_id!r} not found. Available batches for this "
                            f"version: {batches}")
