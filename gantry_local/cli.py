"""The ``gantry-local`` command: each subcommand opens what it needs and calls one public function.

Datasets commands need only the storage URL (``--storage``, or ``$GANTRY_LOCAL_STORAGE``),
so a teammate can work on datasets without the DuckDB file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from . import __version__
from . import _cli_args as arg
from .datasets._registry import WORKING_DIR_ENV
from .errors import GantryLocalError, ValidationError
from .workspace import Workspace

__all__ = ["main"]

STORAGE_ENV = "GANTRY_LOCAL_STORAGE"
DB_ENV = "GANTRY_LOCAL_DB"
DEBUG_ENV = "GANTRY_LOCAL_DEBUG"
MAX_DEMO_RECORDS = 100_000  # 3 million predictions over the demo's month


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    frame = pl.DataFrame([{c: _cell(r.get(c)) for c in columns} for r in rows])
    with pl.Config(tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=100, tbl_width_chars=400,
                   tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True):
        return str(frame)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _storage_workspace(args: argparse.Namespace) -> Workspace:
    url = args.storage or os.environ.get(STORAGE_ENV)
    if not url:
        raise ValidationError(f"give the dataset storage with --storage URL or ${STORAGE_ENV}")
    options: dict[str, Any] = {}
    for key, value in args.storage_option or []:
        if key in options:
            raise ValidationError(f"--storage-option {key} is given twice; give it once")
        options[key] = value
    workspace = Workspace(db=":memory:", storage=url, storage_options=options)
    if "working_dir" in args:
        working_dir = args.working_dir or _env_folder(WORKING_DIR_ENV)
        if working_dir is not None:
            workspace.set_working_directory(working_dir)
    if sys.stderr.isatty():
        progress = _Progress(url)
        _PROGRESS.append(progress)
        workspace.datasets.store.on_transfer = progress
    return workspace


def _env_folder(name: str) -> Path | None:
    """A folder named by an environment variable, checked like --working-dir."""
    value = os.environ.get(name)
    try:
        return arg.folder(value) if value else None
    except argparse.ArgumentTypeError as exc:
        raise ValidationError(f"${name}: {exc}") from None


class _Progress:
    """A one-line transfer counter on a terminal's stderr (never in pipes or logs)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.total = 0

    def __call__(self, nbytes: int) -> None:
        self.total += nbytes
        print(f"\r{self.url}: {self.total / 1e6:,.1f} MB transferred", end="", file=sys.stderr,
              flush=True)

    def finish(self) -> None:
        if self.total:
            print(file=sys.stderr)


_PROGRESS: list[_Progress] = []


def _say(text: str) -> None:
    """Print a command's result, ending any progress line first."""
    while _PROGRESS:
        _PROGRESS.pop().finish()
    print(text)


def _demo(args: argparse.Namespace) -> None:
    """Run the end-to-end demo on synthetic traffic.

    Example: gantry-local demo --path ./gantry-demo
    """
    from .demo import run_demo

    run_demo(args.path, records_per_day=args.records_per_day)


def _datasets_list(args: argparse.Namespace) -> None:
    """List the datasets on the storage.

    Example: gantry-local datasets list --storage s3://bucket/prefix
    """
    with _storage_workspace(args) as ws:
        rows = ws.list_datasets(include_deleted=args.include_deleted)
        _say(_table(rows, ["name", "app_name", "versions", "latest_version_id", "created_at",
                            "deleted"]))


def _datasets_versions(args: argparse.Namespace) -> None:
    """List a dataset's versions, newest first.

    Example: gantry-local datasets versions train --storage ./gantry-storage
    """
    with _storage_workspace(args) as ws:
        _say(_table(ws.get_dataset(args.name).list_versions(),
                     ["version_id", "created_at", "rows", "message", "is_latest_version"]))


def _datasets_pull(args: argparse.Namespace) -> None:
    """Pull a version into the working directory (tables as CSV, or Parquet).

    Example: gantry-local datasets pull train --version 3f9a1c --working-dir ./data
    """
    with _storage_workspace(args) as ws:
        folder = ws.get_dataset(args.name).pull(args.version, forced=args.forced,
                                                format=args.format)
        _say(f"pulled {args.name} into {folder}")


def _datasets_export(args: argparse.Namespace) -> None:
    """Write one table of a version to <out>/<name>-<short id>.csv|.parquet.

    Example: gantry-local datasets export train --version 3f9a1c --out . --format parquet
    """
    with _storage_workspace(args) as ws:
        path = ws.get_dataset(args.name).export(args.version, args.out, args.format, args.file)
        _say(f"wrote {path}")


