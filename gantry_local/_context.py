"""What the rooms use of a workspace, and the one resolver of the default workspace.

The rooms above records and datasets (monitoring, evaluation, automations, gquery) are
handed a `Context`: the `Database`, the clock, the applications' state and the datasets.
`gantry_local.Workspace` is the one implementation; the rooms never import it (see the
layers in the README). The façade registers how to find the default workspace
(`set_default_resolver`), and `resolve` is the one place a room falls back to it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload, runtime_checkable

from .errors import NotInitializedError, ValidationError

if TYPE_CHECKING:
    from ._db import Database
    from .clock import Clock
    from .datasets import Dataset
    from .records._ingest import IngestResult, Progress
    from .records._logger import AppState
    from .records.query import Query

__all__ = ["AppHandle", "Context", "DefaultContext", "SchedulerContext", "check_context", "resolve",
           "set_default_resolver"]


@runtime_checkable
class Context(Protocol):
    """The parts of a workspace every room below the façades uses (monitoring, evaluation and
    gquery take no more): the database, the clock, one application's state, `flush` and the
    datasets."""

    database: Database
    clock: Clock

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record logged before the call is in the database."""

    def _app_state(self, name: object) -> AppState:
        """The live state of application `name` (`NotFoundError` if there is none)."""

    def get_dataset(self, name: str, app_name: str | None = None,
                    include_deleted: bool = False) -> Dataset:
        """A dataset of the storage root."""

    def create_dataset(self, name: str, bucket_name: str | None = None,
                       app_name: str | None = None) -> Dataset:
        """Create an empty dataset on the storage root."""

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every dataset of the storage root, sorted by name."""


@runtime_checkable
class SchedulerContext(Context, Protocol):
    """What the scheduler uses besides: the storage (probed each tick), the spool's ingest,
    the database file (one tick at a time per file), the background-loop setting, and
    closing a workspace it opened itself."""

    db: str
    storage: str
    storage_options: dict[str, Any]
    background_scheduler: bool | None

    @property
    def closed(self) -> bool:
        """Whether the workspace was closed."""

    def close(self) -> None:
        """Write what is buffered, then release the database."""

    def ingest(self, progress: Progress | None = None) -> IngestResult:
        """Ingest the records producer processes left in the spool, exactly once."""


@runtime_checkable
class DefaultContext(SchedulerContext, Protocol):
    """The default workspace as `resolve(None)` returns it: everything above, and what
    gquery's module functions use (the application names and `query`)."""

    def list_applications(self) -> list[str]:
        """The names of the applications, sorted."""

    def query(self, application: str, start_time: datetime | None = None,
              end_time: datetime | None = None, version: int | str | None = None,
              tags: Mapping[str, str] | None = None,
              filters: Sequence[Mapping[str, Any]] | None = None) -> Query:
        """Records of `application` in ``[start_time, end_time)``."""


class AppHandle(Protocol):
    """What the rooms use of an `Application`: its name and its workspace."""

    @property
    def name(self) -> str:
        """The application's name."""

    @property
    def workspace(self) -> Context:
        """The workspace it belongs to."""


_resolver: Callable[[], DefaultContext] | None = None


def set_default_resolver(resolver: Callable[[], DefaultContext]) -> None:
    """Register how the default workspace is found (the façade does, at import)."""
    global _resolver
    _resolver = resolver


_C = TypeVar("_C", bound=Context)


@overload
def resolve(workspace: None) -> DefaultContext: ...
@overload
def resolve(workspace: _C) -> _C: ...
@overload
def resolve(workspace: _C | None) -> _C | DefaultContext: ...
def resolve(workspace: Context | None) -> Context:
    """`workspace`, or the default workspace when it is None.

    Raises:
        NotInitializedError: no workspace was given and `gantry_local.init` was not called.
    """
    if workspace is not None:
        return workspace
    if _resolver is None:
        raise NotInitializedError("no open default workspace: call gantry_local.init(db=...) "
                                  "first, or pass a Workspace")
    return _resolver()


def check_context(workspace: object, what: str = "workspace") -> Context:
    """`workspace` if it is a gantry_local Workspace, else a `ValidationError` naming it."""
    if not isinstance(workspace, Context):
        raise ValidationError(f"{what} must be a gantry_local Workspace, got "
                              f"{type(workspace).__name__}")
    return workspace
