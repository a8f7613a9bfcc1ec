"""Opening the DuckDB file: connection settings, error translation and named migrations."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, cast

import duckdb

from .errors import StorageError, ValidationError

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "LOCK_TIMEOUT_ENV",
    "MAX_LOCK_TIMEOUT",
    "MIGRATIONS",
    "Database",
    "connect",
    "lock_holder",
    "lock_timeout",
    "open_database",
    "run",
    "storage_errors",
    "transaction",
]

log = logging.getLogger("gantry_local.database")
LOCK_TIMEOUT_ENV = "GANTRY_LOCAL_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0  # a scheduler tick usually holds the file for well under this
MAX_LOCK_TIMEOUT = 86_400.0
# DuckDB: 'Conflicting lock is held in /usr/bin/python3.12 (PID 4242) by user ...'
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.*?) \(PID (?P<pid>\d+)\)")

_T = TypeVar("_T")

# (name, statements). Append only: a released migration is never edited or reordered.
MIGRATIONS: list[tuple[str, list[str]]] = [
    (
        "0001_applications",
        [
            """CREATE TABLE _gl_applications (
                name VARCHAR PRIMARY KEY,
                application_type VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
        ],
    ),
    (
        "0002_columns",
        [
            """CREATE TABLE _gl_columns (
                application VARCHAR NOT NULL,
                table_kind VARCHAR NOT NULL,
                column_name VARCHAR NOT NULL,
                logical_type VARCHAR NOT NULL,
                PRIMARY KEY (application, table_kind, column_name)
            )""",
        ],
    ),
    (
        "0003_curators",
        [
            """CREATE TABLE _gl_curators (
                name VARCHAR PRIMARY KEY,
                application VARCHAR NOT NULL,
                definition VARCHAR NOT NULL,
                enabled BOOLEAN NOT NULL,
                first_interval_start TIMESTAMPTZ NOT NULL,
                automation VARCHAR,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE _gl_curator_runs (
                curator VARCHAR NOT NULL,
                interval_start TIMESTAMPTZ NOT NULL,
                interval_end TIMESTAMPTZ NOT NULL,
                status VARCHAR NOT NULL,
                rows_in_interval BIGINT,
                rows_selected BIGINT,
                version_id VARCHAR,
                started_at TIMESTAMPTZ NOT NULL,
                finished_at TIMESTAMPTZ NOT NULL,
                error VARCHAR,
                PRIMARY KEY (curator, interval_start)
            )""",
        ],
    ),
    (
        "0004_evaluations",
        [
            """CREATE TABLE _gl_completion_versions (
                application VARCHAR NOT NULL,
                number BIGINT NOT NULL,
                id VARCHAR NOT NULL UNIQUE,
                prompt_template VARCHAR NOT NULL,
                description VARCHAR NOT NULL,
                model VARCHAR NOT NULL,
                model_params VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (application, number)
            )""",
            """CREATE TABLE _gl_completion_deployments (
                application VARCHAR NOT NULL,
                env VARCHAR NOT NULL,
                version_id VARCHAR NOT NULL,
                deployed_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (application, env)
            )""",
            """CREATE TABLE _gl_eval_cache (
                candidate VARCHAR NOT NULL,
                row_hash VARCHAR NOT NULL,
                output VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (candidate, row_hash)
            )""",
            """CREATE TABLE _gl_evaluations (
                id VARCHAR PRIMARY KEY,
                created_at TIMESTAMPTZ NOT NULL,
                dataset VARCHAR NOT NULL,
                version_id VARCHAR NOT NULL,
                summary VARCHAR NOT NULL,
                rows BLOB NOT NULL
            )""",
            """CREATE TABLE _gl_suite_runs (
                suite VARCHAR NOT NULL,
                dataset VARCHAR NOT NULL,
                version_id VARCHAR NOT NULL,
                passed BOOLEAN NOT NULL,
                evaluation_id VARCHAR,
                error VARCHAR,
                ran_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (suite, dataset, version_id)
            )""",
        ],
    ),
    (
        "0005_alerts",
        [
            """CREATE TABLE _gl_alerts (
                id VARCHAR PRIMARY KEY,
                automation VARCHAR NOT NULL,
                application VARCHAR NOT NULL,
                aggregation VARCHAR NOT NULL,
                fields VARCHAR NOT NULL,
                lower_bound DOUBLE,
                upper_bound DOUBLE,
                value DOUBLE,
                window_start TIMESTAMPTZ NOT NULL,
                window_end TIMESTAMPTZ NOT NULL,
                fired_at TIMESTAMPTZ NOT NULL,
                resolved_at TIMESTAMPTZ,
                resolved_value DOUBLE,
                action_error VARCHAR
            )""",
        ],
    ),
    (
        "0006_automation_failures",
        [
            """CREATE TABLE _gl_automation_failures (
                automation VARCHAR PRIMARY KEY,
                kind VARCHAR NOT NULL,
                application VARCHAR,
                first_failed_at TIMESTAMPTZ NOT NULL,
                last_failed_at TIMESTAMPTZ NOT NULL,
                failures BIGINT NOT NULL,
                error VARCHAR NOT NULL
            )""",
        ],
    ),
    (
        # DuckDB matches column names without regard to case; fields are case-sensitive, so a
        # field's column may carry a suffix (see records/_naming.py).
        "0007_physical_columns",
        [
            "ALTER TABLE _gl_columns ADD COLUMN physical_name VARCHAR",
            "UPDATE _gl_columns SET physical_name = column_name",
        ],
    ),
    (
        # The spool's ledger: one row per segment ingested or quarantined (records/_ingest.py).
        "0010_spool_segments",
        [
            """CREATE TABLE _gl_spool_segments (
                segment VARCHAR PRIMARY KEY,
                application VARCHAR NOT NULL,
                kind VARCHAR NOT NULL,
                writer VARCHAR NOT NULL,
                seq BIGINT NOT NULL,
                "rows" BIGINT NOT NULL,
                late_rows BIGINT NOT NULL,
                status VARCHAR NOT NULL,
                error VARCHAR,
                ingested_at TIMESTAMPTZ NOT NULL,
                removed_at TIMESTAMPTZ
            )""",
        ],
    ),
    (
        # Gantry's batches and runs (which join keys a batch holds), saved queries, views,
        # and archived applications.
        "0011_batches_queries_views",
        [
            "ALTER TABLE _gl_applications ADD COLUMN archived_at TIMESTAMPTZ",
            """CREATE TABLE _gl_batches (
                batch_id VARCHAR PRIMARY KEY,
                application VARCHAR NOT NULL,
                batch_type VARCHAR NOT NULL,
                version VARCHAR,
                run_name VARCHAR,
                run_tags VARCHAR,
                record_count BIGINT NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE _gl_batch_keys (
                batch_id VARCHAR NOT NULL,
                join_key VARCHAR NOT NULL
            )""",
            """CREATE TABLE _gl_saved_queries (
                application VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                definition VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (application, name)
            )""",
            """CREATE TABLE _gl_views (
                application VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                version VARCHAR,
                definition VARCHAR NOT NULL,
                created_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (application, name)
            )""",
        ],
    ),
    (
        # Gantry's create_version(..., prompt_inputs=): the names a version's template takes.
        "0020_completion_prompt_inputs",
        ["ALTER TABLE _gl_completion_versions ADD COLUMN prompt_inputs VARCHAR"],
    ),
    (
        # gantry_local.alerts: alert definitions and their notifications, stored so any
        # process (and a restart) runs them; automations whose trigger and action are data
        "0030_alert_definitions",
        [
            "ALTER TABLE _gl_alerts ADD COLUMN alert_id VARCHAR",
            """CREATE TABLE _gl_alert_definitions (
                id VARCHAR PRIMARY KEY,
                name VARCHAR NOT NULL,
                application VARCHAR NOT NULL,
                checks VARCHAR NOT NULL,
                evaluation_window VARCHAR NOT NULL,
                evaluation_delay VARCHAR NOT NULL,
                tags VARCHAR NOT NULL,
                automation VARCHAR,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE _gl_alert_notifications (
                id VARCHAR PRIMARY KEY,
                alert_id VARCHAR NOT NULL,
                name VARCHAR NOT NULL,
                action VARCHAR NOT NULL,
                notify_daily BOOLEAN NOT NULL,
                daily_notification_time VARCHAR,
                last_sent_at TIMESTAMPTZ,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            """CREATE TABLE _gl_automations (
                name VARCHAR PRIMARY KEY,
                application VARCHAR NOT NULL,
                definition VARCHAR NOT NULL,
                alert_id VARCHAR,
                stopped BOOLEAN NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
        ],
    ),
    (
        # What every later process needs to find the workspace's datasets (see _config.py).
        "0050_workspace_config",
        [
            """CREATE TABLE _gl_workspace_config (
                key VARCHAR PRIMARY KEY,
                value VARCHAR NOT NULL
            )""",
        ],
    ),
]


