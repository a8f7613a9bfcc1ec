"""Gantry's query module: ``import gantry_local.query as gquery``.

`query` returns a `GantryDataFrame` over the default workspace (see `gantry_local.init`).
The module is also callable, so ``gantry_local.query(application, ...)`` keeps returning
a `Query` over all records, as before this module existed.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from .._context import resolve
from ..errors import ValidationError
from ..records._duckdb_sink import table_name
from ..records._schema import RECORDS
from ..records.query import Query
from ._filters import resolve_time
from ._frame import Filters, GantryDataFrame, GantrySeries, no_batches
from .time_window import RelativeTimeWindow, TimeWindow

__all__ = [
    "Filters",
    "GantryDataFrame",
    "GantrySeries",
    "RelativeTimeWindow",
    "TimeWindow",
    "list_application_batches",
    "list_application_environments",
    "list_application_versions",
    "print_application_info",
    "query",
]


def query(
    application: str,
    start_time: str | datetime | None = None,
    end_time: str | datetime | None = None,
    version: int | str | None = None,
    environment: str | None = None,
    filters: list[dict[str, Any]] | None = None,
    view: str | None = None,
    tags: dict[str, str] | None = None,
    batch_id: str | None = None,
) -> GantryDataFrame:
    """Records of `application` from `start_time` to `end_time` as a `GantryDataFrame`.

    As in Gantry, the window defaults to the last 24 hours (``"-24H"`` to ``"now"``, by
    the workspace clock) and times may be datetimes, ISO strings, ``"now"`` or relative
    strings such as ``"-7D"``; `environment` matches the ``env`` tag (overriding
    ``tags["env"]``). Views and batches are not recorded here: `view` and `batch_id`
    raise `NotFoundError`.

    Raises:
        ValidationError: bad times, filters or tags. NotFoundError: no such application,
            view or batch.
    """
    return frame(resolve(None), application, start_time, end_time, version,
                 environment, filters, tags, view=view, batch_id=batch_id)


def frame(workspace: Any, application: str, start_time: object, end_time: object,
          version: int | str | None, environment: str | None,
          filters: Sequence[Mapping[str, Any]] | None, tags: Mapping[str, str] | None,
          view: str | None = None, batch_id: str | None = None) -> GantryDataFrame:
    """`query` against a given workspace."""
    workspace._app_state(application)
    if view is not None:
        raise _no_view(application, view)
    if batch_id is not None:
        raise no_batches(application, batch_id)
    now = workspace.clock.now()
    start = resolve_time("-24H" if start_time is None else start_time, "start_time", now)
    end = resolve_time("now" if end_time is None else end_time, "end_time", now)
    return GantryDataFrame(workspace, application, start, end, version, environment, filters,
                           tags)


def window_frame(workspace: Any, application: str, time_window: object,
                 version: int | str | None, env: str | None,
                 filters: Sequence[Mapping[str, Any]] | None,
                 tags: Mapping[str, str] | None) -> GantryDataFrame:
    """`Application.query` with a Gantry time window (None: the last 24 hours)."""
    if time_window is None:
        return frame(workspace, application, None, None, version, env, filters, tags)
    if isinstance(time_window, RelativeTimeWindow):
        start, end = time_window.resolve(workspace.clock.now())
        return frame(workspace, application, start, end, version, env, filters, tags)
    if isinstance(time_window, TimeWindow):
        return frame(workspace, application, time_window.start_time, time_window.end_time,
                     version, env, filters, tags)
    raise ValidationError(f"time_window must be a TimeWindow or RelativeTimeWindow, got "
                          f"{type(time_window).__name__} (for datetimes use start_time= and "
                          "end_time=)")


def _no_view(application: str, view: object) -> Exception:
    from ..errors import NotFoundError

    return NotFoundError(f"no view {view!r} in {application!r}: views are not stored here yet; "
                         "pass start_time, end_time and filters instead")


def _distinct(application: str, column: str) -> list[str]:
    """The distinct non-null values of one records column (none if it was never logged)."""
    workspace = resolve(None)
    state = workspace._app_state(application)
    if not column.startswith("__") and column not in state.schema.snapshot(RECORDS):
        return []
    workspace.flush()
    physical = Query(workspace, application).selection(ordered=False).column(column, "s")
    if physical is None:
        return []
    sql = (f"SELECT DISTINCT {physical} FROM {table_name(application, RECORDS)} AS s "
           f"WHERE {physical} IS NOT NULL ORDER BY 1")
    with workspace.database.cursor() as con:
        return [str(row[0]) for row in con.execute(sql).fetchall()]


def list_application_versions(application: str) -> list[str]:
    """The versions records of `application` were logged with, sorted."""
    _check_name(application)
    return _distinct(application, "__version")


def list_application_environments(application: str) -> list[str]:
    """The ``env`` tag values records of `application` carry, sorted."""
    _check_name(application)
    return _distinct(application, "tags.env")


def list_application_batches(application: str, version: str | int | None = None
                             ) -> list[dict[str, Any]]:
    """Batches of `application`: always empty here, as records are not grouped into
    batches yet (the application and version are still checked)."""
    _check_name(application)
    resolve(None)._app_state(application)
    if version is not None and str(version) not in list_application_versions(application):
        from ..errors import NotFoundError

        raise NotFoundError(f"no version {version!r} in {application!r}; versions are: "
                            f"{list_application_versions(application)}")
    return []


def print_application_info(application: str) -> None:
    """Print the application's versions, environments and views, as Gantry does."""
    versions = list_application_versions(application)
    envs = list_application_environments(application)
    print("Available versions:\n-------------------")
    print(versions)
    print("\nAvailable environments:\n-----------------------")
    print(sorted(envs))
    print("\nAvailable views:\n----------------")
    print("(views are not stored by gantry-local)")


def _check_name(application: object) -> None:
    if not isinstance(application, str):
        raise ValidationError(f"application must be an application name, got "
                              f"{type(application).__name__}")


class _CallableModule(types.ModuleType):
    """This module, callable as the former ``gantry_local.query`` function."""

    def __call__(
        self,
        application: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        version: int | str | None = None,
        tags: Mapping[str, str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Query:
        return resolve(None).query(application, start_time, end_time, version, tags, filters)


sys.modules[__name__].__class__ = _CallableModule
