"""A workspace: one DuckDB file, one storage root, one clock, and the log buffer in front of them.

Several workspaces may live in one process (tests do this); module-level functions
in `gantry_local` act on the default one set by `gantry_local.init`.
"""

from __future__ import annotations

import atexit
import logging
import numbers
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from ._config import recordable_url
from ._config import resolve as resolve_config
from ._context import Context, Logging, Scheduling
from ._db import Database, run, storage_errors, transaction
from ._db import lock_timeout as check_lock_timeout
from ._names import check_name, is_valid_text
from .clock import Clock, SystemClock, read_clock
from .datasets import Dataset, DatasetRegistry
from .datasets._store import ObjectStore
from .errors import AlreadyExistsError, GantryLocalError, StorageError, ValidationError
from .records._apps import AppStates
from .records._buffer import LogBuffer
from .records._duckdb_sink import DuckDBSink, create_app_tables, drop_app_tables
from .records._gantry_args import UNSET, drop_ignored, resolve_join_key, wrong_feedback_name
from .records._ingest import Ingester, IngestResult, Progress
from .records._logger import AppState, RecordLogger
from .records._naming import fold
from .records._schema import FEEDBACK, RECORDS, AppSchema
from .records._spool import Spool, check_spool
from .records.query import Query

if TYPE_CHECKING:
    from .applications import Application

__all__ = ["APPLICATION_TYPES", "Workspace"]

APPLICATION_TYPES = ("Custom", "Completion", "Chat")
_MIN_FLUSH_INTERVAL, _MAX_FLUSH_INTERVAL = 0.001, 3600.0  # below: a busy loop; above: pointless
_MAX_BUFFER_TIMEOUT = 86_400.0
_OPEN: weakref.WeakSet[Workspace] = weakref.WeakSet()