class Database:
    """The DuckDB file of one workspace: its connection, lock and cursors, and a cache of
    what was read about table columns (valid until `columns_changed` is called).

    The workspace owns it and hands it to the rooms that read or write the database.

    Raises:
        StorageError: the file cannot be opened (see `open_database`).
    """

    def __init__(self, path: str, clock_now: Callable[[], datetime], read_only: bool = False,
                 lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
        self.path = path
        self.read_only = read_only
        self.con = open_database(path, clock_now, read_only, lock_timeout)
        self.lock = threading.RLock()  # held by the workspace while it changes applications
        self.closed = False
        self.generation = 0  # bumped once a change to a table's columns is visible
        self._columns: dict[str, tuple[int, object]] = {}
        self._states: dict[type, object] = {}

    def check_open(self) -> None:
        """Raise `StorageError` once the database is closed."""
        if self.closed:
            raise StorageError(f"the workspace on {self.path!r} is closed; open a new one")

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A private DuckDB cursor for one operation on the calling thread."""
        self.check_open()
        cursor = self.con.cursor()
        try:
            yield cursor
        finally:
            cursor.close()

    def columns_changed(self) -> None:
        """Forget what was read about columns: a table gained, widened or lost columns."""
        self.generation += 1

    def cached_columns(self, key: str, read: Callable[[duckdb.DuckDBPyConnection], _T]) -> _T:
        """`read(cursor)`'s result for `key`, read again only after `columns_changed`."""
        generation = self.generation
        cached = self._columns.get(key)
        if cached is not None and cached[0] == generation:
            return cast(_T, cached[1])
        with self.cursor() as con:
            value = read(con)
        self._columns[key] = (generation, value)
        return value

    def state(self, kind: type[_T]) -> _T:
        """The one `kind()` of this database: where a room keeps its per-workspace state
        (evaluation its models, monitoring the automations living in this process)."""
        with self.lock:
            value = self._states.get(kind)
            if value is None:
                value = self._states[kind] = kind()
            return cast(_T, value)

    def close(self) -> None:
        """Close the connection (cursors opened from it stop working). Safe to call twice."""
        self.closed = True
        self.con.close()


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    """Translate DuckDB errors raised inside the block into `StorageError`."""
    try:
        yield
    except duckdb.Error as exc:
        raise StorageError(f"{what} failed: {exc}") from exc


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, rolling back on any error (the original error is what is raised)."""
    run(con, "BEGIN TRANSACTION")
    try:
        yield con
        run(con, "COMMIT")
    except BaseException:
        with suppress(duckdb.Error):  # a failed COMMIT has ended the transaction already
            run(con, "ROLLBACK")
        raise


def lock_timeout(value: object = None) -> float:
    """Seconds to wait for another process's lock: `value`, else ``$GANTRY_LOCAL_LOCK_TIMEOUT``,
    else 30.

    Raises:
        ValidationError: not a number of seconds from 0 to a day.
    """
    what = "lock_timeout"
    if value is None:
        env = os.environ.get(LOCK_TIMEOUT_ENV)
        if env is None or not env.strip():
            return DEFAULT_LOCK_TIMEOUT
        what = f"${LOCK_TIMEOUT_ENV}"
        try:
            value = float(env)
        except ValueError:
            value = env
    # NaN fails the comparison; an integer too big for a float compares without converting
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not 0 <= value <= MAX_LOCK_TIMEOUT:
        raise ValidationError(f"{what} must be a number of seconds from 0 to {MAX_LOCK_TIMEOUT:,.0f}, "
                              f"got {value!r}")
    return float(value)


def lock_holder(error: BaseException | str) -> str | None:
    """Who holds the file, from DuckDB's lock error: 'PID 42 (python -m ...)', or None when
    `error` is not a lock conflict."""
    text = str(error)
    found = _HOLDER.search(text)
    if found is None:
        return "another process" if "Conflicting lock" in text else None
    pid, program = found["pid"], found["program"]
    try:  # the command line says more than the interpreter's path (Linux only)
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            words = cmdline.read().split(b"\0")
        command = " ".join(w.decode(errors="replace") for w in words if w)[:200]
        program = command or program
    except OSError:
        pass
    return f"PID {pid} ({program})"


def connect(path: str, read_only: bool = False, timeout: float = DEFAULT_LOCK_TIMEOUT,
            on_wait: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, waiting up to `timeout` seconds while another process holds the file.

    `on_wait(holder)` is called once, when the first attempt finds the file held.

    Raises:
        StorageError: still held after `timeout` (the message names the holder), or the file
            cannot be opened at all.
    """
    deadline = time.monotonic() + timeout
    pause, told = 0.01, False
    while True:
        try:
            return duckdb.connect(path, read_only=read_only)
        except duckdb.Error as exc:
            holder = lock_holder(exc)
            if holder is None:
                raise StorageError(f"cannot open the database {path!r}: {exc}") from exc
            left = deadline - time.monotonic()
            if left <= 0:
                raise StorageError(
                    f"cannot open the database {path!r}: it is held by {holder} and stayed held "
                    f"for {timeout:g} s (DuckDB allows one writer, or many readers). Try again "
                    f"when it is done, or wait longer (lock_timeout, ${LOCK_TIMEOUT_ENV}, "
                    "--lock-timeout)") from exc
            if not told:
                told = True
                (on_wait or _log_wait)(holder)
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.2)