def _datasets_diff(args: argparse.Namespace) -> None:
    """Row-level diff between two versions (matched by __join_key, --key, or whole rows).

    Example: gantry-local datasets diff train 3f9a1c 8be2d4
    """
    with _storage_workspace(args) as ws:
        _say(str(ws.get_dataset(args.name).diff(args.a, args.b, key=args.key, filename=args.file)))


def _datasets_rollback(args: argparse.Namespace) -> None:
    """Make a new version with the content of an old one.

    Example: gantry-local datasets rollback train 3f9a1c
    """
    with _storage_workspace(args) as ws:
        info = ws.get_dataset(args.name).rollback(args.version)
        _say(f"{info['version_id']}  {info['message']}")


def _datasets_verify(args: argparse.Namespace) -> None:
    """Check every object of a dataset (or one version) against its hash.

    Example: gantry-local datasets verify train
    """
    with _storage_workspace(args) as ws:
        report = ws.get_dataset(args.name).verify(args.version)
        _say(f"ok: {report['versions']} versions, {report['objects']} objects, "
              f"{report['bytes']:,} bytes verified")


def _datasets_gc(args: argparse.Namespace) -> None:
    """Delete objects no version references (a dry run unless --delete).

    Example: gantry-local datasets gc --delete
    """
    with _storage_workspace(args) as ws:
        report = ws.gc(dry_run=not args.delete, grace=timedelta(minutes=args.grace_minutes))
        verb = "deleted" if report["deleted"] else "would delete"
        _say(f"{verb} {len(report['unreferenced'])} objects ({report['bytes']:,} bytes)")


def _db_workspace(args: argparse.Namespace) -> Workspace:
    db = str(args.db or os.environ.get(DB_ENV) or "gantry.duckdb")
    if db != ":memory:" and not os.path.exists(db):
        raise ValidationError(f"no database {db!r}; give --db PATH or ${DB_ENV}")
    if os.path.isdir(db):
        raise ValidationError(f"{db!r} is a folder; give the DuckDB file with --db PATH")
    storage = args.storage or os.environ.get(STORAGE_ENV)
    return Workspace(db=db, storage=storage)


def _curators_list(args: argparse.Namespace) -> None:
    """List the curators stored in the database.

    Example: gantry-local curators list --db gantry.duckdb
    """
    from .automations.curators import list_curators

    with _db_workspace(args) as ws:
        rows = [{"name": c.name, "application": c.application_name, "kind": c.kind,
                 "limit": c.limit, "interval": str(c.curation_interval), "enabled": c.enabled,
                 "automation": c.automation_name, "dataset": c.curated_dataset_name}
                for c in list_curators(workspace=ws)]
        _say(_table(rows, ["name", "application", "kind", "limit", "interval", "enabled",
                           "automation", "dataset"]))


def _curators_show(args: argparse.Namespace) -> None:
    """Show one curator's definition.

    Example: gantry-local curators show uniform-100
    """
    from .automations._definitions import curator_to_json
    from .automations.curators import get_curator

    with _db_workspace(args) as ws:
        curator = get_curator(args.name, workspace=ws)
        _say(json.dumps({**json.loads(curator_to_json(curator)), "enabled": curator.enabled,
                         "automation": curator.automation_name,
                         "first_interval_start": str(curator.first_interval_start)}, indent=2))


def _curators_enable(args: argparse.Namespace) -> None:
    """Turn a curator on (missed intervals are caught up on the next tick).

    Example: gantry-local curators enable uniform-100
    """
    from .automations.curators import get_curator

    with _db_workspace(args) as ws:
        get_curator(args.name, workspace=ws).enable()
        _say(f"enabled {args.name}")


def _curators_disable(args: argparse.Namespace) -> None:
    """Turn a curator off.

    Example: gantry-local curators disable uniform-100
    """
    from .automations.curators import get_curator

    with _db_workspace(args) as ws:
        get_curator(args.name, workspace=ws).disable()
        _say(f"disabled {args.name}")


def _curators_runs(args: argparse.Namespace) -> None:
    """Run history of one curator or all.

    Example: gantry-local curators runs uniform-100
    """
    from .automations._registry import CuratorRegistry
    from .automations.curators import get_curator

    with _db_workspace(args) as ws:
        frame = CuratorRegistry(ws).runs(args.name)
        if args.name is not None and frame.is_empty():
            get_curator(args.name, workspace=ws)  # no runs yet, or no such curator?
        _say(_table(frame.to_dicts(), ["curator", "interval_start", "status", "rows_in_interval",
                                       "rows_selected", "version_id", "error"]))


