"""Producer workspaces: processes that log into the spool and never open the DuckDB file.

A model server's workers each call ``gantry.init(db="gantry.duckdb", producer=True)``:
their log calls go through the same buffer and checks as always, and the flush thread
writes Parquet segments to the spool beside the database (or ``spool="s3://..."``) instead
of the database. The process that owns the database (the scheduler, a notebook, the CLI)
ingests the segments exactly once. A producer can log and flush; anything that reads the
database (queries, datasets, automations) raises `StorageError` saying where to run it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from ._context import Context, Logging
from ._db import Database
from ._names import check_name
from .clock import Clock, SystemClock
from .errors import StorageError, ValidationError
from .records._apps import AppStates
from .records._buffer import LogBuffer
from .records._ingest import IngestResult, Progress
from .records._logger import AppState, RecordLogger
from .records._schema import AppSchema
from .records._spool import Spool, SpoolSink, check_spool, check_writer
from .workspace import _OPEN, APPLICATION_TYPES, Workspace

if TYPE_CHECKING:
    from .applications import Application
    from .datasets import DatasetRegistry
    from .records.query import Query

__all__ = ["ProducerWorkspace"]


class ProducerWorkspace(Workspace):
    """A workspace that logs into a spool of Parquet segments instead of the DuckDB file.

    Args:
        db: the DuckDB file of the workspace (never opened here): its spool defaults to
            the folder ``<db name>-spool`` beside it, where its owner looks.
        spool: fsspec URL of the spool (``s3://bucket/spool`` for a fleet).
        spool_options: fsspec options of the spool (``endpoint_url`` ...; credentials may
            come from the environment or a profile, as s3fs reads them).
        producer_id: this process's identity in segment names (default: host, pid and a
            random suffix); 1 to 100 of ``[A-Za-z0-9_.-]``.
        clock, buffer_size, buffer_timeout, flush_interval: as for `Workspace`; a segment is
            written at the latest a quarter `flush_interval` after its oldest record, so a
            SIGKILL loses at most about `flush_interval` of this process's records.

    Raises:
        StorageError: the spool cannot be reached (one quick try; the message names it).
    """

    def __init__(
        self,
        db: str | Path = "gantry.duckdb",
        storage: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
        buffer_size: int = 100_000,
        buffer_timeout: float = 5.0,
        flush_interval: float = 1.0,
        spool: str | None = None,
        spool_options: Mapping[str, Any] | None = None,
        producer_id: str | None = None,
    ) -> None:
        self.clock = clock if clock is not None else SystemClock()
        self.check_arguments(db, storage, storage_options, self.clock, buffer_size,
                             buffer_timeout, flush_interval)
        url, options, _ = check_spool(db, spool, spool_options if spool_options is not None
                                      else storage_options, None)
        if url is None:
            raise ValidationError("a producer needs a spool: pass spool='<folder or URL>' (an "
                                  "in-memory db has no folder beside it)")
        if producer_id is not None:
            check_writer(producer_id)
        self.db = str(db)
        self.storage = storage or ""
        self.storage_options = dict(storage_options or {})
        self.spool, self._spool_options, self._spool_retention = url, options, None
        self._spool = Spool(url, options)
        self._spool.probe()
        no_database = _NoDatabase(self.db, self.spool)
        self.database = no_database  # type: ignore[assignment]
        self._states = _ProducerApps(no_database)
        self._apps = self._states.live
        self._datasets = None
        self._sink = SpoolSink(self._spool, producer_id)  # type: ignore[assignment]
        self._buffer = LogBuffer(self._sink, int(buffer_size), buffer_timeout,
                                 flush_interval=flush_interval, resolve=self._states.by_uid)
        self._logger = RecordLogger(self._buffer, self.clock)
        self.__gantry_context__ = self._make_context()
        _OPEN.add(self)

    def _make_context(self) -> Context:
        """The rooms' context: logging and flush work; what reads the database says where to
        run it; a producer is never scheduled (no `Scheduling`)."""
        logging = Logging(self._logger, self._env_tags, self.log_record)
        return Context(self.database, self.clock, self._states, lambda: self.datasets,
                       self.flush, self, logging=logging)

    def __repr__(self) -> str:
        state = "closed" if self.database.closed else "open"
        return (f"ProducerWorkspace(spool={self._spool.shown!r}, producer_id={self.producer_id!r}, "
                f"{state})")

    @property
    def producer_id(self) -> str:
        """This process's identity in the names of its segments."""
        return self._sink.writer  # type: ignore[attr-defined, no-any-return]

    def close(self) -> None:
        """Write every buffered record to the spool, then stop. Safe to call twice."""
        with self.database.lock:
            if self.database.closed:
                return
            self.database.closed = True
        try:
            self._buffer.close()
        finally:
            self._apps.clear()
            _OPEN.discard(self)

    def _ingest_quietly(self) -> None:
        """A producer's flush ends once its records are in spool segments."""

    def ingest(self, progress: Progress | None = None) -> IngestResult:
        """Producers do not ingest: the process that owns the database does."""
        raise self._not_here("ingest the spool")

    # -- applications: known by name; the owner creates them when their records arrive ---

    def create_application(self, application_name: str, application_type: str | None = None
                           ) -> Application[Workspace]:
        """A handle on application `name` (created in the database by the first ingest)."""
        name = application_name
        application_type = "Custom" if application_type is None else application_type
        if application_type not in APPLICATION_TYPES:
            raise ValidationError(f"application_type must be one of {APPLICATION_TYPES}, "
                                  f"got {application_type!r}")
        self._app_state(name)
        return self.get_application(name)

    def list_applications(self) -> list[str]:
        """The names of the applications this process has logged to or opened."""
        self._check_open()
        return sorted(self._apps)

    def delete_application(self, application_name: str) -> None:
        raise self._not_here("delete an application")

    def archive_application(self, application_name: str) -> None:
        raise self._not_here("archive an application")

    # -- everything that reads the database ---------------------------------------------

    def query(self, application: str, *args: Any, **kwargs: Any) -> Query:
        raise self._not_here("query records")

    @property
    def datasets(self) -> DatasetRegistry:
        raise self._not_here("use datasets")

    def _not_here(self, what: str) -> StorageError:
        self._check_open()
        return _not_here(self.db, self.spool or "", what)


