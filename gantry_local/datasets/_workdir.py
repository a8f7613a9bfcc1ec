"""Gantry's working-copy workflow: pull a version into a folder, edit it, push it back.

``<working dir>/<dataset>/`` holds the tables (CSV by default, or Parquet) and the
artifacts of the pulled version, plus ``.gantry/pulled.json`` recording the version and
the sha256 of every file as written, which is how local changes are found. In CSV, list
and struct columns hold JSON text, decoded back to their types by `push_version`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ConflictError, IntegrityError, NotFoundError, StorageError, ValidationError
from . import _tables
from ._checks import (
    META,
    check_digest,
    check_filename,
    check_flag,
    check_message,
    check_path,
    check_version_ref,
    corrupt,
    load_json,
    stored,
)
from ._checks import field as stored_field
from ._manifest import ARTIFACT, TABLE, FileEntry, Part

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["export", "get_diff", "pull", "push_version", "restore", "stash"]

FORMATS = ("csv", "parquet")
_NESTED = ("list<", "struct<", "map<", "fixed_size_list<")


@contextmanager
def _local(what: str, where: Path) -> Iterator[None]:
    """Local file failures (a full disk, permissions) as a `StorageError` naming the cause."""
    try:
        yield
    except (ValidationError, IntegrityError, NotFoundError, ConflictError, StorageError):
        raise
    except OSError as exc:
        raise StorageError(f"{what} in {str(where)!r} failed: {exc.strerror or exc}. Free space "
                           "or fix the folder's permissions and try again") from exc


def _folder(dataset: Dataset) -> Path:
    return dataset._working_directory() / dataset.name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(dataset: Dataset) -> dict[str, Any] | None:
    """The checked ``pulled.json`` of the working copy, or None when nothing was pulled."""
    path = _folder(dataset) / META / "pulled.json"
    if not path.is_file():
        return None
    source = f"the working copy's record {str(path)!r} (pull(forced=True) starts over)"
    with _local("reading the working copy", path):
        body = load_json(path.read_bytes(), source)
    stored(source, check_digest, stored_field(body, "version_id", str, source))
    if stored_field(body, "format", str, source) not in FORMATS:
        raise corrupt(source, f"its format is not one of {FORMATS}")
    for local_name, entry in stored_field(body, "files", dict, source).items():
        if not isinstance(entry, dict):
            raise corrupt(source, f"the entry of {local_name[:60]!r} is not a JSON object")
        kind = stored_field(entry, "kind", str, source)
        if kind not in (TABLE, ARTIFACT):
            raise corrupt(source, f"the kind of {local_name[:60]!r} is {kind[:40]!r}")
        stored(source, check_filename, local_name, kind)
        stored(source, check_filename, stored_field(entry, "source", str, source), kind)
        stored(source, check_digest, stored_field(entry, "sha256", str, source))
    return body


def _local_files(folder: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and p.name != META} \
        if folder.is_dir() else {}


def get_diff(dataset: Dataset) -> dict[str, list[str]]:
    """Local changes against the pulled version: ``{new_files, modified_files, deleted_files}``."""
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled into "
                            f"{str(_folder(dataset))!r}; call pull() first")
    known: dict[str, Any] = record["files"]
    folder = _folder(dataset)
    with _local("comparing the working copy", folder):
        local = _local_files(folder)
        return {
            "new_files": sorted(n for n in local if n not in known),
            "modified_files": sorted(n for n, p in local.items()
                                     if n in known and _digest(p) != known[n]["sha256"]),
            "deleted_files": sorted(n for n in known if n not in local),
        }


def _has_changes(diff: dict[str, list[str]]) -> bool:
    return any(diff.values())


def _write_table(table: pa.Table, target: Path, fmt: str) -> None:
    if fmt == "csv":
        _tables.write_csv(table, target)
    else:
        pq.write_table(table, target, compression="zstd")


def _materialise(dataset: Dataset, version_id: str, folder: Path, fmt: str) -> dict[str, Any]:
    """Write every file of a version into `folder`; their names were checked on reading."""
    manifest = dataset.manifest(version_id)
    files: dict[str, Any] = {}
    for name, entry in sorted(manifest.files.items()):
        local = folder / (name if entry.kind == ARTIFACT else f"{name}.{fmt}")
        if local.parent != folder or local.name in files:  # never outside the folder
            raise IntegrityError(f"dataset {dataset.name!r} version {version_id}: file "
                                 f"{name!r} cannot be written as {local.name!r}")
        if entry.kind == ARTIFACT:
            local.write_bytes(dataset.read_artifact(name, version_id))
        else:
            _write_table(dataset.read_arrow(version_id, name), local, fmt)
        files[local.name] = {"source": name, "kind": entry.kind, "sha256": _digest(local)}
    return files


def pull(dataset: Dataset, version_id: str | None = None, forced: bool = False,
         format: str = "csv") -> Path:
    """Materialise a version (default: the latest) under ``<working dir>/<dataset>/``.

    The version is written beside the working copy first and moved in only once complete,
    so a failed pull leaves the working copy as it was.

    Raises:
        ConflictError: the folder has local changes and `forced` is False.
    """
    check_version_ref(version_id)
    check_flag(forced, "forced")
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    full = dataset.resolve(version_id)
    folder = _folder(dataset)
    record = None if forced else _record(dataset)
    if record is not None:
        diff = get_diff(dataset)
        if _has_changes(diff):
            raise ConflictError(f"{str(folder)!r} has local changes {diff}; push_version() them, "
                                "stash() them, or pull(forced=True) to discard them")
    elif not forced and folder.is_dir() and _local_files(folder) and _record(dataset) is None:
        raise ConflictError(f"{str(folder)!r} holds files gantry-local did not pull; move them "
                            "or pull(forced=True)")
    dataset.manifest(full)  # checked before anything is written
    with _local("pulling", folder):
        created = not folder.exists()
        incoming = folder / META / "incoming"
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        try:
            files = _materialise(dataset, full, incoming, format)
            for path in _local_files(folder).values():
                path.unlink()
            for name in files:
                (incoming / name).replace(folder / name)
        except BaseException:
            shutil.rmtree(folder if created else incoming, ignore_errors=True)
            raise
        shutil.rmtree(incoming, ignore_errors=True)
        _write_record(folder, {"version_id": full, "format": format, "files": files})
    return folder


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    temp = folder / META / "pulled.json.tmp"
    try:
        temp.write_text(json.dumps(record, indent=2, sort_keys=True))
        temp.replace(folder / META / "pulled.json")
    finally:
        with suppress(OSError):
            temp.unlink(missing_ok=True)


def _nested_types(dataset: Dataset, version_id: str, source: str | None,
                  entry: FileEntry | None) -> dict[str, pa.DataType]:
    """The Arrow types of a pulled table's list/struct columns (read only when it has some)."""
    if entry is None or entry.kind != TABLE or not any(
            t.startswith(_NESTED) for _, t in entry.schema):
        return {}
    table = dataset._read_table(version_id, str(source), entry, True)
    return {f.name: f.type for f in table.schema if _tables.is_nested(f.type)}