def _scheduler_run(args: argparse.Namespace) -> None:
    """Run the scheduler in the foreground (Ctrl-C stops it), or one tick with --once.

    Example: gantry-local scheduler run --once --db gantry.duckdb
    """
    from .automations.automations import Automation
    from .automations.scheduler import Scheduler
    from .automations.triggers import DatasetVersionTrigger
    from .evaluation.suites import Suite

    suites = [Suite.from_toml(path) for path in args.suite or []]
    with _db_workspace(args) as ws:
        scheduler = Scheduler(ws, tick=args.tick)
        for suite in suites:
            scheduler.add_automation(Automation(f"suite-{suite.name}",
                                                DatasetVersionTrigger(suite.dataset), suite))
        if args.once:
            runs = scheduler.run_pending()
            _say(_table([r.__dict__ for r in runs], ["curator", "interval_start", "status",
                                                     "rows_selected", "version_id", "error"]))
            if suites:
                _say(_table(scheduler.suite_runs().to_dicts(),
                            ["suite", "dataset", "version_id", "passed", "evaluation_id",
                             "error"]))
            if scheduler.failures:  # each retried on the next tick
                _say(_table([f.__dict__ for f in scheduler.failures],
                            ["automation", "kind", "application", "error"]))
        else:
            scheduler.run_forever()


def _eval_run(args: argparse.Namespace) -> int:
    """Run a test suite (TOML); exit 1 when a check fails. --junit writes JUnit XML.

    Example: gantry-local eval run suite.toml --db gantry.duckdb --junit eval.xml
    """
    from .evaluation.suites import Suite

    suite = Suite.from_toml(args.suite)
    with _db_workspace(args) as ws:
        result = suite.run(ws)
    _say(str(result))
    if args.junit:
        result.write_junit(args.junit)
        _say(f"wrote {args.junit}")
    return 0 if result.passed else 1


def _eval_list(args: argparse.Namespace) -> None:
    """List stored evaluations, newest first.

    Example: gantry-local eval list --db gantry.duckdb
    """
    from .evaluation import list_evaluations

    with _db_workspace(args) as ws:
        frame = list_evaluations(args.dataset, workspace=ws)
    _say(_table(frame.to_dicts(), ["id", "created_at", "dataset", "version_id", "candidates",
                                   "primary", "verdict", "rows"]))


def _eval_show(args: argparse.Namespace) -> None:
    """Show one stored evaluation's statistics table.

    Example: gantry-local eval show 3f2a9c1b7d4e
    """
    from .evaluation import get_evaluation

    with _db_workspace(args) as ws:
        _say(str(get_evaluation(args.id, workspace=ws)))


def _print_frame(frame: pl.DataFrame) -> None:
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=220, fmt_str_lengths=40,
                   float_precision=4, tbl_hide_dataframe_shape=True):
        _say(str(frame))


def _summarize(args: argparse.Namespace) -> None:
    """Per interval and field: count, null rate, and statistics.

    Example: gantry-local summarize fraud-detector --interval 1d --field inputs.amount
    """
    with _db_workspace(args) as ws:
        frame = ws.get_application(args.app).summarize(args.interval, args.start, args.end,
                                                        args.field or None)
    columns = [c for c in frame.columns if frame[c].null_count() < frame.height]
    _print_frame(frame.select(columns).with_columns(pl.col(pl.Datetime).dt.strftime("%Y-%m-%d %H:%M")))


def _drift(args: argparse.Namespace) -> None:
    """Per field, how the current window differs from the reference window.

    Example: gantry-local drift fraud-detector --reference 2024-01-01 2024-01-08
             --current 2024-01-22 2024-01-29
    """
    with _db_workspace(args) as ws:
        frame = ws.get_application(args.app).drift(tuple(args.reference), tuple(args.current),
                                                   args.field or None)
    _print_frame(frame)


def _alerts(args: argparse.Namespace) -> None:
    """Alerts fired by aggregation triggers, newest first.

    Example: gantry-local alerts --app fraud-detector
    """
    from .monitoring.alerts import list_alerts

    with _db_workspace(args) as ws:
        frame = list_alerts(ws, args.app)
        if args.app is not None and frame.is_empty():
            ws.get_application(args.app)  # no alerts yet, or no such application?
    _say(_table(frame.to_dicts(), ["automation", "application", "aggregation", "value",
                                   "lower_bound", "upper_bound", "fired_at", "resolved_at",
                                   "status", "action_error"]))


