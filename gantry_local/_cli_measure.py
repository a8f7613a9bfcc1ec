"""``gantry-local summarize | drift | alerts | report | eval ...``: reading what was logged,
and evaluations. Every command but ``eval run`` opens the database read-only."""

from __future__ import annotations

import argparse
import os
from datetime import timedelta

import polars as pl

from . import _cli_args as arg
from ._cli_commands import DB, command, opt
from ._cli_output import print_frame, say, table, warn
from ._cli_workspace import db_path, open_db
from .errors import ValidationError
from .workspace import Workspace

__all__: list[str] = []

_APP = opt("app", type=arg.text, help="the application")
_FIELD = opt("--field", type=arg.text, action="append", help="a field (repeatable; default: all)")
_INTERVAL = opt("--interval", type=arg.duration, default=timedelta(days=1),
                help="interval length: 30m, 6h, 1d, 2w (default 1d)")


@command("summarize", _APP, _FIELD, _INTERVAL,
         opt("--start", type=arg.moment, help="first interval's start (ISO)"),
         opt("--end", type=arg.moment, help="end of the last interval (ISO)"), opens=DB)
def _summarize(args: argparse.Namespace) -> None:
    """Per interval and field: count, null rate, and statistics.

    Example: gantry-local summarize fraud-detector --interval 1d --field inputs.amount
    """
    with open_db(args, read_only=True) as ws:
        frame = ws.get_application(args.app).summarize(args.interval, args.start, args.end,
                                                        args.field or None)
    columns = [c for c in frame.columns if frame[c].null_count() < frame.height]
    print_frame(frame.select(columns).with_columns(
        pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M")))


@command("drift", _APP, _FIELD,
         opt("--reference", nargs=2, type=arg.moment, required=True, metavar=("START", "END"),
             help="the reference window"),
         opt("--current", nargs=2, type=arg.moment, required=True, metavar=("START", "END"),
             help="the window compared with it"), opens=DB)
def _drift(args: argparse.Namespace) -> None:
    """Per field, how the current window differs from the reference window.

    Example: gantry-local drift fraud-detector --reference 2024-01-01 2024-01-08
             --current 2024-01-22 2024-01-29
    """
    with open_db(args, read_only=True) as ws:
        frame = ws.get_application(args.app).drift(tuple(args.reference), tuple(args.current),
                                                   args.field or None)
    print_frame(frame)


@command("alerts", opt("--app", type=arg.text, help="only this application's alerts"), opens=DB)
def _alerts(args: argparse.Namespace) -> None:
    """Alerts fired by aggregation triggers, newest first.

    Example: gantry-local alerts --app fraud-detector
    """
    from .monitoring.alerts import list_alerts

    with open_db(args, read_only=True) as ws:
        frame = list_alerts(ws, args.app)
        if args.app is not None and frame.is_empty():
            ws.get_application(args.app)  # no alerts yet, or no such application?
    say(table(frame.to_dicts(), ["automation", "application", "aggregation", "value",
                                 "lower_bound", "upper_bound", "fired_at", "resolved_at",
                                 "status", "action_error"]))


@command("report", opt("--app", type=arg.text, help="the application (default: the only one)"),
         opt("--out", type=arg.output_file, default="report.html",
             help="the HTML file (default report.html)"),
         _INTERVAL, opens=DB)
def _report(args: argparse.Namespace) -> None:
    """Write one self-contained HTML report of an application (opens offline).

    Example: gantry-local report --app fraud-detector --out report.html
    """
    with open_db(args, read_only=True) as ws:
        apps = ws.list_applications()
        name = args.app or (apps[0] if len(apps) == 1 else None)
        if name is None:
            raise ValidationError(f"give --app NAME (applications: {', '.join(apps) or 'none'})")
        path = ws.get_application(name).report(args.out, args.interval)
    say(f"wrote {path}")


@command("eval run", opt("suite", type=arg.existing_file, help="the suite's TOML file"),
         opt("--junit", type=arg.output_file, metavar="PATH", help="write JUnit XML here"),
         opt("--no-cache", action="store_true",
             help="call every candidate on every row (no cached outputs)"),
         opt("--allow-module", action="append", metavar="MODULE", type=arg.text,
             help="trust a module outside the suite's folder (repeatable)"),
         opens=DB)
def _eval_run(args: argparse.Namespace) -> int:
    """Run a test suite (TOML); exit 1 when a check fails. --junit writes JUnit XML;
    --no-cache calls every candidate afresh (the table says how many rows came from the cache).
    The suite names only code in its own folder unless --allow-module trusts another module.

    Without a database file, --storage is enough: the suite runs on its dataset and the
    evaluation is not stored.

    Example: gantry-local eval run suite.toml --db gantry.duckdb --junit eval.xml
    """
    from .evaluation.suites import Suite

    suite = Suite.from_toml(args.suite, args.allow_module or ())
    with _eval_workspace(args) as ws:
        result = suite.run(ws, cache=False if args.no_cache else None)
    say(str(result))
    if args.junit:
        result.write_junit(args.junit)
        say(f"wrote {args.junit}")
    return 0 if result.passed else 1


def _eval_workspace(args: argparse.Namespace) -> Workspace:
    """The database's workspace; with no database file but a storage, an in-memory one."""
    from ._cli_workspace import STORAGE_ENV, storage_options

    db = db_path(args)
    storage = args.storage or os.environ.get(STORAGE_ENV)
    if db == ":memory:" or os.path.exists(db) or not storage:
        return open_db(args)
    warn(f"no database {db!r}: running on the storage alone; the evaluation is not stored")
    return Workspace(db=":memory:", storage=storage, storage_options=storage_options(args))


@command("eval list", opt("--dataset", type=arg.text, help="only evaluations of this dataset"),
         opens=DB)
def _eval_list(args: argparse.Namespace) -> None:
    """List stored evaluations, newest first.

    Example: gantry-local eval list --db gantry.duckdb
    """
    from .evaluation import list_evaluations

    with open_db(args, read_only=True) as ws:
        frame = list_evaluations(args.dataset, workspace=ws)
    say(table(frame.to_dicts(), ["id", "created_at", "dataset", "version_id", "candidates",
                                 "primary", "verdict", "rows"]))


@command("eval show", opt("id", type=arg.text), opens=DB)
def _eval_show(args: argparse.Namespace) -> None:
    """Show one stored evaluation's statistics table.

    Example: gantry-local eval show 3f2a9c1b7d4e
    """
    from .evaluation import get_evaluation

    with open_db(args, read_only=True) as ws:
        say(str(get_evaluation(args.id, workspace=ws)))
