"""The scheduler: runs every due interval of every enabled curator, exactly once, then
every monitor and test suite of the workspace.

An interval ``[start, start + interval)`` is due when ``now >= end + delay`` by the
workspace clock. Each (curator, interval) gets one dataset version at most: a run
first looks for a version whose lineage names that interval (a crash may have
committed it without recording the run), and a redo after a crash picks the same
rows. Each automation is isolated in a tick: whatever it raises (a definition that
cannot be read, a deleted application, storage down) is recorded as its failure and
retried on later ticks; the others go on, and `run_pending` does not raise for it. A
curator whose storage fails gives up for the tick after that interval; once storage
proves unreachable, the curators and suites after it skip this tick (each recorded as
failed). On S3, a tick with storage work first asks the bucket once without retries,
so with the endpoint gone the tick takes milliseconds instead of one call's retries
(about 9 s) per due interval; the next tick retries everything.

A scheduler made from a function that opens the workspace (``Scheduler(lambda:
Workspace(db=...))``) holds the DuckDB file only while it works: each tick opens a
workspace, ingests the spool, runs what is due and closes it again, so other processes
(the CLI, a notebook, the report) open the file between ticks. `gantry-local scheduler
run` is that scheduler.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import fsspec
import polars as pl
import schedule

from .._context import Context, Scheduling, narrow
from .._limits import check_int, check_number, check_span
from ..errors import GantryLocalError, IntegrityError, NotFoundError, StorageError, ValidationError
from ._registry import next_start
from .curators.curators import CuratorRegistry
from .triggers import DatasetVersionTrigger

if TYPE_CHECKING:
    from .._context import HasContext, WorkspaceLike
    from ..monitoring.alerts import Alert
    from ..records._ingest import IngestResult, Progress
    from .automations import Automation
    from .curators import Curator

__all__ = ["BACKGROUND_ENV", "MAX_DUE_PER_TICK", "AutomationRun", "Failure", "Scheduler",
           "background_scheduler"]

log = logging.getLogger("gantry_local.scheduler")
MAX_DUE_PER_TICK = 1_000  # intervals of one curator run in one tick; the rest on the next
BACKGROUND_ENV = "GANTRY_LOCAL_BACKGROUND_SCHEDULER"  # "0", "false", "off" or "no" turns it off
BACKGROUND_TICK = 60.0  # seconds between the background loop's ticks (wall clock)
_OFF = ("0", "false", "off", "no")
# One tick at a time per workspace, whichever Scheduler runs it (the background loop and a
# user's Scheduler would otherwise both pass the exactly-once check and commit twice).
_TICK_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_BACKGROUND: weakref.WeakKeyDictionary[Any, Scheduler] = weakref.WeakKeyDictionary()
_EXPLICIT: weakref.WeakSet[Any] = weakref.WeakSet()  # workspaces a user made a Scheduler for
_REGISTRY_LOCK = threading.Lock()
# Schedulers that open their workspace per tick: one tick at a time per DuckDB file in a process
_FILE_LOCKS: dict[str, threading.Lock] = {}


@dataclass(frozen=True)
class AutomationRun:
    """One (curator, interval) run of the scheduler (Gantry's `Run` is a logging run)."""

    curator: str
    interval_start: datetime
    interval_end: datetime
    status: str  # "succeeded" or "failed"
    rows_in_interval: int | None
    rows_selected: int | None
    version_id: str | None
    error: str | None = None


@dataclass(frozen=True)
class Failure:
    """An automation that failed in a tick (it is retried on the next one)."""

    automation: str
    kind: str  # "curator", "monitor", "suite" or "scheduler"
    application: str | None
    error: str


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _is_storage(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) is a storage or network failure."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, (StorageError, OSError, ConnectionError, TimeoutError)) or \
                type(seen).__module__.startswith(("botocore", "aiobotocore", "aiohttp")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_unreachable(exc: BaseException) -> bool:
    """Whether `exc` says storage cannot be reached at all (not one bad object)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        name = type(seen).__name__
        if isinstance(seen, (ConnectionError, TimeoutError)) or (
                type(seen).__module__.startswith(("botocore", "aiobotocore", "aiohttp")) and
                ("Connect" in name or "Timeout" in name)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class Scheduler:
    """Runs due curator intervals, monitors and suites for one workspace. Thread-safe; one
    tick at a time.

    Args:
        workspace: whose automations to run (its clock decides what is due); or a function
            that opens it (``lambda: Workspace(db="gantry.duckdb")``), called for every tick
            (and every `due`, `failed_automations`, `suite_runs`): the workspace it returns
            is closed after, so the DuckDB file is held only while the scheduler works.
        tick: seconds between ticks in `run_forever` / `start`.

    Example:
        >>> scheduler = Scheduler(lambda: Workspace(db="gantry.duckdb"), tick=60)
        >>> scheduler.run_forever()  # doctest: +SKIP
    """

    def __init__(self, workspace: WorkspaceLike | Callable[[], WorkspaceLike], tick: float = 1.0,
                 max_runs_per_tick: int = MAX_DUE_PER_TICK,
                 retry_after: timedelta = timedelta(minutes=1),
                 max_retry_after: timedelta = timedelta(hours=1)) -> None:
        if isinstance(tick, bool) or not isinstance(tick, (int, float)) or \
                not 0 < tick <= 86_400:
            raise ValidationError(f"tick must be a number of seconds from 0 to 86,400, got "
                                  f"{tick!r}")
        opener: Callable[[], WorkspaceLike] | None = None
        context = _schedulable(workspace)
        if context is None:
            if not callable(workspace) or isinstance(workspace, type):
                raise ValidationError(f"Scheduler takes a gantry_local Workspace, got "
                                      f"{type(workspace).__name__}; pass a Workspace, or a "
                                      "function that opens one (lambda: Workspace(db=...))")
            opener = workspace
        self.max_runs_per_tick = check_int(max_runs_per_tick, "max_runs_per_tick", 1,
                                           1_000_000)
        self.retry_after = check_span(retry_after, "retry_after", zero=True)
        self.max_retry_after = check_span(max_retry_after, "max_retry_after", zero=True)
        if self.max_retry_after < self.retry_after:
            raise ValidationError(f"max_retry_after ({self.max_retry_after}) is shorter than "
                                  f"retry_after ({self.retry_after})")
        self.tick = float(tick)
        self._opener = opener
        self._context: Context | None = None
        self._added: list[Automation] = []  # suites, registered again in each opened workspace
        self.skipped: str | None = None  # why the last tick could not open the workspace
        self._opened_once = False
        self._unopened = False  # the last open of the scheduler's function failed
        if opener is None:
            assert context is not None
            self._attach(context)
            with _REGISTRY_LOCK:
                self._lock: threading.Lock | threading.RLock = _TICK_LOCKS.setdefault(
                    context, threading.Lock())
        else:
            self._lock = threading.RLock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._ticks = threading.Condition()
        self._started_ticks = 0
        self._finished_ticks = 0
        self._thread: threading.Thread | None = None
        self._probe: tuple[Any, str] | None = None  # a no-retry S3 filesystem and bucket
        self.alerts: list[Alert] = []  # alerts fired or resolved by the last tick
        self.failures: list[Failure] = []  # automations that failed in the last tick
        self._said: dict[str, str] = {}  # automation -> the failure last logged
        self._backoff: dict[str, tuple[datetime, int]] = {}  # failing automation -> (last, n)
        self._transient: set[str] = set()  # automations whose last failure was storage
        self.background = False
        if opener is None:
            _claim(self)  # a user's Scheduler drives this workspace from now on
        # Hooks (the CLI prints with them); one that fails is logged and never fails a tick.
        # on_run: each curator run as it is recorded. on_ingest: what the tick's spool ingest
        # did. ingest_progress: (segments done, segments pending, rows) while it ingests.
        # on_tick: after every tick, also one skipped because the workspace could not open.
        self.on_run: Callable[[AutomationRun], None] | None = None
        self.on_ingest: Callable[[IngestResult], None] | None = None
        self.ingest_progress: Progress | None = None
        self.on_tick: Callable[[], None] | None = None
        self.due_now = 0  # curator runs due in the running tick (for a progress bar's total)

    @property
    def workspace(self) -> HasContext:
        """The workspace the scheduler runs on, as it was given (when made from a function:
        the one open in the current tick); the scheduler itself uses only its context.

        Raises:
            ValidationError: made from a function, and no tick is running.
        """
        return self._ctx.owner

    @property
    def _ctx(self) -> Context:
        """The context of the workspace the scheduler runs on (see `workspace`)."""
        if self._context is None:
            raise ValidationError("this Scheduler opens its workspace only while it works "
                                  "(run_pending, due, run_forever); open one yourself to look")
        return self._context

    @property
    def _scheduling(self) -> Scheduling:
        return _scheduling_of(self._ctx)

    def _attach(self, context: Context) -> None:
        self._context = context
        self._registry = CuratorRegistry(context)

    @contextmanager
    def _opened(self) -> Iterator[None]:
        """Made from a function: open the workspace for the call, close it after (calls
        inside the call share it). Bound to a workspace: nothing to do.

        Raises:
            GantryLocalError: see `_open`.
        """
        if self._opener is None:
            yield
            return
        with self._lock:
            if self._context is not None:
                yield
                return
            context = self._open()
            try:
                with _file_lock(context):
                    self._attach(context)
                    for automation in self._added:
                        if not automation.stopped:  # stopped by its user: it stays so
                            self._register(automation)
                    yield
            finally:
                self._context = None
                _scheduling_of(context).close()

    def _open(self) -> Context:
        """The workspace the scheduler's function opens (`_unopened` says when it failed).

        Raises:
            GantryLocalError: the function's own (e.g. `StorageError`: the file stayed held).
            ValidationError: the function raised something else, or returned no Workspace.
        """
        assert self._opener is not None
        self._unopened = True
        try:
            workspace = self._opener()
        except GantryLocalError:
            raise
        except Exception as exc:  # the user's function: say what it did
            raise ValidationError(f"the function opening the scheduler's workspace raised "
                                  f"{_describe(exc)}") from exc
        context = _schedulable(workspace)
        if context is None:
            close = getattr(workspace, "close", None)
            if callable(close):
                close()
            raise ValidationError(f"the function given to Scheduler must return a gantry_local "
                                  f"Workspace, it returned {type(workspace).__name__}")
        self._unopened = False
        self._opened_once = True
        with _REGISTRY_LOCK:
            _EXPLICIT.add(context)  # this scheduler drives it: no background loop starts
        return context

    @property
    def _suites(self) -> dict[str, Automation]:
        """The test-suite automations of the workspace's in-process registry."""
        from ._in_process import in_process

        return {name: a for name, (_, a) in in_process(self._ctx.database).items()
                if isinstance(a.trigger, DatasetVersionTrigger)}

    def due(self) -> list[tuple[Curator, datetime]]:
        """Every (curator, interval start) that is due and has not succeeded, oldest first
        (at most `MAX_DUE_PER_TICK` of each curator and `max_runs_per_tick` in all; a curator
        in its retry backoff is left for later)."""
        with self._opened():
            now = self._ctx.clock.now()
            self._backoff = self._registry.failure_counts()
            return self._due(self._registry.list(), *self._registry.progress(), now)

    def retry_delay(self, failures: int) -> timedelta:
        """How long an automation that failed `failures` ticks in a row waits before the next
        try: `retry_after`, doubling with each failure, at most `max_retry_after`."""
        if failures <= 0:
            return timedelta(0)
        seconds = self.retry_after.total_seconds() * 2.0 ** min(failures - 1, 60)
        return min(timedelta(seconds=seconds), self.max_retry_after) if seconds < 1e11 \
            else self.max_retry_after

    def _waiting(self, automation: str, now: datetime) -> datetime | None:
        """When a failing automation may be tried again, if that is after `now` (storage
        failures are retried on every tick: the probe makes that cheap, and recovery quick)."""
        held = self._backoff.get(automation)
        if held is None or automation in self._transient:
            return None
        again = held[0] + self.retry_delay(held[1])
        return again if again > now else None

    def _due(self, curators: list[Curator], last_end: dict[str, datetime],
             failed: dict[str, list[datetime]], now: datetime
             ) -> list[tuple[Curator, datetime]]:
        """Due intervals from the end of each curator's curated history (and its failed
        intervals), never walking the history itself; fair across curators."""
        per_curator = []
        for curator in curators:
            if not curator.enabled or \
                    self._waiting(curator.automation_name or curator.name, now) is not None:
                continue
            first = curator.first_interval_start
            assert first is not None  # stored curators always have one
            step, delay = curator.curation_interval, curator.curation_delay
            starts = [s for s in failed.get(curator.name, ()) if s >= first and
                      (s - first) % step == timedelta(0) and s + step + delay <= now]
            start = next_start(first, last_end.get(curator.name), step)
            while start + step + delay <= now and len(starts) < MAX_DUE_PER_TICK:
                if not starts or start > starts[-1]:
                    starts.append(start)
                start += step
            per_curator.append([(curator, s) for s in sorted(set(starts))[:MAX_DUE_PER_TICK]])
        # round robin, oldest first within a curator: one long backlog cannot starve the rest
        ranked = [(rank, item) for items in per_curator for rank, item in enumerate(items)]
        ranked.sort(key=lambda r: (r[0], r[1][1], r[1][0].name))
        due = [item for _, item in ranked[:self.max_runs_per_tick]]
        due.sort(key=lambda item: (item[1], item[0].name))
        return due

    def run_pending(self) -> list[AutomationRun]:
        """Run everything due now (missed intervals included) and return the curator runs.

        Then aggregation triggers are evaluated (alerts fired or resolved go to `alerts`
        and `Application.list_alerts`), and each test-suite automation whose dataset has a
        new latest version runs its suite on it; outcomes go to `suite_runs()`. Whatever
        one automation raises is recorded (`failures`, and `failed_automations()` until it
        next succeeds) and never stops the others.
        """
        with self._lock, self._opened():
            self.skipped = None
            self.due_now = 0
            self.failures = []
            self._ok: set[str] = set()
            self._unreachable: str | None = None  # set by the first unreachable-storage error
            self._probed = False
            now = self._ctx.clock.now()
            try:
                self._backoff = self._registry.failure_counts()
            except Exception as exc:  # the database itself: no backoff this tick
                log.warning("could not read automation failures: %s", _describe(exc))
                self._backoff = {}
            self._ingest_spool()
            runs = self._run_curators(now)
            self.alerts = self._run_in_process(now)
            self._settle(now)
            return runs

    def _ingest_spool(self) -> None:
        """Producers' spooled records first, so each interval holds every worker's records."""
        hook = self.ingest_progress
        progress = None if hook is None else lambda *counts: _call(hook, *counts)
        try:
            result = self._scheduling.ingest(progress)
        except Exception as exc:  # the spool or the database: said, retried next tick
            self._fail("spool", "ingest", None, exc)
            return
        _call(self.on_ingest, result)

    def failed_automations(self) -> pl.DataFrame:
        """Automations failing now: name, kind, application, first and last failure, count,
        error (an automation leaves it when it next succeeds)."""
        with self._opened():
            return self._registry.failures()  # type: ignore[no-any-return]

    def _fail(self, automation: str, kind: str, application: str | None,
              exc: BaseException | str) -> None:
        error = exc if isinstance(exc, str) else _describe(exc)
        self.failures.append(Failure(automation, kind, application, error))
        if (exc is self._unreachable) or (not isinstance(exc, str) and _is_storage(exc)):
            self._transient.add(automation)
        else:
            self._transient.discard(automation)
        if self._said.get(automation) != error:  # said once, not on every tick
            count = self._backoff.get(automation, (None, 0))[1] + 1
            retry = "on the next tick" if automation in self._transient else \
                f"in {self.retry_delay(count)} (by the workspace clock)"
            log.warning("automation %r failed (%s%s); retried %s: %s", automation, kind,
                        f" of {application!r}" if application else "", retry, error)
            self._said[automation] = error

    def _settle(self, now: datetime) -> None:
        """Store this tick's failures; forget earlier ones of automations that succeeded."""
        failed = {f.automation for f in self.failures}
        for name in (self._ok - failed) & set(self._said):
            log.info("automation %r succeeds again", name)
            del self._said[name]
        try:
            for failure in self.failures:
                self._registry.record_failure(failure.automation, failure.kind,
                                              failure.application, failure.error)
            self._registry.clear_failure(self._ok - failed)
        except Exception as exc:  # the database itself: said, and tried again next tick
            log.warning("could not record automation failures: %s", _describe(exc))

    def _storage_down(self) -> str | None:
        """Why storage cannot be reached this tick, if it cannot (S3: asked once per tick that
        has storage work, without retries, so a tick with S3 gone fails in milliseconds
        instead of spending botocore's and s3fs's retries on the first run)."""
        if self._probed:
            return self._unreachable
        self._probed = True
        url = self._scheduling.storage
        if not url.startswith(("s3://", "s3a://")):
            return None
        try:
            if self._probe is None:
                options = dict(self._scheduling.storage_options)
                config = {**dict(options.get("config_kwargs") or {}),
                          "retries": {"max_attempts": 1}}
                fs, path = fsspec.core.url_to_fs(url, **{**options, "config_kwargs": config,
                                                         "skip_instance_cache": True})
                fs.retries = 1
                self._probe = (fs, path.split("/", 1)[0])
            fs, bucket = self._probe
            fs.call_s3("head_bucket", Bucket=bucket)
        except Exception as exc:  # only an unreachable endpoint counts; the runs say the rest
            if _is_unreachable(exc):
                self._unreachable = (f"skipped this tick: storage is unreachable "
                                     f"({_describe(exc)})")
        return self._unreachable

    def _run_curators(self, now: datetime) -> list[AutomationRun]:
        from ._registry import BrokenDefinition

        broken: list[BrokenDefinition] = []
        try:
            curators = self._registry.list(broken=broken)
            due = self._due(curators, *self._registry.progress(), now)
            self.due_now = len(due)
        except Exception as exc:  # the database itself
            self._fail("curators", "scheduler", None, exc)
            return []
        for item in broken:
            self._fail(item.automation or item.name, "curator", item.application, item.error)
        runs: list[AutomationRun] = []
        gave_up: set[str] = set()
        if due:
            self._storage_down()
        for curator, start in due:
            if curator.name in gave_up:
                continue  # its storage failed this tick: the next tick retries
            name = curator.automation_name or curator.name
            if self._unreachable is not None:  # every run needs storage: skip, retry next tick
                gave_up.add(curator.name)
                self._fail(name, "curator", curator.application_name, self._unreachable)
                continue
            run: AutomationRun | None
            error: Exception | None
            try:
                if not curator.labels_ready(self._ctx, start, now):
                    gave_up.add(curator.name)  # waiting for labels; its later intervals too
                    continue
                run, error = self._run_once(curator, start)
            except Exception as exc:  # recording the run failed, or counting its labels
                run, error = None, exc
            if run is not None:
                runs.append(run)
                self._tell(run)
            if error is None:
                self._ok.add(name)
                continue
            if name not in {f.automation for f in self.failures}:
                self._fail(name, "curator", curator.application_name, error)
            if run is None or _is_storage(error):
                gave_up.add(curator.name)
            if _is_unreachable(error):
                self._unreachable = (f"skipped this tick: storage is unreachable "
                                     f"({_describe(error)})")
        return runs

    def _tell(self, run: AutomationRun) -> None:
        _call(self.on_run, run)

    def _run_in_process(self, now: datetime) -> list[Alert]:
        from ._aggregation import AggregationTrigger, QueriesAggregationTrigger
        from ._in_process import in_process
        from ._monitors import evaluate_monitor

        alerts = self._run_stored(now)
        for name, (application, automation) in sorted(in_process(self._ctx.database).items()):
            if automation.stopped or self._waiting(name, now) is not None:
                continue
            kind = "monitor" if isinstance(automation.trigger, (
                AggregationTrigger, QueriesAggregationTrigger)) else "suite"
            try:
                if kind == "monitor":
                    assert application is not None
                    alert = evaluate_monitor(self._ctx, name, application, automation, now)
                    if alert is not None:
                        alerts.append(alert)
                elif (down := self._storage_down()) is not None:  # a suite reads its dataset
                    self._fail(name, kind, application, down)
                    continue
                else:
                    self._run_suite(automation)
            except Exception as exc:  # recorded; the other automations go on
                self._fail(name, kind, application, exc)
                if _is_unreachable(exc):
                    self._unreachable = (f"skipped this tick: storage is unreachable "
                                         f"({_describe(exc)})")
            else:
                self._ok.add(name)
        return alerts

    def _run_stored(self, now: datetime) -> list[Alert]:
        """Stored alerts (`gantry_local.alerts`, Slack and webhook automations), then the daily
        digests of their notifications; each alert isolated like any automation."""
        from ._alert_store import list_definitions
        from ._monitors import evaluate_stored, send_digests

        alerts: list[Alert] = []
        try:
            definitions = list_definitions(self._ctx)
        except Exception as exc:  # an unreadable definition or the database: said each tick
            self._fail("alerts", "alert", None, exc)
            return alerts
        for definition in definitions:
            name = definition.automation or definition.name
            if self._waiting(name, now) is not None:
                continue
            try:
                alert = evaluate_stored(self._ctx, definition, now)
            except Exception as exc:
                self._fail(name, "alert", definition.application, exc)
                continue
            self._ok.add(name)
            if alert is not None:
                alerts.append(alert)
        try:
            for failed in send_digests(self._ctx, now):
                self._fail(failed, "notification", None, "the daily digest could not be posted")
        except Exception as exc:
            self._fail("notifications", "notification", None, exc)
        return alerts

    def add_automation(self, automation: Automation) -> None:
        """Run a test suite whenever a dataset gets a new version (a `DatasetVersionTrigger`).

        Its callables live in this process, so it joins the workspace's in-process
        registry (listed under its dataset's application); each (suite, dataset version)
        runs once, and its outcome is stored.

        Raises:
            ValidationError: not a test-suite automation.
            AlreadyExistsError: an automation of that name exists.
        """
        from .automations import Automation

        if not isinstance(automation, Automation) or not isinstance(
                automation.trigger, DatasetVersionTrigger):
            raise ValidationError("Scheduler.add_automation takes a test-suite Automation (a "
                                  "DatasetVersionTrigger); add curator automations to their "
                                  "application")
        with self._opened():
            self._register(automation)
        if self._opener is not None:
            self._added.append(automation)

    def _register(self, automation: Automation) -> None:
        from .automations import _dataset_application, register

        assert isinstance(automation.trigger, DatasetVersionTrigger)
        register(self._ctx, _dataset_application(self._ctx, automation.trigger.dataset),
                 automation)

    def _run_suite(self, automation: Automation) -> None:
        """Run the suite on its dataset's newest version, once per version.

        Raises:
            Exception: whatever the suite raised (after its run was recorded).
        """
        from ..evaluation.suites import Suite

        suite, trigger = automation.action, automation.trigger
        assert isinstance(suite, Suite) and isinstance(trigger, DatasetVersionTrigger)
        try:
            head = self._ctx.datasets.get_dataset(trigger.dataset).resolve(None)
        except (NotFoundError, ValidationError):
            return  # no dataset, or no version yet
        if self._registry.suite_ran(suite.name, trigger.dataset, head):
            return
        try:
            result = suite.run(self._ctx, version_id=head)
        except Exception as exc:  # recorded beside the version, then as the suite's failure
            self._registry.record_suite(suite.name, trigger.dataset, head, False, None,
                                        _describe(exc))
            raise
        failed = [c.name for c in result.checks if not c.passed]
        self._registry.record_suite(suite.name, trigger.dataset, head, result.passed,
                                    result.comparison.id,
                                    f"failed: {', '.join(failed)}" if failed else None)

    def suite_runs(self) -> pl.DataFrame:
        """Every stored test-suite run: suite, dataset, version, passed, evaluation, error."""
        with self._opened():
            return self._registry.suite_runs()  # type: ignore[no-any-return]

    def _run_once(self, curator: Curator, start: datetime) -> tuple[AutomationRun, Exception | None]:
        end = start + curator.curation_interval
        started = self._ctx.clock.now()
        version_id: str | None
        try:
            existing = self._committed_version(curator, start)
            if existing is not None:
                version_id, total, selected = existing
            else:
                result = curator.curate(self._ctx, start, end)
                version_id, total, selected = (result.version_id, result.rows_in_interval,
                                               result.rows_selected)
        except Exception as exc:  # recorded and retried on a later tick; others go on
            error = _describe(exc)
            self._registry.record(curator.name, start, end, "failed", None, None, None, started,
                                  error)
            return AutomationRun(curator.name, start, end, "failed", None, None, None, error), exc
        self._registry.record(curator.name, start, end, "succeeded", total, selected, version_id,
                              started, None)
        return AutomationRun(curator.name, start, end, "succeeded", total, selected, version_id), None

    def _committed_version(self, curator: Curator, start: datetime
                           ) -> tuple[str, int, int] | None:
        try:
            dataset = self._ctx.datasets.get_dataset(curator.curated_dataset_name)
        except NotFoundError:
            return None
        names = {curator.name, *curator.former_names}
        for version in dataset.list_versions():
            if version.get("error"):  # skipping it could curate its interval a second time
                raise IntegrityError(f"curated dataset {dataset.name!r} has an unreadable version: "
                                     f"{version['error']}; repair or delete it")
            lineage = version["lineage"]
            if lineage.get("curator") in names and \
                    lineage.get("interval_start") == start.isoformat():
                return (version["version_id"], int(lineage.get("rows_in_interval", 0)),
                        int(lineage.get("rows_selected", 0)))
        return None

    # -- running in the background -----------------------------------------------------------

    def run_forever(self) -> None:
        """Tick until `stop()` (or Ctrl-C), using the `schedule` library for the cadence;
        `wake()` ticks at once. Made from a function, each tick opens the workspace and closes
        it after; a tick that cannot open it (held past the lock timeout) is skipped with a
        warning and the next one tries again.

        Raises:
            GantryLocalError: made from a function whose very first open failed for a reason
                other than storage (a conflicting storage URL, a bad argument): no tick can
                succeed, so the loop does not start.
        """
        self._fatal: GantryLocalError | None = None
        jobs = schedule.Scheduler()
        jobs.every(self.tick).seconds.do(self._tick_safely)  # type: ignore[arg-type]
        if threading.current_thread() is not self._thread:  # start() cleared it already: a
            self._stop.clear()  # stop() that came before this thread ran must hold
        if not self.background:  # the background loop's first tick waits (see `background_scheduler`)
            self._tick_safely()
        try:
            while not self._stop.is_set():
                jobs.run_pending()
                if self._wake.wait(min(self.tick, max(jobs.idle_seconds or 0.0, 0.01))):
                    self._wake.clear()
                    if not self._stop.is_set():
                        self._tick_safely()
        except KeyboardInterrupt:
            return
        if self._fatal is not None:
            raise self._fatal

    def _tick_safely(self) -> None:
        """One tick that never ends the loop: anything left (the database itself failing)
        is logged, and the next tick tries again."""
        with self._ticks:
            self._started_ticks += 1
        try:
            if self._opener is None and self._scheduling.closed():
                self._stop.set()  # the workspace was closed under the loop: nothing to run
            else:
                self.run_pending()
        except GantryLocalError as exc:
            if not self._unopened:
                log.exception("scheduler tick failed; retrying on the next tick")
            elif not self._opened_once and not isinstance(exc, StorageError):
                self.skipped = str(exc)
                self._fatal = exc  # a mistake, not a busy file: no tick can succeed
                self._stop.set()
            else:
                self.skipped = str(exc)
                log.warning("scheduler tick skipped: %s", exc)
        except Exception:
            log.exception("scheduler tick failed; retrying on the next tick")
        finally:
            _call(self.on_tick)
            with self._ticks:
                self._finished_ticks += 1
                self._ticks.notify_all()

    def wake(self) -> None:
        """Make the background loop tick now instead of at its next tick (e.g. after a
        `ManualClock.advance` in a test)."""
        self._wake.set()

    def wait_for_tick(self, timeout: float = 30.0) -> bool:
        """Wake the background loop and wait until a tick that started after this call has
        finished; False if it did not within `timeout` seconds (or the loop is not running).

        Tests drive the background loop with it and a `ManualClock`: advance the clock, then
        ``wait_for_tick()``; nothing waits on the wall clock for a schedule.
        """
        check_number(timeout, "timeout", 0, 86_400)
        if self._thread is None or not self._thread.is_alive():
            return False
        with self._ticks:
            target = self._started_ticks + 1
        self.wake()
        with self._ticks:
            return self._ticks.wait_for(lambda: self._finished_ticks >= target, timeout)

    def start(self) -> None:
        """Run `run_forever` in a daemon thread (e.g. inside a model server)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name="gantry-local-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop after the current tick (waiting up to `timeout` seconds)."""
        check_number(timeout, "timeout", 0, 86_400)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            if self._thread is not threading.current_thread():
                self._thread.join(timeout)
            self._thread = None


def _call(hook: Callable[..., None] | None, *args: Any) -> None:
    """Call a scheduler hook; one that fails is logged, and the tick goes on."""
    if hook is None:
        return
    try:
        hook(*args)
    except Exception:
        log.exception("a scheduler hook failed")


@contextmanager
def _file_lock(context: Context) -> Iterator[None]:
    """One tick at a time per DuckDB file among the schedulers of this process that open
    their workspace per tick (DuckDB lets one process open a file twice)."""
    db = _scheduling_of(context).db
    key = os.path.realpath(db) if db and db != ":memory:" else f"memory:{id(context.database)}"
    with _REGISTRY_LOCK:
        lock = _FILE_LOCKS.setdefault(key, threading.Lock())
    with lock:
        yield


def _claim(scheduler: Scheduler) -> None:
    """A Scheduler a user makes takes over its workspace: the background loop stops (two
    loops would only wait on each other's lock), and none starts for it later."""
    context = scheduler._ctx
    with _REGISTRY_LOCK:
        _EXPLICIT.add(context)
        running = _BACKGROUND.pop(context, None)
    if running is not None:
        log.info("a Scheduler was made for %r: its background scheduler loop stops",
                 context.owner)
        running.stop()


def _schedulable(given: object) -> Context | None:
    """The context of `given` when it is a workspace a scheduler can drive, else None."""
    try:
        context = narrow(given)
    except ValidationError:
        return None
    return context if context.scheduling is not None else None


def _scheduling_of(context: Context) -> Scheduling:
    scheduling = context.scheduling
    assert scheduling is not None  # _schedulable refused a context without it
    return scheduling


def background_enabled(context: Context) -> bool:
    """Whether adding an automation starts the workspace's background loop: the workspace's
    ``background_scheduler`` setting when given, else the ``GANTRY_LOCAL_BACKGROUND_SCHEDULER``
    environment variable (``0``, ``false``, ``off`` or ``no`` turn it off), else on."""
    setting = _scheduling_of(context).background_scheduler
    if setting is not None:
        return bool(setting)
    return os.environ.get(BACKGROUND_ENV, "").strip().lower() not in _OFF


def ensure_background(workspace: WorkspaceLike) -> Scheduler | None:
    """Start the workspace's background scheduler loop (a daemon thread) if it is enabled,
    not running yet, and no user-made `Scheduler` drives this workspace. Its first tick comes
    `BACKGROUND_TICK` seconds after it starts (so start-up code that ticks by hand right after
    adding an automation is not raced), then every `BACKGROUND_TICK` seconds."""
    context = _schedulable(workspace)
    if context is None or not background_enabled(context) or _scheduling_of(context).closed():
        return None
    with _REGISTRY_LOCK:
        if context in _EXPLICIT:
            return None
        running = _BACKGROUND.get(context)
        if running is not None and running._thread is not None and running._thread.is_alive():
            return running
    loop = _BackgroundScheduler(context)
    with _REGISTRY_LOCK:
        if context in _EXPLICIT or context in _BACKGROUND:
            return _BACKGROUND.get(context)
        _BACKGROUND[context] = loop
    loop.start()
    log.info("background scheduler loop started for %r (tick %gs; turn it off with "
             "background_scheduler=False or %s=0)", context.owner, BACKGROUND_TICK,
             BACKGROUND_ENV)
    return loop


class _BackgroundScheduler(Scheduler):
    """The loop `ensure_background` starts: a Scheduler that does not claim its workspace."""

    def __init__(self, context: Context) -> None:
        with _REGISTRY_LOCK:
            explicit = context in _EXPLICIT
        super().__init__(context, tick=BACKGROUND_TICK)
        self.background = True
        with _REGISTRY_LOCK:
            if not explicit:  # Scheduler.__init__ marked it as driven by hand: undo that
                _EXPLICIT.discard(context)


def background_scheduler(workspace: WorkspaceLike) -> Scheduler | None:
    """The workspace's running background scheduler loop, if any (`wait_for_tick` on it)."""
    context = narrow(workspace)
    with _REGISTRY_LOCK:
        return _BACKGROUND.get(context)


def stop_background(workspace: WorkspaceLike, timeout: float = 10.0) -> None:
    """Stop the workspace's background loop (`Workspace.close` calls it first)."""
    context = narrow(workspace)
    with _REGISTRY_LOCK:
        running = _BACKGROUND.pop(context, None)
    if running is not None:
        running.stop(timeout)
