"""The functions of Gantry's query module (``gantry_local.query`` re-exports them)."""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .._context import narrow, narrow_or_default
from ..errors import ValidationError
from ..records._duckdb_sink import table_name
from ..records._schema import RECORDS
from ..records.query import Query
from ._filters import resolve_time
from ._frame import GantryDataFrame
from ._saved import check_batch, view_frame
from .time_window import RelativeTimeWindow, TimeWindow

if TYPE_CHECKING:
    from .._context import WorkspaceLike

__all__ = ["CallableModule", "create_view", "frame", "init", "list_application_batches",
           "list_application_environments", "list_application_versions", "list_application_views",
           "list_applications", "print_application_info", "query", "window_frame"]


def init(api_key: str | None = None) -> None:
    """Gantry's ``gquery.init``: here the query functions use the workspace that
    `gantry_local.init` opened, so this only checks there is one (the key is unused).

    Raises:
        NotInitializedError: `gantry_local.init` was not called (it opens the workspace
            every module uses).
        ValidationError: `api_key` is not a string.
    """
    if api_key is not None and not isinstance(api_key, str):
        raise ValidationError(f"api_key must be a string or None, got {type(api_key).__name__}")
    narrow_or_default(None)


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
    ``tags["env"]``). `view` takes a saved view's window and filters (see `create_view`;
    not with `start_time`, `end_time`, `filters` or `batch_id`); `batch_id` keeps the
    records of one batch (``log_records(as_batch=True)``, `log_file`, a run).

    Raises:
        ValidationError: bad times, filters or tags, or `view` with a window or filters.
        NotFoundError: no such application, view or batch.
    """
    return frame(narrow_or_default(None), application, start_time, end_time, version,
                 environment, filters, tags, view=view, batch_id=batch_id)


def frame(workspace: WorkspaceLike, application: str, start_time: object, end_time: object,
          version: int | str | None, environment: str | None,
          filters: Sequence[Mapping[str, Any]] | None, tags: Mapping[str, str] | None,
          view: str | None = None, batch_id: str | None = None) -> GantryDataFrame:
    """`query` against a given workspace."""
    workspace = narrow(workspace)
    workspace.app_state(application)
    if view is not None:
        if not (start_time is None and end_time is None and filters is None
                and batch_id is None):
            raise ValidationError("view cannot be combined with start_time, end_time, filters "
                                  "or batch_id: a view is a saved window and filters")
        return view_frame(workspace, application, view, version, environment, tags)
    if batch_id is not None:
        check_batch(workspace, application, batch_id, version)
    now = workspace.clock.now()
    start = resolve_time("-24H" if start_time is None else start_time, "start_time", now)
    end = resolve_time("now" if end_time is None else end_time, "end_time", now)
    result = GantryDataFrame(workspace, application, start, end, version, environment, filters,
                             tags)
    result.batch_id = batch_id
    return result


def window_frame(workspace: WorkspaceLike, application: str, time_window: object,
                 version: int | str | None, env: str | None,
                 filters: Sequence[Mapping[str, Any]] | None,
                 tags: Mapping[str, str] | None) -> GantryDataFrame:
    """`Application.query` with a Gantry time window (None: the last 24 hours)."""
    workspace = narrow(workspace)
    if time_window is None:
        return frame(workspace, application, None, None, version, env, filters, tags)
    if isinstance(time_window, RelativeTimeWindow):
        start, end = time_window.resolve(workspace.clock.now())
        result = frame(workspace, application, start, end, version, env, filters, tags)
        result.relative_time_window = time_window.window_length
        result.relative_time_delay = time_window.offset
        return result
    if isinstance(time_window, TimeWindow):
        return frame(workspace, application, time_window.start_time, time_window.end_time,
                     version, env, filters, tags)
    raise ValidationError(f"time_window must be a TimeWindow or RelativeTimeWindow, got "
                          f"{type(time_window).__name__} (for datetimes use start_time= and "
                          "end_time=)")


def _distinct(workspace: WorkspaceLike, application: str, column: str) -> list[str]:
    """The distinct non-null values of one records column (none if it was never logged)."""
    workspace = narrow(workspace)
    state = workspace.app_state(application)
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
    return _distinct(narrow_or_default(None), application, "__version")


def list_application_environments(application: str) -> list[str]:
    """The ``env`` tag values records of `application` carry, sorted."""
    _check_name(application)
    return _distinct(narrow_or_default(None), application, "tags.env")


def list_application_batches(application: str, version: str | int | None = None
                             ) -> list[dict[str, Any]]:
    """Batches of `application` (of one `version` if given), oldest first: ``id``,
    ``batch_type``, ``version``, ``run_name``, ``run_tags``, ``num_events``, ``created_at``."""
    from ..records._batch_log import list_batches
    from ..records._inputs import check_version

    _check_name(application)
    workspace = narrow_or_default(None)
    workspace.app_state(application)
    if version is not None and check_version(version) not in list_application_versions(
            application):
        from ..errors import NotFoundError

        raise NotFoundError(f"no version {version!r} in {application!r}; versions are: "
                            f"{list_application_versions(application)}")
    with workspace.database.cursor() as con:
        return list_batches(con, application, check_version(version))


def list_applications() -> list[str]:
    """The names of the default workspace's applications, sorted (Gantry's shape)."""
    return narrow_or_default(None).apps.names()


def create_view(
    name: str,
    application: str,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    duration: timedelta | None = None,
    version: str | None = None,
    tag_filters: dict[str, str] | None = None,
    data_filters: list[dict[str, Any]] | None = None,
) -> None:
    """Save a view of `application`: a fixed window (`start_time` and `end_time`) or the
    last `duration` up to now, with tag and data filters; query it with ``view=name``.

    Raises:
        ValidationError: a bad name, both or neither of a window and a duration, bad
            filters. NotFoundError: no such application. AlreadyExistsError: the name is
            taken.
    """
    from ._saved import create_view as create

    create(narrow_or_default(None), name, application, start_time, end_time, duration,
           version, tag_filters, data_filters)


def list_application_views(application: str, version: str | int | None = None,
                           environment: str | None = None) -> list[str]:
    """The names of `application`'s views (for `version`, and `environment`, when given)."""
    from ._saved import list_views

    _check_name(application)
    return list_views(narrow_or_default(None), application, version, environment)


def print_application_info(application: str) -> None:
    """Print the application's versions, environments and views, as Gantry does."""
    versions = list_application_versions(application)
    envs = list_application_environments(application)
    print("Available versions:\n-------------------")
    print(versions)
    print("\nAvailable environments:\n-----------------------")
    print(sorted(envs))
    print("\nAvailable views:\n----------------")
    print(list_application_views(application))


def _check_name(application: object) -> None:
    if not isinstance(application, str):
        raise ValidationError(f"application must be an application name, got "
                              f"{type(application).__name__}")


class CallableModule(types.ModuleType):
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
        context = narrow_or_default(None)
        context.app_state(application)
        return Query(context, application, start_time, end_time, version, tags, filters)