class _ProducerApps(AppStates):
    """A producer's applications: known by name, made on first use (the owner creates them in
    the database when their records arrive)."""

    def __init__(self, database: _NoDatabase) -> None:
        super().__init__(database.check_open)
        self._lock = database.lock

    def get(self, name: object) -> AppState:
        self._check_open()
        if not isinstance(name, str):
            name = getattr(name, "name", name)
        check_name(name, "application name")
        assert isinstance(name, str)
        state = self.live.get(name)
        if state is None:
            with self._lock:
                state = self.live.setdefault(name, AppState(name, "Custom", AppSchema({}, {})))
        return state


class _NoDatabase:
    """A producer's stand-in for the `Database`: open/closed state, and a clear error from
    everything that would read or write the file."""

    def __init__(self, path: str, spool: str) -> None:
        self.path, self.spool = path, spool
        self.lock = threading.RLock()
        self.closed = False
        self.generation = 0
        self._states: dict[type, object] = {}

    state = Database.state  # rooms' per-workspace state (models, in-process automations)

    def check_open(self) -> None:
        if self.closed:
            raise StorageError(f"the producer workspace of {self.path!r} is closed; open a new one")

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        raise _not_here(self.path, self.spool, "read the database")

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.check_open()
        raise _not_here(self.path, self.spool, "read the database")
        yield  # pragma: no cover

    def cached_columns(self, key: str, read: Any) -> Any:
        raise _not_here(self.path, self.spool, "read the database")

    def columns_changed(self) -> None:
        self.generation += 1

    def close(self) -> None:
        self.closed = True


def _not_here(db: str, spool: str, what: str) -> StorageError:
    return StorageError(f"this process is a producer (it logs to spool {spool!r} and never "
                        f"opens {db!r}); {what} in the process that owns the database, e.g. "
                        "the one running `gantry-local scheduler run`")
