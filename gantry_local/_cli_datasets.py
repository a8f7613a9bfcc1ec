"""``gantry-local datasets ...``: versioned datasets, with only the storage URL needed."""

from __future__ import annotations

import argparse
from datetime import timedelta

from . import _cli_args as arg
from ._cli_commands import STORAGE, command, opt
from ._cli_output import say, table
from ._cli_workspace import open_storage
from .datasets._registry import WORKING_DIR_ENV

__all__: list[str] = []

_NAME = opt("name", type=arg.text)
_VERSION = opt("--version", type=arg.text, help="version id or prefix (default: latest)")
_FILE = opt("--file", type=arg.text, help="table name, when the version has several")
_FORMAT = opt("--format", choices=["csv", "parquet"], default="csv")


@command("datasets list", opt("--include-deleted", action="store_true"), opens=STORAGE)
def _list(args: argparse.Namespace) -> None:
    """List the datasets on the storage (an entry that cannot be read shows its error).

    Example: gantry-local datasets list --storage s3://bucket/prefix
    """
    with open_storage(args) as ws:
        rows = ws.list_datasets(include_deleted=args.include_deleted)
    extra = [c for c in ("labelled_rows", "error") if any(r.get(c) is not None for r in rows)]
    say(table(rows, ["name", "app_name", "versions", "latest_version_id", "created_at",
                     "deleted", *extra]))


@command("datasets versions", _NAME, opens=STORAGE)
def _versions(args: argparse.Namespace) -> None:
    """List a dataset's versions, newest first.

    Example: gantry-local datasets versions train --storage ./gantry-storage
    """
    with open_storage(args) as ws:
        rows = ws.get_dataset(args.name).list_versions()
    extra = [c for c in ("labelled_rows", "error") if any(r.get(c) is not None for r in rows)]
    say(table(rows, ["version_id", "created_at", "rows", *extra, "message", "is_latest_version"]))


@command("datasets pull", _NAME, _VERSION,
         opt("--working-dir", type=arg.folder, help=f"default ${WORKING_DIR_ENV} or the cwd"),
         _FORMAT, opt("--forced", action="store_true", help="discard local changes"),
         opens=STORAGE)
def _pull(args: argparse.Namespace) -> None:
    """Pull a version into the working directory (tables as CSV, or Parquet).

    Example: gantry-local datasets pull train --version 3f9a1c --working-dir ./data
    """
    with open_storage(args) as ws:
        dataset = ws.get_dataset(args.name)
        info = dataset.pull(args.version, forced=args.forced, format=args.format)
    version = "(no version yet)" if info is None else f"version {info['version_id'][:12]}"
    say(f"pulled {args.name} {version} into {dataset.folder}")


@command("datasets export", _NAME, _VERSION,
         opt("--out", type=arg.path, default=".", help="folder to write into (default: cwd)"),
         _FORMAT, _FILE, opens=STORAGE)
def _export(args: argparse.Namespace) -> None:
    """Write one table of a version to <out>/<name>-<short id>.csv|.parquet.

    Example: gantry-local datasets export train --version 3f9a1c --out . --format parquet
    """
    with open_storage(args) as ws:
        path = ws.get_dataset(args.name).export(args.version, args.out, args.format, args.file)
    say(f"wrote {path}")


@command("datasets diff", _NAME, opt("a", type=arg.text),
         opt("b", type=arg.text, nargs="?", help="default: the latest version"),
         opt("--key", type=arg.text, help="column matching rows (default: __join_key if present)"),
         _FILE, opens=STORAGE)
def _diff(args: argparse.Namespace) -> None:
    """Row-level diff between two versions (matched by __join_key, --key, or whole rows).

    Example: gantry-local datasets diff train 3f9a1c 8be2d4
    """
    with open_storage(args) as ws:
        say(str(ws.get_dataset(args.name).diff(args.a, args.b, key=args.key, filename=args.file)))


@command("datasets rollback", _NAME, opt("version", type=arg.text), opens=STORAGE)
def _rollback(args: argparse.Namespace) -> None:
    """Make a new version with the content of an old one.

    Example: gantry-local datasets rollback train 3f9a1c
    """
    with open_storage(args) as ws:
        info = ws.get_dataset(args.name).rollback(args.version)
    say(f"{info['version_id']}  {info['message']}")


@command("datasets verify", _NAME,
         opt("--version", type=arg.text, help="only this version (default: all)"),
         opens=STORAGE)
def _verify(args: argparse.Namespace) -> None:
    """Check every object of a dataset (or one version) against its hash.

    Example: gantry-local datasets verify train
    """
    with open_storage(args) as ws:
        report = ws.get_dataset(args.name).verify(args.version)
    say(f"ok: {report['versions']} versions, {report['objects']} objects, "
        f"{report['bytes']:,} bytes verified")


@command("datasets gc", opt("--delete", action="store_true", help="really delete (default: dry run)"),
         opt("--grace-minutes", default=60.0,
             type=arg.number(float, 0, arg.MAX_DURATION.total_seconds() / 60, "minutes"),
             help="keep objects younger than this, for pushes in flight (default 60)"),
         opens=STORAGE)
def _gc(args: argparse.Namespace) -> None:
    """Delete objects no version references (a dry run unless --delete).

    Example: gantry-local datasets gc --delete
    """
    with open_storage(args) as ws:
        report = ws.gc(dry_run=not args.delete, grace=timedelta(minutes=args.grace_minutes))
    verb = "deleted" if report["deleted"] else "would delete"
    say(f"{verb} {len(report['unreferenced'])} objects ({report['bytes']:,} bytes)")
