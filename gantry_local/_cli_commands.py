"""How a ``gantry-local`` command is declared: its options sit on the handler, in a decorator.

    @command("datasets versions", opt("name", type=arg.text), opens=STORAGE)
    def _versions(args): ...

`build_parser` (in `cli`) turns the declared commands into argparse subparsers; a
handler's docstring is its help (first line) and description (all of it, example included).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["COMMANDS", "DB", "GROUPS", "STORAGE", "Command", "Handler", "Option", "command",
           "opt"]

Handler = Callable[[argparse.Namespace], "int | None"]
DB, STORAGE = "db", "storage"  # what a command opens: the DuckDB file, or only the storage


@dataclass(frozen=True)
class Option:
    """One ``add_argument`` call, kept until the parser is built."""

    flags: tuple[str, ...]
    settings: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Command:
    """A leaf command: ``path`` is its words (``("datasets", "list")``)."""

    path: tuple[str, ...]
    handler: Handler
    options: tuple[Option, ...]
    opens: str | None


COMMANDS: list[Command] = []
GROUPS: dict[str, str] = {
    "datasets": "versioned datasets on a storage URL",
    "curators": "curators stored in a database",
    "scheduler": "run curators, monitors and suites on their schedules",
    "eval": "evaluations and test suites",
}


def opt(*flags: str, **settings: Any) -> Option:
    """An option or positional argument, with ``add_argument``'s keywords."""
    return Option(flags, settings)


def command(path: str, *options: Option, opens: str | None = None
            ) -> Callable[[Handler], Handler]:
    """Declare `path` (e.g. ``"datasets list"``) as a command run by the decorated handler."""

    def declare(handler: Handler) -> Handler:
        COMMANDS.append(Command(tuple(path.split()), handler, options, opens))
        return handler

    return declare