def _report(args: argparse.Namespace) -> None:
    """Write one self-contained HTML report of an application (opens offline).

    Example: gantry-local report --app fraud-detector --out report.html
    """
    with _db_workspace(args) as ws:
        apps = ws.list_applications()
        name = args.app or (apps[0] if len(apps) == 1 else None)
        if name is None:
            raise ValidationError(f"give --app NAME (applications: {', '.join(apps) or 'none'})")
        path = ws.get_application(name).report(args.out, args.interval)
    _say(f"wrote {path}")


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--storage", type=arg.text,
                        help=f"dataset storage URL (default ${STORAGE_ENV})")
    parser.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                        type=arg.key_value,
                        help="fsspec option, e.g. endpoint_url=http://127.0.0.1:9000 (repeatable)")


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (and exit 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gantry-local",
        description="Log production traffic, curate datasets and evaluate models, in-process. "
                    f"Exit status: 0 ok, 1 error, 2 usage error; ${DEBUG_ENV}=1 shows tracebacks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the end-to-end demo on synthetic traffic",
                               description=_demo.__doc__)
    demo.add_argument("--path", type=arg.path, default="gantry-demo",
                      help="folder for the demo workspace: new, empty, or made by an earlier "
                           "demo (wiped first); default ./gantry-demo")
    demo.add_argument("--records-per-day", type=arg.number(int, 1, MAX_DEMO_RECORDS, "a whole "
                      "number"), default=2_000,
                      help="predictions logged per simulated day (default 2000)")
    demo.set_defaults(handler=_demo)

    datasets = commands.add_parser("datasets", help="versioned datasets on a storage URL")
    sub = datasets.add_subparsers(dest="datasets_command", required=True)

    def command(name: str, handler: Any) -> argparse.ArgumentParser:
        doc = handler.__doc__ or ""
        cmd = sub.add_parser(name, help=doc.splitlines()[0], description=doc)
        _add_storage_options(cmd)
        cmd.set_defaults(handler=handler)
        return cmd

    command("list", _datasets_list).add_argument("--include-deleted", action="store_true")
    command("versions", _datasets_versions).add_argument("name", type=arg.text)
    pull = command("pull", _datasets_pull)
    pull.add_argument("name", type=arg.text)
    pull.add_argument("--version", type=arg.text, help="version id or prefix (default: latest)")
    pull.add_argument("--working-dir", type=arg.folder, help=f"default ${WORKING_DIR_ENV} or the cwd")
    pull.add_argument("--format", choices=["csv", "parquet"], default="csv")
    pull.add_argument("--forced", action="store_true", help="discard local changes")
    export = command("export", _datasets_export)
    export.add_argument("name", type=arg.text)
    export.add_argument("--version", type=arg.text, help="version id or prefix (default: latest)")
    export.add_argument("--out", type=arg.path, default=".", help="folder to write into (default: cwd)")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("--file", type=arg.text, help="table name, when the version has several")
    diff = command("diff", _datasets_diff)
    diff.add_argument("name", type=arg.text)
    diff.add_argument("a", type=arg.text)
    diff.add_argument("b", type=arg.text, nargs="?", help="default: the latest version")
    diff.add_argument("--key", type=arg.text, help="column matching rows (default: __join_key if present)")
    diff.add_argument("--file", type=arg.text, help="table name, when the version has several")
    rollback = command("rollback", _datasets_rollback)
    rollback.add_argument("name", type=arg.text)
    rollback.add_argument("version", type=arg.text)
    verify = command("verify", _datasets_verify)
    verify.add_argument("name", type=arg.text)
    verify.add_argument("--version", type=arg.text, help="only this version (default: all)")
    gc = command("gc", _datasets_gc)
    gc.add_argument("--delete", action="store_true", help="really delete (default: dry run)")
    gc.add_argument("--grace-minutes", default=60.0,
                    type=arg.number(float, 0, arg.MAX_DURATION.total_seconds() / 60, "minutes"),
                    help="keep objects younger than this, for pushes in flight (default 60)")
    curators = commands.add_parser("curators", help="curators stored in a database")
    curator_commands = curators.add_subparsers(dest="curators_command", required=True)
    for name, handler, takes_name in (("list", _curators_list, False),
                                      ("show", _curators_show, True),
                                      ("enable", _curators_enable, True),
                                      ("disable", _curators_disable, True),
                                      ("runs", _curators_runs, None)):
        cmd = _db_command(curator_commands, name, handler)
        if takes_name:
            cmd.add_argument("name", type=arg.text)
        elif takes_name is None:
            cmd.add_argument("name", type=arg.text, nargs="?")
    scheduler = commands.add_parser("scheduler", help="run curators on their schedules")
    scheduler_commands = scheduler.add_subparsers(dest="scheduler_command", required=True)
    run_cmd = _db_command(scheduler_commands, "run", _scheduler_run)
    run_cmd.add_argument("--once", action="store_true", help="one tick, then exit")
    run_cmd.add_argument("--tick", type=arg.number(float, 0.01, 86_400, "seconds"), default=1.0,
                         help="seconds between ticks")
    run_cmd.add_argument("--suite", action="append", metavar="SUITE.toml", type=arg.existing_file,
                         help="also run this test suite on each new version of its dataset "
                              "(repeatable)")
    report = _db_command(commands, "report", _report)
    report.add_argument("--app", type=arg.text, help="the application (default: the only one)")
    report.add_argument("--out", type=arg.output_file, default="report.html",
                        help="the HTML file (default report.html)")
    report.add_argument("--interval", type=arg.duration, default=timedelta(days=1),
                        help="interval length: 30m, 6h, 1d, 2w (default 1d)")
    for name, handler in (("summarize", _summarize), ("drift", _drift), ("alerts", _alerts)):
        cmd = _db_command(commands, name, handler)
        if name == "alerts":
            cmd.add_argument("--app", type=arg.text, help="only this application's alerts")
            continue
        cmd.add_argument("app", type=arg.text, help="the application")
        cmd.add_argument("--field", type=arg.text, action="append", help="a field (repeatable; default: all)")
        if name == "summarize":
            cmd.add_argument("--interval", type=arg.duration, default=timedelta(days=1),
                             help="interval length: 30m, 6h, 1d, 2w (default 1d)")
            cmd.add_argument("--start", type=arg.moment, help="first interval's start (ISO)")
            cmd.add_argument("--end", type=arg.moment, help="end of the last interval (ISO)")
        else:
            cmd.add_argument("--reference", nargs=2, type=arg.moment, required=True,
                             metavar=("START", "END"), help="the reference window")
            cmd.add_argument("--current", nargs=2, type=arg.moment, required=True,
                             metavar=("START", "END"), help="the window compared with it")
    evaluations = commands.add_parser("eval", help="evaluations and test suites")
    eval_commands = evaluations.add_subparsers(dest="eval_command", required=True)
    eval_handlers: tuple[tuple[str, Callable[[argparse.Namespace], int | None]], ...] = (
        ("run", _eval_run), ("list", _eval_list), ("show", _eval_show))
    for name, eval_handler in eval_handlers:
        cmd = _db_command(eval_commands, name, eval_handler)
        if name == "run":
            cmd.add_argument("suite", type=arg.existing_file, help="the suite's TOML file")
            cmd.add_argument("--junit", type=arg.output_file, metavar="PATH",
                             help="write JUnit XML here")
        elif name == "list":
            cmd.add_argument("--dataset", type=arg.text, help="only evaluations of this dataset")
        else:
            cmd.add_argument("id", type=arg.text)
    return parser