def _log_wait(holder: str) -> None:
    log.info("waiting for the database lock held by %s", holder)


def open_database(path: str, clock_now: Callable[[], datetime], read_only: bool = False,
                  timeout: float = DEFAULT_LOCK_TIMEOUT,
                  on_wait: Callable[[str], None] | None = None) -> duckdb.DuckDBPyConnection:
    """Open (or create) the DuckDB file and bring its schema up to date (see `connect` for
    the wait while another process holds it). Read-only opens change nothing.

    Raises:
        StorageError: the file stayed locked by another process, is unreadable, is not a
            DuckDB file, is missing (read-only), or needs migrations (read-only).
    """
    if path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.is_dir():
            raise StorageError(f"cannot create {path!r}: folder {str(parent)!r} does not exist")
        if read_only and not Path(path).expanduser().is_file():
            raise StorageError(f"no database {path!r} to read (read-only opens create nothing)")
    con = connect(path, read_only and path != ":memory:", timeout, on_wait)
    try:
        run(con, "SET TimeZone = 'UTC'")
        if read_only:
            _check_migrated(con, path)
            return con
        # The flush thread commits up to four times per flush_interval (a crash loses less);
        # checkpointing every 16 MB (the default) makes such appends cost twice as much.
        run(con, "SET checkpoint_threshold = '128MB'")
        _migrate(con, clock_now)
    except Exception:
        con.close()
        raise
    return con


