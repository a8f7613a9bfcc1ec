"""Curator definitions and run history in the DuckDB file (so any process sees and runs them)."""

from __future__ import annotations

import contextlib
import copy
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from .._db import run, storage_errors, transaction
from ..clock import datetime_from_us as _from_us
from ..clock import to_utc
from ..errors import AlreadyExistsError, IntegrityError, NotFoundError
from ._definitions import curator_from_json, curator_to_json
from .curators.curators import curator_id

if TYPE_CHECKING:
    from .._context import Context as Workspace  # the parts of a Workspace rooms use
    from .curators import Curator

__all__ = ["BrokenDefinition", "CuratorRegistry"]

log = logging.getLogger("gantry_local.automations")


def first_interval(curator: Curator, now: datetime) -> datetime:
    """Where a new curator's intervals begin: `start_on`, and they step by the interval from
    there (a weekly curator started on a Monday runs Monday to Monday). Without `start_on`,
    Gantry's rule: start now, looking back one interval (whole seconds). With
    ``curate_past_intervals=False`` and `start_on` in the past, the interval of `start_on`'s
    grid that holds `now`."""
    interval = curator.curation_interval
    start = curator.start_on
    if start is None:
        return now.replace(microsecond=0) - interval
    if not curator.curate_past_intervals and start < now:
        return start + ((now - start) // interval) * interval
    return start


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


def _parse(name: str, definition: str) -> Curator:
    try:
        return curator_from_json(definition)
    except Exception as exc:  # anything a hand-edited or older definition can raise
        raise IntegrityError(
            f"the stored definition of curator {name!r} cannot be read "
            f"({type(exc).__name__}: {exc}); delete the curator and create it again") from exc


class CuratorRegistry:
    """Reads and writes ``_gl_curators`` and ``_gl_curator_runs``."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self._parsed: dict[str, Curator] = {}  # definition JSON -> parsed curator

    def create(self, curator: Curator, enabled: bool, automation: str | None = None) -> None:
        """Store `curator` (checked against its application) and create its dataset."""
        from .curators.curators import ensure_dataset

        self.ws._app_state(curator.application_name)
        curator.check(self.ws)
        now = self.ws.clock.now()
        with self.ws.database.cursor() as con, storage_errors(f"saving curator {curator.name!r}"):
            if run(con, "SELECT 1 FROM _gl_curators WHERE name = ?", [curator.name]):
                raise AlreadyExistsError(f"curator {curator.name!r} already exists")
            if automation is not None and run(
                    con, "SELECT 1 FROM _gl_curators WHERE automation = ?", [automation]):
                raise AlreadyExistsError(f"automation {automation!r} already exists")
        ensure_dataset(self.ws, curator.curated_dataset_name, curator.application_name)
        with self.ws.database.cursor() as con, storage_errors(f"saving curator {curator.name!r}"):
            run(con, "INSERT INTO _gl_curators VALUES (?, ?, ?, ?, ?, ?, ?)",
                [curator.name, curator.application_name, curator_to_json(curator), enabled,
                 first_interval(curator, now), automation, now])

    def _row(self, name: str) -> tuple[Any, ...]:
        with self.ws.database.cursor() as con, storage_errors("reading curators"):
            rows = run(con, "SELECT name, definition, enabled, first_interval_start, automation, "
                       "created_at FROM _gl_curators WHERE name = ?", [name])
        if not rows:
            raise NotFoundError(f"no curator {name!r}; create it (or add its automation) first")
        return tuple(rows[0])

    def get(self, name: str) -> Curator:
        """A stored curator.

        Raises:
            NotFoundError: no such curator.
            IntegrityError: its stored definition cannot be read.
        """
        return self._build(*self._row(name))

    def _build(self, name: str, definition: str, enabled: bool, first: datetime,
               automation: str | None, created: datetime | int) -> Curator:
        template = self._parsed.get(definition)
        if template is None:
            template = self._parsed[definition] = _parse(name, definition)
        curator = copy.copy(template)  # definitions are immutable; per-call state is set below
        curator.workspace = self.ws
        curator.enabled = bool(enabled)
        curator.first_interval_start = _from_us(first) if isinstance(first, int) else to_utc(first)
        curator.automation_name = automation
        curator._created_at = _from_us(created) if isinstance(created, int) else to_utc(created)
        curator._id = curator_id((*curator.former_names, curator.name)[0], curator._created_at)
        return curator

    def list(self, application_name: str | None = None,
             broken: list[BrokenDefinition] | None = None) -> list[Curator]:
        """Stored curators by name; one whose definition cannot be read is left out (and
        added to `broken` when given, else logged), so it never hides the others."""
        with self.ws.database.cursor() as con, storage_errors("listing curators"):
            # epoch microseconds: converting TIMESTAMPTZ values to datetimes is the slow part
            columns = ("SELECT name, definition, enabled, epoch_us(first_interval_start), "
                       "automation, epoch_us(created_at), application FROM _gl_curators")
            if application_name is None:  # the scheduler's tick: an unprepared query is faster
                rows = run(con, f"{columns} ORDER BY name")
            else:
                rows = run(con, f"{columns} WHERE application = ? ORDER BY name",
                           [application_name])
        out = []
        for *row, application in rows:
            try:
                out.append(self._build(*row))
            except IntegrityError as exc:
                if broken is None:
                    log.warning("%s", exc)
                else:
                    broken.append(BrokenDefinition(row[0], application, row[4], exc))
        return out

    def automation_taken(self, name: str) -> bool:
        """Whether a stored curator automation has this name."""
        with self.ws.database.cursor() as con, storage_errors("reading automations"):
            return bool(run(con, "SELECT 1 FROM _gl_curators WHERE automation = ?", [name]))

    # -- failures of whole automations (a broken definition, a monitor, a suite) -----------------

    def record_failure(self, automation: str, kind: str, application: str | None,
                       error: str) -> None:
        """Remember that `automation` failed in a tick (kept until it next succeeds)."""
        now = self.ws.clock.now()
        with self.ws.database.cursor() as con, storage_errors(f"recording a failure of {automation!r}"):
            run(con, "INSERT INTO _gl_automation_failures VALUES (?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (automation) DO UPDATE SET kind = excluded.kind, application = "
                "excluded.application, last_failed_at = excluded.last_failed_at, failures = "
                "_gl_automation_failures.failures + 1, error = excluded.error",
                [automation, kind, application, now, now, error])

    def clear_failure(self, automations: set[str]) -> None:
        """Forget past failures of automations that succeeded."""
        if not automations:
            return
        with self.ws.database.cursor() as con, storage_errors("clearing automation failures"):
            run(con, "DELETE FROM _gl_automation_failures WHERE list_contains(?, automation)",
                [sorted(automations)])

    def failures(self) -> pl.DataFrame:
        with self.ws.database.cursor() as con, storage_errors("reading automation failures"):
            table = con.sql("SELECT * FROM _gl_automation_failures ORDER BY automation"
                            ).to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)

    def update(self, current: Curator, changed: Curator) -> None:
        """Store `changed` in place of `current` (a rename carries the run history along)."""
        first = current.first_interval_start
        assert first is not None  # stored curators always have one
        if changed.curation_interval != current.curation_interval:
            first = self._next_uncurated(current)
        new_dataset = changed.curated_dataset_name != current.curated_dataset_name
        if new_dataset:
            try:
                self.ws.get_dataset(changed.curated_dataset_name, include_deleted=True)
            except NotFoundError:
                pass
            else:
                raise AlreadyExistsError(f"dataset {changed.curated_dataset_name!r} already "
                                         "exists; choose a new name for create_new_dataset=True")
        with self.ws.database.cursor() as con, storage_errors(f"updating curator {current.name!r}"), \
                transaction(con):
            if changed.name != current.name and run(
                    con, "SELECT 1 FROM _gl_curators WHERE name = ?", [changed.name]):
                raise AlreadyExistsError(f"curator {changed.name!r} already exists")
            run(con, "UPDATE _gl_curators SET name = ?, definition = ?, first_interval_start = ? "
                "WHERE name = ?", [changed.name, curator_to_json(changed), first, current.name])
            if changed.name != current.name:
                run(con, "UPDATE _gl_curator_runs SET curator = ? WHERE curator = ?",
                    [changed.name, current.name])
        if new_dataset:
            # made meanwhile by another process: the runs append to it
            with contextlib.suppress(AlreadyExistsError):
                self.ws.create_dataset(changed.curated_dataset_name,
                                       app_name=changed.application_name)

    def _next_uncurated(self, curator: Curator) -> datetime:
        """Where a new interval grid starts: the end of the last curated interval."""
        assert curator.first_interval_start is not None
        with self.ws.database.cursor() as con, storage_errors("reading curator runs"):
            rows = run(con, "SELECT max(interval_end) FROM _gl_curator_runs WHERE curator = ? "
                       "AND status = 'succeeded'", [curator.name])
        last = rows[0][0] if rows else None
        return curator.first_interval_start if last is None else to_utc(last)

    def set_enabled(self, name: str, enabled: bool) -> None:
        self._row(name)
        with self.ws.database.cursor() as con, storage_errors(f"updating curator {name!r}"):
            run(con, "UPDATE _gl_curators SET enabled = ? WHERE name = ?", [enabled, name])

    def delete(self, name: str) -> None:
        automation = self._row(name)[4]
        with self.ws.database.cursor() as con, storage_errors(f"deleting curator {name!r}"), \
                transaction(con):
            run(con, "DELETE FROM _gl_curators WHERE name = ?", [name])
            run(con, "DELETE FROM _gl_curator_runs WHERE curator = ?", [name])
            run(con, "DELETE FROM _gl_automation_failures WHERE automation = ? OR automation = ?",
                [name, automation])

    def succeeded(self) -> dict[str, set[datetime]]:
        """Interval starts of every succeeded run, by curator (reads the whole history: for
        tests and tools; a tick uses `progress`)."""
        with self.ws.database.cursor() as con, storage_errors("reading curator runs"):
            rows = run(con, "SELECT curator, epoch_us(interval_start) FROM _gl_curator_runs "
                       "WHERE status = 'succeeded'")
        done: dict[str, set[datetime]] = {}
        for name, start in rows:
            done.setdefault(name, set()).add(_from_us(start))
        return done

    def progress(self) -> tuple[dict[str, datetime], _Starts]:
        """Per curator, the end of its last succeeded interval and the starts of its failed
        ones (oldest first): two aggregate queries, whatever the history's length."""
        with self.ws.database.cursor() as con, storage_errors("reading curator runs"):
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
        with self.ws.database.cursor() as con, storage_errors("reading automation failures"):
            rows = run(con, "SELECT automation, epoch_us(last_failed_at), failures "
                       "FROM _gl_automation_failures")
        return {name: (_from_us(last), int(count)) for name, last, count in rows}

    def record(self, name: str, start: datetime, end: datetime, status: str,
               rows_in_interval: int | None, rows_selected: int | None, version_id: str | None,
               started: datetime, error: str | None) -> None:
        with self.ws.database.cursor() as con, storage_errors(f"recording a run of {name!r}"):
            run(con, "INSERT OR REPLACE INTO _gl_curator_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [name, start, end, status, rows_in_interval, rows_selected, version_id, started,
                 self.ws.clock.now(), error])

    def runs(self, name: str | None = None) -> pl.DataFrame:
        with self.ws.database.cursor() as con, storage_errors("reading curator runs"):
            table = con.sql("SELECT * FROM _gl_curator_runs WHERE ? IS NULL OR curator = ? "
                            "ORDER BY interval_start, curator", params=[name, name]
                            ).to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)



    # -- test-suite automations ----------------------------------------------------------------

    def suite_ran(self, suite: str, dataset: str, version_id: str) -> bool:
        with self.ws.database.cursor() as con, storage_errors("reading suite runs"):
            # a run that raised (no evaluation) is retried on the next tick
            return bool(run(con, "SELECT 1 FROM _gl_suite_runs WHERE suite = ? AND dataset = ? "
                            "AND version_id = ? AND evaluation_id IS NOT NULL",
                            [suite, dataset, version_id]))

    def record_suite(self, suite: str, dataset: str, version_id: str, passed: bool,
                     evaluation_id: str | None, error: str | None) -> None:
        with self.ws.database.cursor() as con, storage_errors(f"recording a run of suite {suite!r}"):
            run(con, "INSERT OR REPLACE INTO _gl_suite_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [suite, dataset, version_id, passed, evaluation_id, error, self.ws.clock.now()])

    def suite_runs(self) -> pl.DataFrame:
        with self.ws.database.cursor() as con, storage_errors("reading suite runs"):
            table = con.sql("SELECT * FROM _gl_suite_runs ORDER BY ran_at, suite").to_arrow_table()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return utc_frame(frame)
