"""``gantry-local curators ...`` and ``gantry-local scheduler run``.

The scheduler holds the DuckDB file only while it works: each tick opens the workspace
(waiting while a reader holds it), runs what is due, and closes it, so the CLI, a
notebook or the report can open the file between ticks. Each run is logged on stderr as
it happens; a catch-up of many intervals shows a progress bar on a terminal.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import TYPE_CHECKING, Any

from . import _cli_args as arg
from ._cli_commands import DB, command, opt
from ._cli_output import end_progress, run_line, say, table, transfer_bar, warn
from ._cli_workspace import db_path, open_db

if TYPE_CHECKING:
    from tqdm import tqdm

    from .automations.scheduler import AutomationRun, Scheduler
    from .records._ingest import IngestResult
    from .workspace import Workspace

__all__: list[str] = []

_NAME = opt("name", type=arg.text)
_RUN_COLUMNS = ["curator", "interval_start", "status", "rows_in_interval", "rows_selected",
                "version_id", "error"]
_FAILURE_COLUMNS = ["automation", "kind", "application", "failures", "last_failed_at", "error"]


@command("curators list", opens=DB)
def _list(args: argparse.Namespace) -> None:
    """List the curators stored in the database.

    Example: gantry-local curators list --db gantry.duckdb
    """
    from .automations.curators import get_all_curators

    with open_db(args, read_only=True) as ws:
        rows = [{"name": c.name, "application": c.application_name, "kind": c.kind,
                 "limit": c.limit, "interval": str(c.curation_interval), "enabled": c.enabled,
                 "automation": c.automation_name, "dataset": c.curated_dataset_name}
                for c in get_all_curators(workspace=ws)]
    say(table(rows, ["name", "application", "kind", "limit", "interval", "enabled",
                     "automation", "dataset"]))


@command("curators show", _NAME, opens=DB)
def _show(args: argparse.Namespace) -> None:
    """Show one curator's definition.

    Example: gantry-local curators show uniform-100
    """
    from .automations.curators import get_curator
    from .automations.curators._definitions import curator_to_json

    with open_db(args, read_only=True) as ws:
        curator = get_curator(args.name, workspace=ws)
        say(json.dumps({**json.loads(curator_to_json(curator)), "enabled": curator.enabled,
                        "automation": curator.automation_name,
                        "first_interval_start": str(curator.first_interval_start)}, indent=2))


@command("curators enable", _NAME, opens=DB)
def _enable(args: argparse.Namespace) -> None:
    """Turn a curator on (missed intervals are caught up on the next tick).

    Example: gantry-local curators enable uniform-100
    """
    from .automations.curators import get_curator

    with open_db(args) as ws:
        get_curator(args.name, workspace=ws).enable()
    say(f"enabled {args.name}")


@command("curators disable", _NAME, opens=DB)
def _disable(args: argparse.Namespace) -> None:
    """Turn a curator off.

    Example: gantry-local curators disable uniform-100
    """
    from .automations.curators import get_curator

    with open_db(args) as ws:
        get_curator(args.name, workspace=ws).disable()
    say(f"disabled {args.name}")


@command("curators runs", opt("name", type=arg.text, nargs="?"), opens=DB)
def _runs(args: argparse.Namespace) -> None:
    """Run history of one curator or all, then the automations failing now.

    Example: gantry-local curators runs uniform-100
    """
    from .automations.curators.curators import registry_of

    with open_db(args, read_only=True) as ws:
        registry = registry_of(ws)
        frame = registry.runs(args.name)
        names = None if args.name is None else _names(ws, args.name, frame.is_empty())
        failing = [f for f in registry.failures().to_dicts()
                   if names is None or f["automation"] in names]
    say(table(frame.to_dicts(), _RUN_COLUMNS))
    if failing:
        say("failing now (retried on later ticks):")
        say(table(failing, _FAILURE_COLUMNS))


def _names(ws: Workspace, name: str, must_exist: bool) -> set[str]:
    """The curator's name and its automation's (a deleted curator keeps its history)."""
    from .automations.curators import get_curator
    from .errors import NotFoundError

    try:
        curator = get_curator(name, workspace=ws)
    except NotFoundError:
        if must_exist:  # no runs and no curator: say so
            raise
        return {name}
    return {name, curator.automation_name or name}


@command("scheduler run",
         opt("--once", action="store_true", help="one tick, then exit"),
         opt("--tick", type=arg.number(float, 0.01, 86_400, "seconds"), default=1.0,
             help="seconds between ticks (default 1)"),
         opt("--suite", action="append", metavar="SUITE.toml", type=arg.existing_file,
             help="also run this test suite on each new version of its dataset (repeatable)"),
         opt("--allow-module", action="append", metavar="MODULE", type=arg.text,
             help="trust a module outside the suites' folders (repeatable)"),
         opens=DB)
def _scheduler_run(args: argparse.Namespace) -> None:
    """Run the scheduler in the foreground (Ctrl-C stops it), or one tick with --once.

    Each tick opens the database, runs what is due and closes it again, so other
    processes can read between ticks. Each run is logged on stderr as it happens.

    Example: gantry-local scheduler run --once --db gantry.duckdb
    """
    from .automations.automations import Automation
    from .automations.scheduler import Scheduler
    from .automations.triggers import DatasetVersionTrigger
    from .evaluation.suites import Suite

    suites = [Suite.from_toml(path, args.allow_module or ()) for path in args.suite or []]
    db_path(args)  # a folder is refused before anything opens

    def open_workspace() -> Workspace:
        return open_db(args)

    scheduler = Scheduler(open_workspace, tick=args.tick)
    _Printer(scheduler).attach()
    _say_scheduler_warnings()
    for suite in suites:
        scheduler.add_automation(Automation(f"suite-{suite.name}",
                                            DatasetVersionTrigger(suite.dataset), suite))
    if args.once:
        runs = scheduler.run_pending()
        _print_tick(scheduler, runs, bool(suites))
        return
    scheduler.run_forever()


class _Printer:
    """What `scheduler run` says on stderr as a tick goes: the spool ingest (a bar over its
    segments on a terminal), one line per run (a bar when catching up), failures, skips."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.ingesting: tqdm[Any] | None = None
        self.catching_up: tqdm[Any] | None = None
        self.deferred: set[tuple[str, str]] = set()  # said once while a segment stays pending

    def attach(self) -> None:
        self.scheduler.ingest_progress = self.ingest_progress
        self.scheduler.on_ingest = self.ingested
        self.scheduler.on_run = self.ran
        self.scheduler.on_tick = self.ticked

    def ingest_progress(self, done: int, pending: int, rows: int) -> None:
        if self.ingesting is None and pending > 1:
            self.ingesting = transfer_bar("ingesting", unit=" segments", total=pending)
        if self.ingesting is not None:
            self.ingesting.set_postfix(rows=f"{rows:,}", refresh=False)
            self.ingesting.update(done - self.ingesting.n)

    def ingested(self, result: IngestResult) -> None:
        self._end_bars()
        if result.segments:
            warn(f"ingested {result.segments:,} spool segments ({result.rows:,} rows"
                 + (f", {result.late_rows:,} late" if result.late_rows else "") + ")")
        if result.temps_removed:
            warn(f"removed {result.temps_removed:,} temp files left in the spool by producers "
                 "stopped mid-write")
        for segment, error in result.quarantined:
            warn(f"quarantined spool segment {segment}: {error}")
        deferred = set(result.deferred)
        for segment, error in result.deferred:
            if (segment, error) not in self.deferred:
                warn(f"spool segment {segment} stays pending (read again each tick, said "
                     f"once): {error}")
        self.deferred = deferred

    def ran(self, run: AutomationRun) -> None:
        if self.catching_up is None and self.scheduler.due_now > 1:
            self.catching_up = transfer_bar("catching up", unit=" runs",
                                            total=self.scheduler.due_now)
        warn(run_line(run.curator, run.interval_start, run.interval_end, run.status,
                      run.rows_selected, run.rows_in_interval, run.version_id, run.error))
        if self.catching_up is not None:
            self.catching_up.update(1)

    def ticked(self) -> None:
        self._end_bars()
        if self.scheduler.skipped is not None:
            return  # the scheduler's log says it
        for failure in self.scheduler.failures:
            if failure.kind != "curator":  # curator failures were logged as their runs
                warn(f"{failure.automation}  ({failure.kind})  FAILED  {failure.error}")

    def _end_bars(self) -> None:
        self.ingesting = self.catching_up = None
        end_progress()


class _Lines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def _say_scheduler_warnings() -> None:
    """The scheduler's warnings (a skipped tick, an automation failing) as stderr lines."""
    logger = logging.getLogger("gantry_local.scheduler")
    if not any(isinstance(h, _Lines) for h in logger.handlers):
        logger.addHandler(_Lines(logging.WARNING))


def _print_tick(scheduler: Scheduler, runs: list[AutomationRun], suites: bool) -> None:
    say(table([r.__dict__ for r in runs], ["curator", "interval_start", "status",
                                          "rows_selected", "version_id", "error"]))
    if suites:
        say(table(scheduler.suite_runs().to_dicts(),
                  ["suite", "dataset", "version_id", "passed", "evaluation_id", "error"]))
    if scheduler.failures:  # each retried on a later tick
        say(table([f.__dict__ for f in scheduler.failures],
                  ["automation", "kind", "application", "error"]))