def _check_migrated(con: duckdb.DuckDBPyConnection, path: str) -> None:
    """A read-only open needs every migration applied already (it cannot apply them)."""
    with storage_errors(f"reading the migrations of {path!r}"):
        found = run(con, "SELECT count(*) FROM duckdb_tables() WHERE table_name = "
                         "'_gl_migrations'")[0][0]
        done = {row[0] for row in run(con, "SELECT name FROM _gl_migrations")} if found else set()
    missing = [name for name, _ in MIGRATIONS if name not in done]
    if missing:
        raise StorageError(f"the database {path!r} needs upgrading ({', '.join(missing)}) and is "
                           "open read-only; open it once read-write (any command that writes, "
                           "or Workspace(db)) first")


def _migrate(con: duckdb.DuckDBPyConnection, clock_now: Callable[[], datetime]) -> None:
    with storage_errors("applying database migrations"):
        run(
            con,
            "CREATE TABLE IF NOT EXISTS _gl_migrations (name VARCHAR PRIMARY KEY, "
            "applied_at TIMESTAMPTZ NOT NULL)"
        )
        done = {row[0] for row in run(con, "SELECT name FROM _gl_migrations")}
        for name, statements in MIGRATIONS:
            if name in done:
                continue
            with transaction(con):
                for statement in statements:
                    run(con, statement)
                run(
                    con,
                    "INSERT INTO _gl_migrations VALUES (?, ?)",
                    [name, clock_now().astimezone(timezone.utc)],
                )


def run(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> list[Any]:
    """Run one statement to its end and return its rows (DuckDB wants results consumed)."""
    return con.execute(sql, params).fetchall() if params is not None else con.execute(sql).fetchall()
