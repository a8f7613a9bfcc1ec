"""How ``gantry-local`` commands open what they need: the DuckDB file (read-only for commands
that only read, waiting for another process's lock) or only the dataset storage."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from . import _cli_args as arg
from ._cli_commands import Option, opt
from ._cli_output import transfer_bar
from ._db import LOCK_TIMEOUT_ENV, MAX_LOCK_TIMEOUT
from .datasets._registry import WORKING_DIR_ENV
from .errors import ValidationError
from .workspace import Workspace

__all__ = ["DB_ENV", "DB_OPTIONS", "STORAGE_ENV", "STORAGE_OPTIONS", "db_path", "env_folder",
           "open_db", "open_storage", "storage_options"]

STORAGE_ENV = "GANTRY_LOCAL_STORAGE"
DB_ENV = "GANTRY_LOCAL_DB"

_OPTION = opt("--storage-option", action="append", metavar="KEY=VALUE", type=arg.key_value,
              help="fsspec option, e.g. endpoint_url=http://127.0.0.1:9000 or use_ssl=false "
                   "(VALUE read as JSON when it is JSON; repeatable). Recorded in the "
                   "database, except credentials (key, secret, token, password, session ...)")
_LOCK = opt("--lock-timeout", type=arg.number(float, 0, MAX_LOCK_TIMEOUT, "seconds"),
            metavar="SECONDS",
            help=f"wait this long while another process holds the database (default "
                 f"${LOCK_TIMEOUT_ENV} or 30)")
STORAGE_OPTIONS: tuple[Option, ...] = (
    opt("--storage", type=arg.text,
        help=f"dataset storage URL (default ${STORAGE_ENV}, else the one recorded in --db)"),
    _OPTION,
    opt("--db", type=arg.path,
        help=f"take the storage recorded in this DuckDB file (default ${DB_ENV})"),
    _LOCK,
)
DB_OPTIONS: tuple[Option, ...] = (
    opt("--db", type=arg.path, help=f"the DuckDB file (default ${DB_ENV} or ./gantry.duckdb)"),
    opt("--storage", type=arg.text,
        help=f"dataset storage URL (default: the one recorded in the database, else "
             f"${STORAGE_ENV}, else beside the db); must match the recorded one"),
    _OPTION,
    _LOCK,
)


def storage_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``--storage-option`` pairs as a dict.

    Raises:
        ValidationError: a key given twice.
    """
    options: dict[str, Any] = {}
    for key, value in getattr(args, "storage_option", None) or []:
        if key in options:
            raise ValidationError(f"--storage-option {key} is given twice; give it once")
        options[key] = value
    return options


def db_path(args: argparse.Namespace) -> str:
    """The DuckDB file a command works on: ``--db``, ``$GANTRY_LOCAL_DB`` or ./gantry.duckdb.

    Raises:
        ValidationError: it is a folder.
    """
    db = str(args.db or os.environ.get(DB_ENV) or "gantry.duckdb")
    if os.path.isdir(db):
        raise ValidationError(f"{db!r} is a folder; give the DuckDB file with --db PATH")
    return db


def open_db(args: argparse.Namespace, read_only: bool = False) -> Workspace:
    """The workspace on the command's DuckDB file (which must exist).

    Raises:
        ValidationError: no such file, or a storage conflicting with the recorded one.
        StorageError: the file stayed held by another process for the lock timeout.
    """
    db = db_path(args)
    if db != ":memory:" and not os.path.exists(db):
        raise ValidationError(f"no database {db!r}; give --db PATH or ${DB_ENV}")
    return _workspace(args, db, args.storage, read_only)


def _workspace(args: argparse.Namespace, db: str, storage: str | None, read_only: bool
               ) -> Workspace:
    return Workspace(db=db, storage=storage, storage_options=storage_options(args),
                     read_only=read_only, lock_timeout=args.lock_timeout)


def open_storage(args: argparse.Namespace) -> Workspace:
    """A workspace for the datasets commands: an in-memory database over the storage given
    by ``--storage``, ``$GANTRY_LOCAL_STORAGE``, or the one recorded in ``--db``.

    Raises:
        ValidationError: no storage can be found that way.
    """
    url = args.storage or os.environ.get(STORAGE_ENV)
    options = storage_options(args)
    if not url:
        db = args.db or os.environ.get(DB_ENV)
        if not db:
            raise ValidationError(f"give the dataset storage with --storage URL, ${STORAGE_ENV}, "
                                  "or --db PATH of a workspace that recorded it")
        with open_db(args, read_only=True) as recorded:
            url, options = recorded.storage, {**recorded.storage_options, **options}
    workspace = Workspace(db=":memory:", storage=url, storage_options=options)
    if "working_dir" in args:
        working_dir = args.working_dir or env_folder(WORKING_DIR_ENV)
        if working_dir is not None:
            workspace.set_working_directory(working_dir)
    if sys.stderr.isatty():
        progress = transfer_bar(url)

        def transferred(nbytes: int) -> None:
            progress.update(nbytes)

        workspace.datasets.store.on_transfer = transferred
    return workspace


def env_folder(name: str) -> Path | None:
    """A folder named by an environment variable, checked like --working-dir."""
    value = os.environ.get(name)
    try:
        return arg.folder(value) if value else None
    except argparse.ArgumentTypeError as exc:
        raise ValidationError(f"${name}: {exc}") from None