def _plan(folder: Path, record: dict[str, Any], diff: dict[str, list[str]]
          ) -> list[tuple[str, str, Path, str | None]]:
    """(file name, kind, local path, source it was pulled from) of every local file, checked."""
    plan: list[tuple[str, str, Path, str | None]] = []
    for local_name, path in _local_files(folder).items():
        known = record["files"].get(local_name)
        source = None if known is None else known.get("source")
        if known is not None and local_name not in diff["modified_files"]:
            plan.append((str(source), "kept", path, source))
            continue
        is_table = path.suffix.lower() in _tables.SUPPORTED_TABLE_SUFFIXES
        name = check_filename(path.stem if is_table else local_name,
                              TABLE if is_table else ARTIFACT)
        plan.append((name, TABLE if is_table else ARTIFACT, path, source))
    names = [name for name, *_ in plan]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise ValidationError(f"several local files would become {clashes} (e.g. 'x.csv' and "
                              "'x.parquet'); keep one of each")
    return plan


def push_version(dataset: Dataset, message: str) -> dict[str, Any]:
    """Push the working copy as a new version on top of the pulled one.

    Raises:
        ConflictError: the dataset moved on since the pull (Gantry's head-out-of-date).
        ValidationError: no message, or nothing changed.
    """
    if not isinstance(message, str) or not message.strip():
        raise ValidationError("push_version() needs a message saying what changed")
    check_message(message)
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled; call pull() first")
    diff = get_diff(dataset)
    if not _has_changes(diff):
        raise ValidationError(f"nothing changed in {str(_folder(dataset))!r} since the pull")
    pulled = record["version_id"]
    base = dataset.manifest(pulled).files
    folder = _folder(dataset)
    with _local("reading the working copy", folder):
        plan = _plan(folder, record, diff)
        for name, kind, _, _ in plan:
            if kind == "kept" and name not in base:
                raise corrupt(f"the working copy's record in {str(folder)!r}",
                              f"version {pulled[:12]} has no file {name!r}")
        tables: dict[Path, pa.Table] = {}
        for _, kind, path, source in plan:  # every table is read and checked before any upload
            if kind == TABLE:
                table = _tables.file_to_table(path, _nested_types(
                    dataset, pulled, source, base.get(source) if source else None))
                assert table is not None
                tables[path] = table
        files: dict[str, FileEntry] = {}
        for name, kind, path, _ in plan:
            if kind == "kept":
                files[name] = base[name]
            elif kind == TABLE:
                files[name] = dataset._table_entry(tables[path])
            else:
                data = _tables.read_file(path)
                files[name] = FileEntry(ARTIFACT, (Part(dataset.store.put_object(data), 0,
                                                        len(data)),))
    info = dataset._commit(lambda _: files, message, pulled)
    with _local("recording the push", folder):
        new_files = {path.name: {"source": name, "kind": base[name].kind if kind == "kept"
                                 else kind, "sha256": _digest(path)}
                     for name, kind, path, _ in plan}
        _write_record(folder, {**record, "version_id": info["version_id"], "files": new_files})
    return info


