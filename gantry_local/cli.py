"""The ``gantry-local`` command: each subcommand opens what it needs and calls one public function.

Commands live beside their options in ``_cli_datasets`` (only the storage URL needed, so a
teammate can work on datasets without the DuckDB file), ``_cli_automations`` (curators,
the scheduler) and ``_cli_measure`` (summaries, drift, alerts, the report, evaluations);
``_cli_output`` prints, ``_cli_workspace`` opens. This module builds the parser and runs.
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from . import _cli_args as arg
from . import _cli_automations as _automations  # noqa: F401  (each declares its commands)
from . import _cli_datasets as _datasets  # noqa: F401
from . import _cli_measure as _measure  # noqa: F401
from ._cli_commands import COMMANDS, DB, GROUPS, STORAGE, command, opt
from ._cli_output import end_progress, warn
from ._cli_workspace import DB_OPTIONS, STORAGE_OPTIONS
from .errors import GantryLocalError

__all__ = ["build_parser", "main"]

DEBUG_ENV = "GANTRY_LOCAL_DEBUG"
MAX_DEMO_RECORDS = 100_000  # 3 million predictions over the demo's month


@command("demo",
         opt("--path", type=arg.path, default="gantry-demo",
             help="folder for the demo workspace: new, empty, or made by an earlier demo "
                  "(wiped first); default ./gantry-demo"),
         opt("--records-per-day", type=arg.number(int, 1, MAX_DEMO_RECORDS, "a whole number"),
             default=2_000, help="predictions logged per simulated day (default 2000)"))
def _demo(args: argparse.Namespace) -> None:
    """Run the end-to-end demo on synthetic traffic.

    Example: gantry-local demo --path ./gantry-demo
    """
    from .demo import run_demo

    run_demo(args.path, records_per_day=args.records_per_day)


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line (and exit 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The parser of every declared command (see `_cli_commands.command`)."""
    parser = _Parser(
        prog="gantry-local",
        description="Log production traffic, curate datasets and evaluate models, in-process. "
                    f"Exit status: 0 ok, 1 error, 2 usage error; ${DEBUG_ENV}=1 shows tracebacks.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, Any] = {}
    for cmd in COMMANDS:
        where = top
        if len(cmd.path) > 1:
            group = cmd.path[0]
            if group not in groups:
                sub = top.add_parser(group, help=GROUPS[group])
                groups[group] = sub.add_subparsers(dest=f"{group}_command", required=True)
            where = groups[group]
        doc = inspect.cleandoc(cmd.handler.__doc__ or "")
        leaf = where.add_parser(cmd.path[-1], help=doc.splitlines()[0], description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        shared = {DB: DB_OPTIONS, STORAGE: STORAGE_OPTIONS}.get(cmd.opens or "", ())
        for option in (*cmd.options, *shared):
            leaf.add_argument(*option.flags, **option.settings)
        leaf.set_defaults(handler=cmd.handler)
    return parser


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
    _say_lock_waits()
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
        end_progress()
    return int(code or 0)


class _StderrLines(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def _say_lock_waits() -> None:
    """Say on stderr when a command waits for another process's lock on the database."""
    database = logging.getLogger("gantry_local.database")
    if not any(isinstance(h, _StderrLines) for h in database.handlers):
        database.addHandler(_StderrLines(logging.INFO))
    if database.getEffectiveLevel() > logging.INFO:
        database.setLevel(logging.INFO)


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
