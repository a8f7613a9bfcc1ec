"""Gantry's working-copy workflow: pull a version into a folder, edit it, push it back.

``<working dir>/<dataset>/`` holds the tables (CSV by default, or Parquet) and the
artifacts of the pulled version, plus ``.gantry/pulled.json`` recording the version and
the sha256 of every file as written, which is how local changes are found.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..errors import ConflictError, NotFoundError, ValidationError
from . import _tables
from ._manifest import ARTIFACT, FileEntry, Part
from .dataset import Dataset, check_filename

__all__ = ["export", "get_diff", "pull", "push_version", "restore", "stash"]

META = ".gantry"
FORMATS = ("csv", "parquet")


def _folder(dataset: Dataset) -> Path:
    return dataset._working_directory() / dataset.name


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(dataset: Dataset) -> dict[str, Any] | None:
    path = _folder(dataset) / META / "pulled.json"
    return json.loads(path.read_text()) if path.is_file() else None


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
    local = _local_files(_folder(dataset))
    return {
        "new_files": sorted(n for n in local if n not in known),
        "modified_files": sorted(n for n, p in local.items()
                                 if n in known and _digest(p) != known[n]["sha256"]),
        "deleted_files": sorted(n for n in known if n not in local),
    }


def _has_changes(diff: dict[str, list[str]]) -> bool:
    return any(diff.values())


def _materialise(dataset: Dataset, version_id: str, folder: Path, fmt: str) -> dict[str, Any]:
    manifest = dataset.manifest(version_id)
    files: dict[str, Any] = {}
    for name, entry in sorted(manifest.files.items()):
        if entry.kind == ARTIFACT:
            local = folder / name
            local.write_bytes(dataset.read_artifact(name, version_id))
        else:
            local = folder / f"{name}.{fmt}"
            table = dataset.read_arrow(version_id, name)
            if fmt == "csv":
                pacsv.write_csv(table, local)
            else:
                pq.write_table(table, local, compression="zstd")
        files[local.name] = {"source": name, "kind": entry.kind, "sha256": _digest(local)}
    return files


def pull(dataset: Dataset, version_id: str | None = None, forced: bool = False,
         format: str = "csv") -> Path:
    """Materialise a version (default: the latest) under ``<working dir>/<dataset>/``.

    Raises:
        ConflictError: the folder has local changes and `forced` is False.
    """
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    full = dataset.resolve(version_id)
    folder = _folder(dataset)
    if _record(dataset) is not None and not forced:
        diff = get_diff(dataset)
        if _has_changes(diff):
            raise ConflictError(f"{str(folder)!r} has local changes {diff}; push_version() them, "
                                "stash() them, or pull(forced=True) to discard them")
    elif folder.is_dir() and _local_files(folder) and _record(dataset) is None and not forced:
        raise ConflictError(f"{str(folder)!r} holds files gantry-local did not pull; move them "
                            "or pull(forced=True)")
    for path in _local_files(folder).values():
        path.unlink()
    (folder / META).mkdir(parents=True, exist_ok=True)
    files = _materialise(dataset, full, folder, format)
    _write_record(folder, {"version_id": full, "format": format, "files": files})
    return folder


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    temp = folder / META / "pulled.json.tmp"
    temp.write_text(json.dumps(record, indent=2, sort_keys=True))
    temp.replace(folder / META / "pulled.json")


def push_version(dataset: Dataset, message: str) -> dict[str, Any]:
    """Push the working copy as a new version on top of the pulled one.

    Raises:
        ConflictError: the dataset moved on since the pull (Gantry's head-out-of-date).
        ValidationError: no message, or nothing changed.
    """
    if not isinstance(message, str) or not message.strip():
        raise ValidationError("push_version() needs a message saying what changed")
    record = _record(dataset)
    if record is None:
        raise NotFoundError(f"dataset {dataset.name!r} is not pulled; call pull() first")
    diff = get_diff(dataset)
    if not _has_changes(diff):
        raise ValidationError(f"nothing changed in {str(_folder(dataset))!r} since the pull")
    base = dataset.manifest(record["version_id"]).files
    folder = _folder(dataset)
    files: dict[str, FileEntry] = {}
    for local_name, path in _local_files(folder).items():
        known = record["files"].get(local_name)
        if known is not None and local_name not in diff["modified_files"]:
            files[known["source"]] = base[known["source"]]
            continue
        table = _tables.file_to_table(path)
        if table is not None:
            files[check_filename(path.stem)] = dataset._table_entry(table)
        else:
            data = path.read_bytes()
            files[check_filename(local_name)] = FileEntry(
                ARTIFACT, (Part(dataset.store.put_object(data), 0, len(data)),))
    info = dataset._commit(lambda _: files, message, record["version_id"])
    new_files = {n: {**record["files"].get(n, {}), "sha256": _digest(p)}
                 for n, p in _local_files(folder).items()}
    for name, entry in new_files.items():
        if "source" not in entry:
            path = folder / name
            is_table = path.suffix.lower() in _tables.SUPPORTED_TABLE_SUFFIXES
            entry.update(source=path.stem if is_table else name,
                         kind="table" if is_table else ARTIFACT)
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
    stash_dir.mkdir(parents=True)
    for name, path in _local_files(folder).items():
        shutil.copy2(path, stash_dir / name)
    (stash_dir.parent / "stash.json").write_text(json.dumps(diff))
    pull(dataset, record["version_id"], forced=True, format=record["format"])
    return sorted(set().union(*diff.values()))


def restore(dataset: Dataset) -> list[str]:
    """Bring the stashed working copy back, replacing the folder's files."""
    folder = _folder(dataset)
    stash_dir = folder / META / "stash"
    if not stash_dir.is_dir():
        raise NotFoundError(f"no stash for dataset {dataset.name!r}")
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
    if format not in FORMATS:
        raise ValidationError(f"format must be one of {FORMATS}, got {format!r}")
    full = dataset.resolve(version_id)
    folder = Path(path)
    if not folder.is_dir():
        raise NotFoundError(f"export folder {str(folder)!r} does not exist")
    table = dataset.read_arrow(full, filename)
    target = folder / f"{dataset.name}-{full[:12]}.{format}"
    temp = target.with_suffix(target.suffix + ".tmp")
    if format == "csv":
        pacsv.write_csv(table, temp)
    else:
        pq.write_table(table, temp, compression="zstd")
    temp.replace(target)
    return target
