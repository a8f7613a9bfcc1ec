"""The ``gantry-local`` command: each subcommand opens what it needs and calls one public function."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .errors import GantryLocalError

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> None:
    """Run the end-to-end demo on synthetic traffic.

    Example: gantry-local demo --path ./gantry-demo
    """
    from .demo import run_demo

    run_demo(args.path, records_per_day=args.records_per_day)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gantry-local",
        description="Log production traffic, curate datasets and evaluate models, in-process.")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the end-to-end demo on synthetic traffic",
                               description=_demo.__doc__)
    demo.add_argument("--path", default="gantry-demo",
                      help="folder for the demo workspace (wiped first; default ./gantry-demo)")
    demo.add_argument("--records-per-day", type=int, default=2_000,
                      help="predictions logged per simulated day (default 2000)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except GantryLocalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
