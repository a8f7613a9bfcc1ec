"""Curator definitions and run history in the DuckDB file (so any process sees and runs them).

This module stores rows: a curator's definition is JSON text here. Rebuilding `Curator`
objects from it is the curators' job (`curators.curators.CuratorRegistry`, a subclass), so
the curators reach this store and it never reaches them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from .._db import run, storage_errors, transaction
from ..clock import datetime_from_us as _from_us
from ..clock import to_utc
from ..errors import AlreadyExistsError, IntegrityError, NotFoundError

if TYPE_CHECKING:
    from .._db import Database
    from ..clock import Clock

__all__ = ["BrokenDefinition", "CuratorRow", "Registry"]


def next_start(first: datetime, last_end: datetime | None, step: timedelta) -> datetime:
    """The first interval of the grid ``first + k*step`` that starts at or after `last_end`
    (the end of the last curated interval), so a tick never walks the curated history."""
    if last_end is None or last_end <= first:
        return first
    steps = -((first - last_end) // step)  # ceiling division
    return first + steps * step


def utc_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Time-zone-aware columns spelled ``UTC``, as `query()` and dataset frames spell it
    (DuckDB's Arrow export says ``Etc/UTC``, so joins between the two failed)."""
    zoned = [name for name, dtype in frame.schema.items()
             if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None]
    if not zoned:
        return frame
    return frame.with_columns([pl.col(n).dt.convert_time_zone("UTC") for n in zoned])


_Starts = dict[str, list[datetime]]  # curator -> interval starts


@dataclass(frozen=True)
class BrokenDefinition:
    """A stored curator whose definition cannot be read (written by hand or another version)."""

    name: str
    application: str
    automation: str | None
    error: IntegrityError


@dataclass(frozen=True)
class CuratorRow:
    """One stored curator as the database holds it (its definition as JSON text)."""

    name: str
    definition: str
    enabled: bool
    first_interval_start: datetime
    automation: str | None
    created_at: datetime
    application: str


def _moment(value: datetime | int) -> datetime:
    return _from_us(value) if isinstance(value, int) else to_utc(value)


