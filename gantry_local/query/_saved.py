"""Saved queries and views (Gantry's ``app.save_query`` and ``gquery.create_view``), kept in
the workspace's DuckDB file (``_gl_saved_queries``, ``_gl_views``) as JSON definitions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from .._context import Context, WorkspaceLike, narrow
from .._db import run, storage_errors, transaction
from ..clock import read_clock
from ..errors import NotFoundError, ValidationError
from ..records._inputs import check_version
from . import _views as _views_module
from ._frame import GantryDataFrame
from ._views import check_name as _check_name
from ._views import from_json as _from_json
from ._views import seconds as _seconds
from ._views import to_json as _to_json

__all__ = ["check_batch", "create_view", "get_query", "list_queries", "list_views",
           "save_query", "view_frame"]

# -- saved queries --------------------------------------------------------------------------

def save_query(ws: WorkspaceLike, application: str, name: object, query: object) -> None:
    """Save `query` (a `GantryDataFrame` of `application`) under `name`, replacing one."""
    ws = narrow(ws)
    ws.app_state(application)
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


def _definitions(ws: Context, application: str) -> list[tuple[str, dict[str, Any], datetime]]:
    ws.app_state(application)
    with ws.database.cursor() as con, storage_errors(f"reading {application!r}'s saved queries"):
        rows = run(con, "SELECT name, definition, created_at FROM _gl_saved_queries WHERE "
                        "application = ? ORDER BY name", [application])
    return [(name, _from_json(text), created) for name, text, created in rows]


def get_query(ws: WorkspaceLike, application: str, name: object) -> GantryDataFrame:
    """The saved query as a `GantryDataFrame`; a relative window ends at the clock's now."""
    ws = narrow(ws)
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


def list_queries(ws: WorkspaceLike, application: str) -> list[dict[str, Any]]:
    """Every saved query of `application`, by name."""
    ws = narrow(ws)
    return [{"name": name, **spec, "created_at": created}
            for name, spec, created in _definitions(ws, application)]


# -- views ----------------------------------------------------------------------------------

def create_view(ws: Context, name: object, application: str, start_time: object, end_time: object,
                duration: object, version: object, tag_filters: object,
                data_filters: object) -> None:
    """`gquery.create_view` against a given workspace."""
    _views_module.create_view(ws, name, application, start_time, end_time, duration, version,
                              tag_filters, data_filters, _check_view_filters)


def _check_view_filters(ws: Context, application: str, version: Any, data_filters: Any,
                        tag_filters: Any) -> None:
    """The filters must make a valid query now, not when the view is used."""
    GantryDataFrame(ws, application, None, None, version, None, data_filters, tag_filters)


def _views(ws: Context, application: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    ws.app_state(application)
    with ws.database.cursor() as con, storage_errors(f"reading {application!r}'s views"):
        rows = run(con, "SELECT name, version, definition FROM _gl_views WHERE application = ? "
                        "ORDER BY name", [application])
    return [(name, ver, _from_json(text)) for name, ver, text in rows]


def list_views(ws: Context, application: str, version: object = None,
               environment: object = None) -> list[str]:
    """Names of `application`'s views for `version` and `environment` (None: any)."""
    ver = check_version(version)
    if environment is not None and not isinstance(environment, str):
        raise ValidationError(f"environment must be a string, got {type(environment).__name__}")
    return [name for name, view_version, spec in _views(ws, application)
            if (ver is None or view_version in (None, ver))
            and (environment is None or spec["tag_filters"].get("env") in (None, environment))]


def view_frame(ws: Context, application: str, view: object, version: int | str | None,
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


def check_batch(ws: Context, application: str, batch_id: object, version: object) -> None:
    """Raise unless `batch_id` is a batch of `application` (of `version`, if given)."""
    from ..records._batch_log import list_batches

    if not isinstance(batch_id, str):
        raise ValidationError(f"batch_id must be a string, got {type(batch_id).__name__}")
    with ws.database.cursor() as con:
        batches = [b["id"] for b in list_batches(con, application, check_version(version))]
    if batch_id not in batches:
        raise NotFoundError(f"Batch {batch_id!r} not found. Available batches for this "
                            f"version: {batches}")
