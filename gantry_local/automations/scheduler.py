"""The scheduler: runs every due interval of every enabled curator, exactly once.

An interval ``[start, start + interval)`` is due when ``now >= end + delay`` by the
workspace clock. Each (curator, interval) gets one dataset version at most: a run
first looks for a version whose lineage names that interval (a crash may have
committed it without recording the run), and a redo after a crash picks the same
rows. A failing curator is recorded and retried on later ticks; the others go on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import schedule

from ..errors import NotFoundError, ValidationError
from ._registry import CuratorRegistry
from .triggers import DatasetVersionTrigger

if TYPE_CHECKING:
    from ..workspace import Workspace
    from .automations import Automation
    from .curators import Curator

__all__ = ["Run", "Scheduler"]


@dataclass(frozen=True)
class Run:
    """One (curator, interval) run."""

    curator: str
    interval_start: datetime
    interval_end: datetime
    status: str  # "succeeded" or "failed"
    rows_in_interval: int | None
    rows_selected: int | None
    version_id: str | None
    error: str | None = None


class Scheduler:
    """Runs due curator intervals for one workspace. Thread-safe; one tick at a time.

    Args:
        workspace: whose curators to run (its clock decides what is due).
        tick: seconds between ticks in `run_forever` / `start`.
    """

    def __init__(self, workspace: Workspace, tick: float = 1.0) -> None:
        if isinstance(tick, bool) or not isinstance(tick, (int, float)) or tick <= 0:
            raise ValidationError(f"tick must be a positive number of seconds, got {tick!r}")
        self.workspace = workspace
        self.tick = float(tick)
        self._registry = CuratorRegistry(workspace)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._suites: dict[str, Automation] = {}
        self.alerts: list[Any] = []  # alerts fired or resolved by the last tick

    def due(self) -> list[tuple[Curator, datetime]]:
        """Every (curator, interval start) that is due and has not succeeded, oldest first."""
        now = self.workspace.clock.now()
        due = []
        succeeded = self._registry.succeeded()
        for curator in self._registry.list():
            if not curator.enabled:
                continue
            done = succeeded.get(curator.name, set())
            start = curator.first_interval_start
            assert start is not None  # stored curators always have one
            step, delay = curator.curation_interval, curator.curation_delay
            while start + step + delay <= now:
                if start not in done:
                    due.append((curator, start))
                start += step
        due.sort(key=lambda item: (item[1], item[0].name))
        return due

    def run_pending(self) -> list[Run]:
        """Run everything due now (missed intervals included) and return the curator runs.

        Then aggregation triggers are evaluated (alerts fired or resolved go to `alerts`
        and `Application.list_alerts`), and each test-suite automation whose dataset has a
        new latest version runs its suite on it; outcomes go to `suite_runs()`.
        """
        with self._lock:
            runs = [self._run_once(curator, start) for curator, start in self.due()]
            if self.workspace._monitors:
                from ..monitoring.alerts import evaluate_monitors

                self.alerts = evaluate_monitors(self.workspace, self.workspace.clock.now())
            for automation in list(self._suites.values()):
                if not automation.stopped:
                    self._run_suite(automation)
            return runs

    def add_automation(self, automation: Automation) -> None:
        """Run a test suite whenever a dataset gets a new version (a `DatasetVersionTrigger`).

        Its callables live in this process, so it is registered here, not stored; each
        (suite, dataset version) runs once, and its outcome is stored.
        """
        from .automations import Automation

        if not isinstance(automation, Automation) or not isinstance(
                automation.trigger, DatasetVersionTrigger):
            raise ValidationError("Scheduler.add_automation takes a test-suite Automation (a "
                                  "DatasetVersionTrigger); add curator automations to their "
                                  "application")
        if automation.name in self._suites:
            raise ValidationError(f"automation {automation.name!r} is already added")
        self._suites[automation.name] = automation

    def _run_suite(self, automation: Automation) -> None:
        from ..evaluation.suites import Suite

        suite, trigger = automation.action, automation.trigger
        assert isinstance(suite, Suite) and isinstance(trigger, DatasetVersionTrigger)
        try:
            head = self.workspace.get_dataset(trigger.dataset).resolve(None)
        except (NotFoundError, ValidationError):
            return  # no dataset, or no version yet
        if self._registry.suite_ran(suite.name, trigger.dataset, head):
            return
        try:
            result = suite.run(self.workspace, version_id=head)
        except Exception as exc:  # recorded; the other automations go on
            self._registry.record_suite(suite.name, trigger.dataset, head, False, None,
                                        f"{type(exc).__name__}: {exc}")
            return
        failed = [c.name for c in result.checks if not c.passed]
        self._registry.record_suite(suite.name, trigger.dataset, head, result.passed,
                                    result.comparison.id,
                                    f"failed: {', '.join(failed)}" if failed else None)

    def suite_runs(self) -> pl.DataFrame:
        """Every stored test-suite run: suite, dataset, version, passed, evaluation, error."""
        return self._registry.suite_runs()  # type: ignore[no-any-return]

    def _run_once(self, curator: Curator, start: datetime) -> Run:
        end = start + curator.curation_interval
        started = self.workspace.clock.now()
        version_id: str | None
        try:
            existing = self._committed_version(curator, start)
            if existing is not None:
                version_id, total, selected = existing
            else:
                result = curator.curate(self.workspace, start, end)
                version_id, total, selected = (result.version_id, result.rows_in_interval,
                                               result.rows_selected)
        except Exception as exc:  # recorded and retried on a later tick; others go on
            error = f"{type(exc).__name__}: {exc}"
            self._registry.record(curator.name, start, end, "failed", None, None, None, started,
                                  error)
            return Run(curator.name, start, end, "failed", None, None, None, error)
        self._registry.record(curator.name, start, end, "succeeded", total, selected, version_id,
                              started, None)
        return Run(curator.name, start, end, "succeeded", total, selected, version_id)

    def _committed_version(self, curator: Curator, start: datetime
                           ) -> tuple[str, int, int] | None:
        try:
            dataset = self.workspace.get_dataset(curator.curated_dataset_name)
        except NotFoundError:
            return None
        names = {curator.name, *curator.former_names}
        for version in dataset.list_versions():
            lineage = version["lineage"]
            if lineage.get("curator") in names and \
                    lineage.get("interval_start") == start.isoformat():
                return (version["version_id"], int(lineage.get("rows_in_interval", 0)),
                        int(lineage.get("rows_selected", 0)))
        return None

    # -- running in the background -----------------------------------------------------------

    def run_forever(self) -> None:
        """Tick until `stop()` (or Ctrl-C), using the `schedule` library for the cadence."""
        jobs = schedule.Scheduler()
        jobs.every(self.tick).seconds.do(self.run_pending)  # type: ignore[arg-type]
        self._stop.clear()
        self.run_pending()
        try:
            while not self._stop.is_set():
                jobs.run_pending()
                self._stop.wait(min(self.tick, max(jobs.idle_seconds or 0.0, 0.01)))
        except KeyboardInterrupt:
            return

    def start(self) -> None:
        """Run `run_forever` in a daemon thread (e.g. inside a model server)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self.run_forever, name="gantry-local-scheduler",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the background loop after the current tick."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