class Registry:
    """Reads and writes ``_gl_curators``, ``_gl_curator_runs``, the automations' failures and
    the suites' runs of one database."""

    def __init__(self, database: Database, clock: Clock) -> None:
        self.database = database
        self.clock = clock

    def check_free(self, name: str, automation: str | None = None) -> None:
        """Raise `AlreadyExistsError` if a curator (or a curator automation) has the name."""
        with self.database.cursor() as con, storage_errors(f"saving curator {name!r}"):
            if run(con, "SELECT 1 FROM _gl_curators WHERE name = ?", [name]):
                raise AlreadyExistsError(f"curator {name!r} already exists")
            if automation is not None and run(
                    con, "SELECT 1 FROM _gl_curators WHERE automation = ?", [automation]):
                raise AlreadyExistsError(f"automation {automation!r} already exists")

    def insert(self, name: str, application: str, definition: str, enabled: bool,
               first: datetime, automation: str | None, created: datetime) -> None:
        """Store a new curator's row (`AlreadyExistsError` if a thread stored it meanwhile)."""
        with self.database.cursor() as con, storage_errors(f"saving curator {name!r}"):
            try:
                run(con, "INSERT INTO _gl_curators VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [name, application, definition, enabled, first, automation, created])
            except duckdb.ConstraintException as exc:
                raise AlreadyExistsError(f"curator {name!r} already exists") from exc

    def row(self, name: str) -> CuratorRow:
        """The stored row of curator `name` (`NotFoundError` if there is none)."""
        with self.database.cursor() as con, storage_errors("reading curators"):
            rows = run(con, "SELECT name, definition, enabled, first_interval_start, automation, "
                       "created_at, application FROM _gl_curators WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"no curator {name!r}; create it (or add its automation) first")
        return self._row(*rows[0])

    @staticmethod
    def _row(name: str, definition: str, enabled: bool, first: datetime | int,
             automation: str | None, created: datetime | int, application: str) -> CuratorRow:
        return CuratorRow(name, definition, bool(enabled), _moment(first), automation,
                          _moment(created), application)

    def rows(self, application_name: str | None = None) -> list[CuratorRow]:
        """Every stored curator's row (of one application if given), by name."""
        with self.database.cursor() as con, storage_errors("listing curators"):
            # epoch microseconds: converting TIMESTAMPTZ values to datetimes is the slow part
            columns = ("SELECT name, definition, enabled, epoch_us(first_interval_start), "
                       "automation, epoch_us(created_at), application FROM _gl_curators")
            if application_name is None:  # the scheduler's tick: an unprepared query is faster
                rows = run(con, f"{columns} ORDER BY name")
            else:
                rows = run(con, f"{columns} WHERE application = ? ORDER BY name",
                           [application_name])
        return [self._row(*row) for row in rows]

    def automation_taken(self, name: str) -> bool:
        """Whether a stored curator automation has this name."""
        with self.database.cursor() as con, storage_errors("reading automations"):
            return bool(run(con, "SELECT 1 FROM _gl_curators WHERE automation = ?", [name]))

    # -- failures of whole automations (a broken definition, a monitor, a suite) -----------------

    def record_failure(self, automation: str, kind: str, application: str | None,
                       error: str) -> None:
        """Remember that `automation` failed in a tick (kept until it next succeeds)."""
        now = self.clock.now()
        with self.database.cursor() as con, storage_errors(f"recording a failure of {automation!r}"):
            run(con, "INSERT INTO _gl_automation_failures VALUES (?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (automation) DO UPDATE SET kind = excluded.kind, application = "
                "excluded.application, last_failed_at = excluded.last_failed_at, failures = "
                "_gl_automation_failures.failures + 1, error = excluded.error",
                [automation, kind, application, now, now, error])

    def clear_failure(self, automations: set[str]) -> None:
        """Forget past failures of automations that succeeded."""
        if not automations:
            return
        with self.database.cursor() as con, storage_errors("clearing automation failures"):
            run(con, "DELETE FROM _gl_automation_failures WHERE list_contains(?, automation)",
                [sorted(automations)])

    def failures(self) -> pl.DataFrame:
        with self.database.cursor() as con, storage_errors("reading automation failures"):
            table = con.sql("SELECT * FROM _gl_automation_failures ORDER BY automation"
                            ).to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)

    def replace(self, name: str, new_name: str, definition: str, first: datetime) -> None:
        """Store a changed definition of curator `name` (a rename carries its runs along)."""
        with self.database.cursor() as con, storage_errors(f"updating curator {name!r}"), \
                transaction(con):
            if new_name != name and run(
                    con, "SELECT 1 FROM _gl_curators WHERE name = ?", [new_name]):
                raise AlreadyExistsError(f"curator {new_name!r} already exists")
            run(con, "UPDATE _gl_curators SET name = ?, definition = ?, first_interval_start = ? "
                "WHERE name = ?", [new_name, definition, first, name])
            if new_name != name:
                run(con, "UPDATE _gl_curator_runs SET curator = ? WHERE curator = ?",
                    [new_name, name])

    def last_end(self, name: str) -> datetime | None:
        """The end of the last curated (succeeded) interval of curator `name`."""
        with self.database.cursor() as con, storage_errors("reading curator runs"):
            rows = run(con, "SELECT max(interval_end) FROM _gl_curator_runs WHERE curator = ? "
                       "AND status = 'succeeded'", [name])
        last = rows[0][0] if rows else None
        return None if last is None else to_utc(last)

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Turn curator `name` on or off (`NotFoundError` if there is none)."""
        self.row(name)
        with self.database.cursor() as con, storage_errors(f"updating curator {name!r}"):
            run(con, "UPDATE _gl_curators SET enabled = ? WHERE name = ?", [enabled, name])

    def delete(self, name: str) -> None:
        """Forget curator `name`, its runs and its automation's failures."""
        automation = self.row(name).automation
        with self.database.cursor() as con, storage_errors(f"deleting curator {name!r}"), \
                transaction(con):
            run(con, "DELETE FROM _gl_curators WHERE name = ?", [name])
            run(con, "DELETE FROM _gl_curator_runs WHERE curator = ?", [name])
            run(con, "DELETE FROM _gl_automation_failures WHERE automation = ? OR automation = ?",
                [name, automation])

    def succeeded(self) -> dict[str, set[datetime]]:
        """Interval starts of every succeeded run, by curator (reads the whole history: for
        tests and tools; a tick uses `progress`)."""
        with self.database.cursor() as con, storage_errors("reading curator runs"):
            rows = run(con, "SELECT curator, epoch_us(interval_start) FROM _gl_curator_runs "
                       "WHERE status = 'succeeded'")
        done: dict[str, set[datetime]] = {}
        for name, start in rows:
            done.setdefault(name, set()).add(_from_us(start))
        return done

    def progress(self) -> tuple[dict[str, datetime], _Starts]:
        """Per curator, the end of its last succeeded interval and the starts of its failed
        ones (oldest first): two aggregate queries, whatever the history's length."""
        with self.database.cursor() as con, storage_errors("reading curator runs"):
            ends = run(con, "SELECT curator, epoch_us(max(interval_end)) FROM _gl_curator_runs "
                       "WHERE status = 'succeeded' GROUP BY curator")
            failed = run(con, "SELECT curator, epoch_us(interval_start) FROM _gl_curator_runs "
                         "WHERE status = 'failed' ORDER BY interval_start")
        retry: _Starts = {}
        for name, start in failed:
            retry.setdefault(name, []).append(_from_us(start))
        return {name: _from_us(end) for name, end in ends}, retry

    def failure_counts(self) -> dict[str, tuple[datetime, int]]:
        """Automations failing now: name -> (last failure, consecutive failing ticks)."""
        with self.database.cursor() as con, storage_errors("reading automation failures"):
            rows = run(con, "SELECT automation, epoch_us(last_failed_at), failures "
                       "FROM _gl_automation_failures")
        return {name: (_from_us(last), int(count)) for name, last, count in rows}

    def record(self, name: str, start: datetime, end: datetime, status: str,
               rows_in_interval: int | None, rows_selected: int | None, version_id: str | None,
               started: datetime, error: str | None) -> None:
        with self.database.cursor() as con, storage_errors(f"recording a run of {name!r}"):
            run(con, "INSERT OR REPLACE INTO _gl_curator_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, start, end, status, rows_in_interval, rows_selected, version_id, started,
                 self.clock.now(), error])

    def runs(self, name: str | None = None) -> pl.DataFrame:
        with self.database.cursor() as con, storage_errors("reading curator runs"):
            table = con.sql("SELECT * FROM _gl_curator_runs WHERE ? IS NULL OR curator = ? "
                            "ORDER BY interval_start, curator", params=[name, name]
                            ).to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)

    # -- test-suite automations ----------------------------------------------------------------

    def suite_ran(self, suite: str, dataset: str, version_id: str) -> bool:
        with self.database.cursor() as con, storage_errors("reading suite runs"):
            # a run that raised (no evaluation) is retried on the next tick
            return bool(run(con, "SELECT 1 FROM _gl_suite_runs WHERE suite = ? AND dataset = ? "
                            "AND version_id = ? AND evaluation_id IS NOT NULL",
                            [suite, dataset, version_id]))

    def record_suite(self, suite: str, dataset: str, version_id: str, passed: bool,
                     evaluation_id: str | None, error: str | None) -> None:
        with self.database.cursor() as con, storage_errors(f"recording a run of suite {suite!r}"):
            run(con, "INSERT OR REPLACE INTO _gl_suite_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [suite, dataset, version_id, passed, evaluation_id, error, self.clock.now()])

    def suite_runs(self) -> pl.DataFrame:
        with self.database.cursor() as con, storage_errors("reading suite runs"):
            table = con.sql("SELECT * FROM _gl_suite_runs ORDER BY ran_at, suite").to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)