def _db_command(commands: Any, name: str, handler: Callable[[argparse.Namespace], int | None]
                ) -> argparse.ArgumentParser:
    """A command working on the DuckDB file; its docstring is its help and description."""
    doc = handler.__doc__ or ""
    cmd: argparse.ArgumentParser = commands.add_parser(name, help=doc.splitlines()[0],
                                                       description=doc)
    _add_db_options(cmd)
    cmd.set_defaults(handler=handler)
    return cmd


def _add_db_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=arg.path,
                        help=f"the DuckDB file (default ${DB_ENV} or ./gantry.duckdb)")
    parser.add_argument("--storage", type=arg.text,
                        help=f"dataset storage URL (default ${STORAGE_ENV} or beside the db)")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code (see `build_parser`)."""
    try:
        return _run(argv)
    except BrokenPipeError:  # the reader went away (`gantry-local ... | head`): stop quietly
        _silence_stdout()
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, --version or a usage error, already printed
        return exc.code if isinstance(exc.code, int) else 2
    debug = os.environ.get(DEBUG_ENV, "") not in ("", "0")
    try:
        code = args.handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the guard, not at exit
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except GantryLocalError as exc:
        if debug:
            raise
        return _fail(str(exc))
    except Exception as exc:  # a bug, or an error a library under us did not translate
        if debug:
            raise
        return _fail(f"unexpected {type(exc).__name__}: {exc} (set {DEBUG_ENV}=1 to see the "
                     "traceback)")
    finally:
        while _PROGRESS:
            _PROGRESS.pop().finish()
    return int(code or 0)


def _one_line(message: str) -> str:
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


def _fail(message: str) -> int:
    print(f"error: {_one_line(message)}", file=sys.stderr)
    return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (e.g. captured by a test)
        pass


if __name__ == "__main__":
    sys.exit(main())
