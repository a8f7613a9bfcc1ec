"""What a room is handed of a workspace, narrowed at its boundary, and the one resolver of
the default workspace.

The rooms above records and datasets (monitoring, evaluation, automations, gquery) are
handed a `Context`: a small frozen object the `Workspace` builds from lower-layer parts it
owns (the `Database`, the clock, the applications' states, the dataset registry) and plain
callables for what only the façade does (`flush`; for the scheduler, `Scheduling`'s
`ingest` and `close`). A room's public entry point takes whatever a user passes (a
`Workspace`, or None for the default one) and calls `narrow` once; inside the room only
the context travels, and no room calls the `Workspace`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .errors import NotInitializedError, ValidationError

if TYPE_CHECKING:
    from ._db import Database
    from .clock import Clock
    from .datasets import DatasetRegistry
    from .records._apps import AppStates
    from .records._ingest import IngestResult, Progress
    from .records._logger import RecordLogger
    from .records._single import AppState

__all__ = ["AppHandle", "Context", "HasContext", "Logging", "Scheduling", "WorkspaceLike",
           "narrow", "narrow_or_default", "set_default_resolver"]


@dataclass(frozen=True, eq=False)
class Logging:
    """What only the façade's batch log calls (`_logging`) use of a workspace: its record
    logger (the records room's batch path), its rule for the default ``env`` tag, and its
    single-record route (`Workspace.log_record`, the hot path)."""

    logger: RecordLogger
    env_tags: Callable[[Any], Any]
    log_record: Callable[..., str | None]


@dataclass(frozen=True, eq=False)
class Scheduling:
    """What only the scheduler uses of a workspace: the database file (one tick at a time
    per file), the storage it probes each tick, the background-loop setting, and the
    façade's `ingest` (of the spool), `close` and `closed` (for a workspace it opened)."""

    db: str
    storage: str
    storage_options: Mapping[str, Any]
    background_scheduler: bool | None
    ingest: Callable[[Progress | None], IngestResult]
    close: Callable[[], None]
    closed: Callable[[], bool]


@dataclass(frozen=True, eq=False)
class Context:
    """The parts of one workspace a room uses: the database, the clock, the applications'
    states, the datasets (opened on first use) and `flush`.

    `owner` is the object a user passed (their `Workspace`), kept only to be handed back
    (`curator.workspace`, `scheduler.workspace`); rooms never call it. `scheduling` is the
    scheduler's part (None for a workspace that cannot be scheduled). `start_background`
    turns on the workspace's background scheduler loop, as creating or enabling a curator
    does (the façade passes it down, as the scheduler sits above the curators; None where
    there is no loop: a producer). `logging` is the part only the façade's batch log calls
    read.
    """

    database: Database
    clock: Clock
    apps: AppStates
    _open_datasets: Callable[[], DatasetRegistry] = field(repr=False)
    flush: Callable[[], None] = field(repr=False)
    owner: HasContext = field(repr=False)
    scheduling: Scheduling | None = field(default=None, repr=False)
    start_background: Callable[[], None] | None = field(default=None, repr=False)
    logging: Logging | None = field(default=None, repr=False)

    def app_state(self, name: object) -> AppState:
        """The live state of application `name` (`NotFoundError` if there is none)."""
        return self.apps.get(name)

    @property
    def datasets(self) -> DatasetRegistry:
        """The datasets under the workspace's storage root."""
        return self._open_datasets()


class HasContext(Protocol):
    """What a room accepts besides a `Context`: an object exposing one (the `Workspace`)."""

    @property
    def __gantry_context__(self) -> Context:
        """The context of this workspace."""


WorkspaceLike = Context | HasContext  # what a room's public entry point accepts


class AppHandle(Protocol):
    """What the rooms use of an `Application`: its name and its workspace (narrowed)."""

    @property
    def name(self) -> str:
        """The application's name."""

    @property
    def workspace(self) -> HasContext:
        """The workspace it belongs to."""


_resolver: Callable[[], HasContext] | None = None


def set_default_resolver(resolver: Callable[[], HasContext]) -> None:
    """Register how the default workspace is found (the façade does, at import)."""
    global _resolver
    _resolver = resolver


def narrow(given: object, what: str = "workspace") -> Context:
    """The `Context` of `given`: a context, or a workspace exposing one.

    Raises:
        ValidationError: `given` is neither (the message names its type).
    """
    if isinstance(given, Context):
        return given
    context = getattr(given, "__gantry_context__", None)
    if not isinstance(context, Context):
        raise ValidationError(f"{what} must be a gantry_local Workspace, got "
                              f"{type(given).__name__}")
    return context


def narrow_or_default(given: object, what: str = "workspace") -> Context:
    """`narrow(given)`, or the default workspace's context when `given` is None.

    Raises:
        NotInitializedError: `given` is None and `gantry_local.init` was not called.
        ValidationError: `given` is not a workspace.
    """
    if given is not None:
        return narrow(given, what)
    if _resolver is None:
        raise NotInitializedError("no open default workspace: call gantry_local.init(db=...) "
                                  "first, or pass a Workspace")
    return narrow(_resolver(), what)