class Workspace:
    """Production records in a DuckDB file plus datasets under a storage root.

    Args:
        db: path of the DuckDB file (created if missing), or ``":memory:"``.
        storage: fsspec URL of the dataset root. Recorded in the database when it is
            first opened for writing, and found there by every later process; given again,
            it must name the same place. Defaults to the folder ``<db name>-storage`` beside
            the db (``memory://`` for an in-memory db).
        storage_options: options for the fsspec filesystem (e.g. ``endpoint_url``). Recorded
            with the storage, except credentials (keys naming a key, secret, token,
            password, session ...) and values that are not plain JSON: those are used by
            this process only. Options given later are added to the recorded ones.
        clock: where "now" comes from; `SystemClock` by default.
        buffer_size: most records held in memory before log calls wait (about a
            second of heavy traffic by default).
        buffer_timeout: seconds a log call waits for room before `BufferFullError` (at
            most a day).
        flush_interval: most seconds a logged record waits before it is written, and so
            what a crash can lose (0.001 to 3,600; writes also happen whenever two DuckDB
            row groups' worth of records has gathered, and on `flush()`, `close()`, and
            before every query).
        spool: fsspec URL of the spool that producer processes write to (see
            `gantry_local.init(producer=True)`); this workspace ingests it on `flush()`,
            before every query and curator run. Defaults to the folder ``<db name>-spool``
            beside the db.
        spool_options: fsspec options for the spool (default: `storage_options`).
        spool_retention: how long ingested segments stay readable in the spool's
            ``ingested/`` folder before they are deleted (None keeps them).
        background_scheduler: whether adding an automation starts a background scheduler
            loop (a daemon thread) in this process, so curators and alerts run with no
            further call; None lets ``GANTRY_LOCAL_BACKGROUND_SCHEDULER=0`` turn it off (on
            otherwise). Making a `Scheduler` for the workspace stops it (that one drives).
        read_only: open the file for reading only: other readers may open it at the same
            time, and nothing is written (logging and changes fail).
        lock_timeout: seconds to wait while another process holds the file (None:
            ``$GANTRY_LOCAL_LOCK_TIMEOUT``, else 30); the error names the holder.

    Raises:
        StorageError: the DuckDB file cannot be opened (e.g. another process held it for
            `lock_timeout` seconds).
        ValidationError: a bad argument, or `storage` differs from the recorded one.
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
        spool_retention: timedelta | None = timedelta(days=1),
        background_scheduler: bool | None = None,
        read_only: bool = False,
        lock_timeout: float | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.check_arguments(db, storage, storage_options, self.clock, buffer_size,
                             buffer_timeout, flush_interval, background_scheduler, read_only,
                             lock_timeout)
        # Whether adding an automation starts a background scheduler loop in this process
        # (None: the GANTRY_LOCAL_BACKGROUND_SCHEDULER environment variable decides; on).
        self.background_scheduler = background_scheduler
        spool_url, _, self._spool_retention = check_spool(db, spool, spool_options,
                                                          spool_retention)
        self._ingester: Ingester | None = None
        self.db = str(db)
        self.read_only = read_only
        self.database = Database(self.db, lambda: read_clock(self.clock), read_only,
                                 check_lock_timeout(lock_timeout))
        try:
            config = resolve_config(
                self.database.con, {"storage": storage, "spool": spool},
                {"storage": _default_storage(self.db), "spool": spool_url or ""},
                {"storage_options": storage_options or {}, "spool_options": spool_options},
                writable=not read_only)
        except BaseException:
            self.database.close()
            raise
        self.storage, self.spool = config.places["storage"], config.places["spool"] or None
        self.storage_options = config.options["storage_options"] or {}
        given_spool_options = config.options["spool_options"]
        self._spool_options = given_spool_options if given_spool_options is not None \
            else dict(self.storage_options)
        self._states = AppStates(self.database.check_open)
        self._apps, self._archived = self._states.live, self._states.archived
        self._datasets: DatasetRegistry | None = None
        self._load_applications()
        self._sink = DuckDBSink(self.database)
        self._buffer = LogBuffer(self._sink, int(buffer_size), buffer_timeout,
                                 flush_interval=flush_interval, resolve=self._states.by_uid)
        self._logger = RecordLogger(self._buffer, self.clock) if not read_only \
            else _ReadOnlyLogger(self._buffer, self.clock, self.db)
        self.__gantry_context__ = self._make_context()
        _OPEN.add(self)

    def _make_context(self) -> Context:
        """What the rooms are handed of this workspace (see `gantry_local._context`)."""
        scheduling = Scheduling(self.db, self.storage, self.storage_options,
                                self.background_scheduler, self.ingest, self.close,
                                lambda: self.closed)
        logging = Logging(self._logger, self._env_tags, self.log_record)
        return Context(self.database, self.clock, self._states, lambda: self.datasets,
                       self.flush, self, scheduling, self._start_background, logging)

    def _start_background(self) -> None:
        """Start the background scheduler loop (when enabled); curators call it when one is
        created or enabled, through the context."""
        from .automations.scheduler import ensure_background

        ensure_background(self)

    def _env_tags(self, tags: Any) -> Any:
        """`tags` with `init(environment=...)`'s ``env`` added where absent."""
        return _with_env(tags, self._default_env) if self._default_env is not None else tags

    @staticmethod
    def check_arguments(
        db: object = "gantry.duckdb", storage: object = None, storage_options: object = None,
        clock: object = None, buffer_size: object = 100_000, buffer_timeout: object = 5.0,
        flush_interval: object = 1.0, background_scheduler: object = None,
        read_only: object = False, lock_timeout: object = None,
    ) -> None:
        """Check a workspace's arguments without opening anything (`init` checks before it
        closes the previous default workspace).

        Raises:
            ValidationError: the first argument that is wrong, saying what to pass instead.
        """
        if clock is not None:
            if not isinstance(clock, Clock):
                raise ValidationError(f"clock must have a now() method, got {type(clock).__name__}")
            read_clock(clock)  # a clock whose now() fails or returns a non-datetime: say so now
        _check_positive(buffer_size, "buffer_size", integer=True)
        _check_range(buffer_timeout, "buffer_timeout", 0.0, _MAX_BUFFER_TIMEOUT)
        _check_range(flush_interval, "flush_interval", _MIN_FLUSH_INTERVAL, _MAX_FLUSH_INTERVAL)
        _check_db(db)
        _check_storage(storage, storage_options)
        if background_scheduler is not None and not isinstance(background_scheduler, bool):
            raise ValidationError(f"background_scheduler must be True, False or None (the "
                                  f"environment decides), got {background_scheduler!r}")
        if not isinstance(read_only, bool):
            raise ValidationError(f"read_only must be True or False, got {read_only!r}")
        check_lock_timeout(lock_timeout)

    # `init(environment=...)`: the ``env`` tag of records logged without one (Gantry's rule)
    _default_env: str | None = None

    def __repr__(self) -> str:
        state = "closed" if self.database.closed else "open"
        return f"Workspace(db={self.db!r}, storage={recordable_url(self.storage)[0]!r}, {state})"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self.database.closed

    def close(self) -> None:
        """Write every buffered record, then release the DuckDB file. Safe to call twice."""
        with self.database.lock:
            if self.database.closed:
                return
        from .automations.scheduler import stop_background

        stop_background(self)  # its tick ends before the connection does
        with self.database.lock:
            if self.database.closed:
                return
            self.database.closed = True
        try:
            self._buffer.close()
        finally:
            self._apps.clear()
            self._sink.close()
            self.database.close()
            _OPEN.discard(self)

    def ping(self) -> bool:
        """Gantry's client check (``gantry.get_client().ping()``): True, there is no service."""
        return True

    def ready(self) -> bool:
        """Gantry's client readiness check: True, there is no service to wait for."""
        return True

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record logged before this call is in the database.

        Raises:
            ValidationError: `timeout` is not None or a non-negative number of seconds.
            StorageError: the writes fail, or `timeout` passed first.
        """
        self._check_open()
        if timeout is not None:
            if isinstance(timeout, (bool, np.bool_)) or not isinstance(timeout, numbers.Real) \
                    or not 0 <= float(timeout) <= threading.TIMEOUT_MAX:
                raise ValidationError(f"timeout must be None or a number of seconds from 0 to "
                                      f"{threading.TIMEOUT_MAX:g}, got {timeout!r}")
            timeout = float(timeout)
        self._buffer.flush(timeout)
        self._ingest_quietly()

    def ingest(self, progress: Progress | None = None) -> IngestResult:
        """Ingest the segments producer processes left in the spool, exactly once.

        Each batch of segments and their ledger rows are committed in one transaction;
        a segment that cannot be ingested is quarantined (the result lists it with the
        error) and never blocks the others. `progress(done, pending, rows)` is called
        once the pending segments are listed (``done`` 0), then after each segment is read
        (``rows``: rows taken in so far). `flush()` (and so every query) calls this too.

        Raises:
            StorageError: the spool or the database failed; nothing is lost, the rest is
                ingested by the next call.
        """
        self._check_open()
        if progress is not None and not callable(progress):
            raise ValidationError(f"progress must be a callable (done, pending, rows) or None, "
                                  f"got {type(progress).__name__}")
        if self.spool is None:
            return IngestResult()
        if self.read_only:
            raise StorageError(f"the workspace on {self.db!r} is read-only; ingest the spool "
                               "from a workspace opened for writing (e.g. the scheduler)")
        with self.database.lock:
            if self._ingester is None:
                self._ingester = Ingester(self.database.con, self._sink, Spool(self.spool,
                                          self._spool_options), self._spool_app,
                                          lambda: read_clock(self.clock), self._spool_retention)
            if not self._ingester.spool.exists():
                return IngestResult()
            return self._ingester.run(progress)

    def _ingest_quietly(self) -> None:
        """`ingest()` as part of a flush: a failing spool is logged, never raised (the
        records of this process are in the database regardless)."""
        if self.spool is None or self.read_only or (
                self._ingester is None and "://" not in self.spool
                                  and not Path(self.spool, "pending").is_dir()):
            return
        try:
            self.ingest()
        except GantryLocalError as exc:
            logging.getLogger("gantry_local").warning("gantry-local: %s", exc)

    def _spool_app(self, name: str) -> AppState:
        """An application named by a segment, created (``Custom``) when missing."""
        state = self._apps.get(name)
        if state is None:
            self.create_application(name)
            state = self._apps[name]
        return state

    @property
    def pending_records(self) -> int:
        """Records logged but not yet written to the database."""
        return self._buffer.pending

    # -- applications -------------------------------------------------------------------------

    def create_application(self, application_name: str, application_type: str | None = None
                           ) -> Application[Workspace]:
        """Create an application (a model whose traffic is logged) and its tables.

        `application_type` is ``"Custom"`` (the default), ``"Completion"`` (prompt
        versions; a `CompletionApplication` is returned) or ``"Chat"`` (a `ChatApplication`).

        Raises:
            ValidationError: bad name or application type.
            AlreadyExistsError: an application of that name exists (or was archived).
        """
        name = application_name
        check_name(name, "application name")
        if application_type is None:
            application_type = "Custom"
        if application_type not in APPLICATION_TYPES:
            raise ValidationError(f"application_type must be one of {APPLICATION_TYPES}, "
                                  f"got {application_type!r}")
        with self.database.lock:
            self._check_open()
            if name in self._apps:
                raise AlreadyExistsError(f"application {name!r} already exists; use "
                                         "get_application() to open it")
            if name in self._archived:
                raise AlreadyExistsError(f"application {name!r} was archived; its records are "
                                         "kept. delete_application() removes it for good")
            twin = next((other for other in [*self._apps, *self._archived]
                         if fold(other) == fold(name)), None)
            if twin is not None:  # its tables would be the same to DuckDB
                raise AlreadyExistsError(f"application {name!r} differs from {twin!r} only in "
                                         "case, and DuckDB table names ignore case; pick "
                                         "another name")
            with storage_errors(f"creating application {name!r}"), transaction(self.database.con):
                run(self.database.con, "INSERT INTO _gl_applications (name, application_type, created_at) "
                               "VALUES (?, ?, ?)",
                                  [name, application_type, read_clock(self.clock)])
                create_app_tables(self.database.con, name)
            self._apps[name] = AppState(name, application_type, AppSchema({}, {}))
        return self.get_application(name)

    def get_application(self, application_name: str) -> Application[Workspace]:
        """The application called `application_name` (a `CompletionApplication` for one of
        type ``"Completion"``).

        Raises:
            NotFoundError: there is none (the message lists those that exist).
        """
        from .llm import application_object

        state = self._app_state(application_name)
        return application_object(self, state.name, state.application_type)

    def list_applications(self) -> list[str]:
        """The names of every application (archived ones aside), sorted, as Gantry's
        ``gquery.list_applications()`` returns them."""
        self._check_open()
        return sorted(self._apps)

    def archive_application(self, application_name: str) -> None:
        """Archive an application (Gantry's soft delete): it is no longer listed, opened or
        logged to, and its records stay in the database (`delete_application` removes them).

        Raises:
            NotFoundError: no such application.
        """
        with self.database.lock:
            state = self._app_state(application_name)
            self._buffer.flush()
            with storage_errors(f"archiving application {state.name!r}"), \
                    transaction(self.database.con):
                run(self.database.con, "UPDATE _gl_applications SET archived_at = ? WHERE name = ?",
                    [read_clock(self.clock), state.name])
            state.deleted = True
            del self._apps[state.name]
            self._archived[state.name] = state

    def delete_application(self, application_name: str) -> None:
        """Delete an application (archived or not) and everything logged for it."""
        name = application_name
        self._check_writable()
        with self.database.lock:
            if isinstance(name, str) and name in self._archived:
                state = self._archived.pop(name)
            else:
                state = self._app_state(name)
                del self._apps[state.name]
            name = state.name
            state.deleted = True
            self._buffer.flush()
            with storage_errors(f"deleting application {name!r}"), transaction(self.database.con):
                drop_app_tables(self.database.con, name)
                run(self.database.con, "DELETE FROM _gl_columns WHERE application = ?", [name])
                run(self.database.con, "DELETE FROM _gl_batch_keys WHERE batch_id IN (SELECT batch_id "
                               "FROM _gl_batches WHERE application = ?)", [name])
                run(self.database.con, "DELETE FROM _gl_batches WHERE application = ?", [name])
                run(self.database.con, "DELETE FROM _gl_saved_queries WHERE application = ?", [name])
                run(self.database.con, "DELETE FROM _gl_views WHERE application = ?", [name])
                run(self.database.con, "DELETE FROM _gl_applications WHERE name = ?", [name])
            self._sink.forget(name)

    # -- logging ------------------------------------------------------------------------------

    def log_record(
        self,
        application: str,
        version: int | str | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Any = None,
        feedback_id: str | Mapping[str, Any] | None = None,
        feedback: Mapping[str, Any] | None = None,
        feedback_keys: Sequence[str] | None = None,
        ignore_inputs: Sequence[str] | None = None,
        timestamp: datetime | None = None,
        sample_rate: float = 1.0,
        tags: Mapping[str, str] | None = None,
        join_key: str | None = None,
        *,
        feedbacks: Any = UNSET,
    ) -> str | None:
        """Log one prediction (inputs and outputs), its feedback, or both; return its join key.

        Gantry's arguments in Gantry's order. The call validates and buffers the record
        and returns at once; a background thread writes it. A naive `timestamp` is read as
        UTC; the default is the workspace clock's now. A bare (non-dict) `outputs` is
        stored as ``outputs.value``. Feedback alone needs the `join_key` of its prediction.
        `feedback_id` (a key, or a dict whose values are hashed) and `feedback_keys` (input
        fields whose values are hashed) are Gantry's older ways to give the join key;
        `ignore_inputs` names input fields to leave out. With `sample_rate` < 1 each call is
        kept with that probability; a call left out returns None, as in Gantry.

        Raises:
            ValidationError: missing parts, unsupported values, a field whose type clashes
                with what was logged before, or ``feedbacks=`` (log_records' name); nothing
                of the call is stored.
            NotFoundError: no such application.
            BufferFullError: the buffer stayed full for `buffer_timeout` seconds.
        """
        state = self._apps.get(application) if type(application) is str else None
        if state is None:
            state = self._app_state(application)
        if feedback_id is not None or feedback_keys is not None or ignore_inputs is not None \
                or feedbacks is not UNSET:
            if feedbacks is not UNSET:
                raise wrong_feedback_name("log_record")
            join_key = resolve_join_key(inputs, feedback_id, feedback_keys,  # type: ignore[assignment]
                                        join_key)
            inputs = drop_ignored(inputs, ignore_inputs)
        if self._default_env is not None and (inputs is not None or outputs is not None):
            tags = self._env_tags(tags)
        return self._logger.log_one(state, version, inputs, outputs, feedback, join_key,
                                    timestamp, tags, sample_rate)

    def log_records(
        self,
        application: str,
        version: int | str | None = None,
        inputs: Any = None,
        outputs: Any = None,
        feedback_keys: Sequence[str] | None = None,
        feedback_ids: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
        feedbacks: Any = None,
        ignore_inputs: Sequence[str] | None = None,
        timestamps: Any = None,
        sort_on_timestamp: bool = True,
        sample_rate: float = 1.0,
        as_batch: bool = False,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        join_keys: Any = None,
        row_tags: Any = None,
        global_tags: Mapping[str, str] | None = None,
        *,
        feedback: Any = UNSET,
    ) -> tuple[str | None, list[str]]:
        """Log many records; return ``(batch_id, join_keys)`` as Gantry does.

        `inputs`, `outputs` and `feedbacks` are lists of dicts (outputs may be bare
        values), polars or pandas DataFrames, or Arrow tables, one entry per record.
        `tags` is one dict for all records or one per record; `global_tags` apply to every
        record and `row_tags` (a list of dicts or a frame) to each. Timestamps default to
        now; naive ones are UTC; with `sort_on_timestamp` records are stored in time
        order. `as_batch` groups the records into a batch whose id is returned (else the
        id is None); the join keys are those of the records kept (`sample_rate` may leave
        some out), in the order given. The call is all or nothing for validation errors;
        a call larger than the buffer is written in chunks (see `BufferFullError`).

        Raises:
            ValidationError: mismatched lengths, missing parts, bad values, a type clash,
                or ``feedback=`` (log_record's name).
            NotFoundError: no such application.
            BufferFullError: the buffer stayed full; `accepted` says how many were kept.
        """
        from ._logging import log_records

        if feedback is not UNSET:
            raise wrong_feedback_name("log_records")
        return log_records(self, application, version, inputs, outputs, feedback_keys,
                           feedback_ids, feedbacks, ignore_inputs, timestamps, sort_on_timestamp,
                           sample_rate, as_batch, tags, join_keys, row_tags, global_tags)

    def log(
        self,
        application: str,
        version: int | str | None = None,
        inputs: Any = None,
        outputs: Any = None,
        feedbacks: Any = None,
        ignore_inputs: Sequence[str] | None = None,
        tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        timestamps: Any = None,
        sort_on_timestamp: bool = True,
        sample_rate: float = 1.0,
        row_tags: Any = None,
        global_tags: Mapping[str, str] | None = None,
        join_keys: Any = None,
        as_batch: bool = False,
        run_id: str | None = None,
        run_tags: Mapping[str, str] | None = None,
        *,
        feedback: Any = UNSET,
    ) -> str | tuple[str | None, list[str]] | None:
        """Gantry's general log call: one record (inputs, outputs and feedbacks each a dict)
        returns its join key; anything else goes to `log_records` and returns ``(batch_id,
        join_keys)``. `run_id` adds the records to that run's batch (see
        `Application.start_run`), with `run_tags` as their global tags."""
        from ._logging import log

        if feedback is not UNSET:
            raise wrong_feedback_name("log")
        return log(self, application, version, inputs, outputs, feedbacks, ignore_inputs, tags,
                   timestamps, sort_on_timestamp, sample_rate, row_tags, global_tags, join_keys,
                   as_batch, run_id, run_tags)

    def log_file(
        self,
        application: str,
        filepath: str | Path,
        version: int | str | None = None,
        timestamp: str | None = None,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        feedbacks: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        feedback_id: str | None = None,
        feedback_keys: Sequence[str] | None = None,
        sep: str = ",",
        join_key: str | None = None,
    ) -> None:
        """Log the records of a CSV (with a header) or Parquet file as one batch; see
        `gantry_local._logging.log_file` for how columns map to fields."""
        from ._logging import log_file

        log_file(self, application, filepath, version, timestamp, inputs, outputs, feedbacks,
                 tags, feedback_id, feedback_keys, sep, join_key)

    def log_from_data_connector(
        self,
        application: str,
        source_data_connector_name: str,
        timestamp: str | None = None,
        inputs: Sequence[str] | None = None,
        outputs: Sequence[str] | None = None,
        feedbacks: Sequence[str] | None = None,
        join_key: str | None = None,
        row_tags: Sequence[str] | None = None,
        global_tags: Mapping[str, str] | None = None,
        schedule: Any = None,
        pipeline_name: str | None = None,
    ) -> NoReturn:
        """Not available here: Gantry's data connectors live on its service (see the error)."""
        from ._logging import log_from_data_connector

        log_from_data_connector(source_data_connector_name)

    def query(
        self,
        application: str,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        version: int | str | None = None,
        tags: Mapping[str, str] | None = None,
        filters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Query:
        """Records of `application` in ``[start_time, end_time)`` (see `Application.query`)."""
        self._app_state(application)
        return Query(self.__gantry_context__, application, start_time, end_time, version, tags, filters)

    # -- datasets -----------------------------------------------------------------------------

    @property
    def datasets(self) -> DatasetRegistry:
        """The datasets under this workspace's storage root."""
        self._check_open()
        with self.database.lock:
            if self._datasets is None:
                store = ObjectStore(self.storage, self.storage_options)
                self._datasets = DatasetRegistry(store, self.clock)
            return self._datasets

    def create_dataset(self, name: str, bucket_name: str | None = None,
                       app_name: str | None = None) -> Dataset:
        """Create an empty dataset on the storage root (see `DatasetRegistry.create_dataset`)."""
        if app_name is not None:
            app_name = self._app_state(app_name).name  # a name or an Application
        return self.datasets.create_dataset(name, bucket_name, app_name)

    def get_dataset(self, name: str, app_name: str | None = None,
                    include_deleted: bool = False) -> Dataset:
        """A dataset of the storage root (of application `app_name` when given)."""
        return self.datasets.get_dataset(name, app_name, include_deleted)

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every dataset of the storage root, sorted by name."""
        return self.datasets.list_datasets(include_deleted)

    def delete_dataset(self, name: str) -> None:
        """Soft-delete a dataset (restorable with `restore_dataset`)."""
        self.datasets.delete_dataset(name)

    def restore_dataset(self, name: str) -> Dataset:
        """Bring back a soft-deleted dataset."""
        return self.datasets.restore_dataset(name)

    def list_dataset_versions(self, name: str) -> list[dict[str, Any]]:
        """The versions of a dataset, newest first."""
        return self.datasets.list_dataset_versions(name)

    def register_model(self, name: str, fn: Callable[..., Any]) -> None:
        """Make `fn(prompt, **model_params) -> str` the model that completion versions name."""
        from .evaluation._models import models

        models(self.database).register(name, fn)

    def model(self, name: str) -> Callable[..., Any]:
        """The model registered under `name`."""
        from .evaluation._models import models

        return models(self.database).get(name)

    def set_working_directory(self, path: str | Path) -> None:
        """Where `Dataset.pull` materialises datasets."""
        self.datasets.set_working_directory(path)

    def gc(self, dry_run: bool = True, grace: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Delete unreferenced storage objects and failed writes' temp files older than `grace`.

        A dry run by default; see `DatasetRegistry.gc`.
        """
        return self.datasets.gc(dry_run, grace)

    # -- internals ----------------------------------------------------------------------------

    def _app_state(self, name: object) -> AppState:
        return self._states.get(name)

    def _check_writable(self) -> None:
        if self.read_only:
            raise StorageError(f"the workspace on {self.db!r} is read-only; open it for writing "
                               "to change it")

    def _check_open(self) -> None:
        self.database.check_open()

    def _load_applications(self) -> None:
        with storage_errors("loading applications"):
            apps = run(self.database.con, "SELECT name, application_type, archived_at IS NOT NULL "
                                  "FROM _gl_applications")
            cols = run(self.database.con, "SELECT application, table_kind, column_name, logical_type "
                       "FROM _gl_columns")
        by_app: dict[str, dict[str, dict[str, str]]] = {}
        for app, kind, column, logical in cols:
            by_app.setdefault(app, {RECORDS: {}, FEEDBACK: {}})[kind][column] = logical
        for name, app_type, archived in apps:
            tables = by_app.get(name, {RECORDS: {}, FEEDBACK: {}})
            state = AppState(name, app_type, AppSchema(tables[RECORDS], tables[FEEDBACK]))
            state.deleted = bool(archived)
            (self._archived if archived else self._apps)[name] = state


class _ReadOnlyLogger(RecordLogger):
    """A read-only workspace's logger: every log call is refused at once (a record it
    accepted could never be written)."""

    def __init__(self, buffer: LogBuffer, clock: Clock, db: str) -> None:
        super().__init__(buffer, clock)
        self._db = db

    def _refuse(self) -> StorageError:
        return StorageError(f"the workspace on {self._db!r} is read-only; log from a "
                            "workspace opened for writing, or from a producer "
                            "(init(producer=True))")

    def log_one(self, *args: Any, **kwargs: Any) -> str | None:
        raise self._refuse()

    def log_many(self, *args: Any, **kwargs: Any) -> list[str]:
        raise self._refuse()


def _default_storage(db: str) -> str:
    if db == ":memory:":
        import uuid

        return f"memory://gantry-local-{uuid.uuid4().hex[:12]}"
    path = Path(db).expanduser().resolve()
    return str(path.with_name(path.stem + "-storage"))


def _check_range(value: object, what: str, low: float, high: float) -> None:
    """`value` must be a number in (`low`, `high`] seconds (finite: a thread waits on it)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not low < value <= high:
        raise ValidationError(f"{what} must be a number of seconds above {low:g} and at most "
                              f"{high:g}, got {value!r}")


def _check_positive(value: object, what: str, integer: bool = False) -> None:
    """A positive integer (numpy integers too; not a bool)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or not int(value) > 0:
        raise ValidationError(f"{what} must be a positive integer, got {value!r}")


def _check_db(db: object) -> None:
    """`db` must name a DuckDB file (or be ``":memory:"``): a non-empty path without NUL."""
    if not isinstance(db, (str, Path)):
        raise ValidationError(f"db must be a path or ':memory:', got {type(db).__name__}")
    text = str(db)
    if not text.strip() or (isinstance(db, Path) and text == "."):
        raise ValidationError(f"db must be a file path, got {text!r}; pass db=':memory:' for an "
                              "in-memory database")
    if "\x00" in text or not is_valid_text(text):
        raise ValidationError(f"db {text!r} is not a usable path (it holds a NUL byte or a lone "
                              "surrogate)")
    if text != ":memory:" and Path(text).expanduser().is_dir():
        raise ValidationError(f"db {text!r} is a folder; name a DuckDB file in it, e.g. "
                              f"{str(Path(text) / 'gantry.duckdb')!r}")


def _check_storage(storage: object, options: object) -> None:
    if storage is not None and (not isinstance(storage, str) or not storage.strip()
                                or "\x00" in storage or not is_valid_text(storage)):
        raise ValidationError(f"storage must be a folder path or an fsspec URL, got {storage!r}")
    if options is not None and (not isinstance(options, Mapping)
                                or not all(isinstance(k, str) for k in options)):
        raise ValidationError("storage_options must be a dict of fsspec options (string keys)")


@atexit.register
def _close_open_workspaces() -> None:
    for workspace in list(_OPEN):
        try:
            workspace.close()
        except Exception:  # at exit there is no one left to tell but stderr
            import traceback

            traceback.print_exc()


def _with_env(tags: Any, env: str) -> Any:
    """`tags` with ``env`` added where absent (one dict, a list of dicts, or None); any
    other value is returned as is, for the logger to reject."""
    if tags is None:
        return {"env": env}
    if isinstance(tags, Mapping):
        return tags if "env" in tags else {**tags, "env": env}
    if isinstance(tags, Sequence) and not isinstance(tags, (str, bytes)) and all(
            isinstance(t, Mapping) for t in tags):
        return [t if "env" in t else {**t, "env": env} for t in tags]
    return tags