def stash(dataset: Dataset) -> list[str]:
    """Set local changes aside (one stash) and reset the folder to the pulled version."""
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled; call pull() first")
    folder = _folder(dataset)
    stash_dir = folder / META / "stash"
    if stash_dir.exists():
        raise ConflictError("a stash exists already; restore() it first")
    diff = get_diff(dataset)
    if not _has_changes(diff):
        return []
    with _local("stashing", folder):
        stash_dir.mkdir(parents=True)
        try:
            for name, path in _local_files(folder).items():
                shutil.copy2(path, stash_dir / name)
        except OSError:
            shutil.rmtree(stash_dir, ignore_errors=True)
            raise
        (stash_dir.parent / "stash.json").write_text(json.dumps(diff))
    pull(dataset, record["version_id"], forced=True, format=record["format"])
    return sorted(set().union(*diff.values()))


def restore(dataset: Dataset) -> list[str]:
    """Bring the stashed working copy back, replacing the folder's files."""
    folder = _folder(dataset)
    stash_dir = folder / META / "stash"
    if not stash_dir.is_dir():
        raise NotFoundError(f"no stash for dataset {dataset.name!r}")
    with _local("restoring the stash", folder):
        for path in _local_files(folder).values():
            path.unlink()
        restored = []
        for path in sorted(stash_dir.iterdir()):
            shutil.copy2(path, folder / path.name)
            restored.append(path.name)
        shutil.rmtree(stash_dir)
        (folder / META / "stash.json").unlink(missing_ok=True)
    return restored


def export(dataset: Dataset, version_id: str | None, path: str | Path, format: str = "csv",
           filename: str | None = None) -> Path:
    """Write one table of a version to ``<path>/<dataset>-<short id>.<format>``."""
    check_version_ref(version_id)
    folder = check_path(path, "export folder")
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    full = dataset.resolve(version_id)
    if not folder.is_dir():
        raise NotFoundError(f"export folder {str(folder)!r} does not exist")
    table = dataset.read_arrow(full, filename)
    target = folder / f"{dataset.name}-{full[:12]}.{format}"
    temp = target.with_suffix(target.suffix + ".tmp")
    with _local("exporting", folder):
        try:
            _write_table(table, temp, format)
            temp.replace(target)
        finally:
            with suppress(OSError):
                temp.unlink(missing_ok=True)
    return target
