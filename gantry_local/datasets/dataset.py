"""`Dataset`: a named, versioned collection of tables and artifacts on the storage root.

Storage is the source of truth and describes itself; given only the root URL another
process can list, read and verify everything::

    <root>/objects/<sha[:2]>/<sha>                 immutable data objects (Parquet or raw)
    <root>/datasets/<name>/dataset.json            name, application, created_at
    <root>/datasets/<name>/manifests/<id>.json     immutable manifests; id = sha256(manifest)
    <root>/datasets/<name>/log/<000000000001>.json the ordered commit log, one entry a version
    <root>/datasets/<name>/deleted.json            present while the dataset is soft-deleted

A push writes objects, then the manifest, then one commit entry created only if absent,
so two writers never take the same slot and a crash leaves no visible partial version.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from .._names import check_name
from ..clock import Clock
from ..errors import ConflictError, NotFoundError, ValidationError
from . import _tables
from ._manifest import ARTIFACT, TABLE, FileEntry, Manifest, Part
from ._store import ObjectStore

if TYPE_CHECKING:
    import pandas

    from ._diff import DatasetDiff

__all__ = ["DEFAULT_TABLE", "Dataset"]

DEFAULT_TABLE = "data"
MIN_PREFIX = 6
_MAX_RETRIES = 1000


def check_filename(name: object) -> str:
    """A file name inside a version: no separators, no ``..``, no NUL, not empty."""
    if not isinstance(name, str) or not name or name in {".", ".."} or "\x00" in name \
            or "/" in name or "\\" in name or len(name) > 255:
        raise ValidationError(f"file name {name!r} is not allowed: give a plain name without "
                              "path separators, '..' or NUL bytes")
    return name


class Dataset:
    """One dataset. Get it from `create_dataset` / `get_dataset`, not by constructing it."""

    def __init__(self, store: ObjectStore, name: str, clock: Clock, app_name: str | None = None,
                 working_directory: Callable[[], Path] | None = None) -> None:
        self.store = store
        self.name = name
        self.app_name = app_name
        self._clock = clock
        self._working_directory = working_directory or (lambda: Path.cwd())

    def __repr__(self) -> str:
        return f"Dataset(name={self.name!r}, storage={self.store.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dataset) and (other.store.url, other.name) == (
            self.store.url, self.name)

    def __hash__(self) -> int:
        return hash((self.store.url, self.name))

    # -- versions -----------------------------------------------------------------------------

    def _log(self) -> list[tuple[int, str]]:
        """(sequence, version id) of every committed version, oldest first.

        Log entries never change once written, so each is read once per process: a
        commit costs one listing plus the entries that are new since the last look.
        """
        cache = self.store.log_cache.setdefault(self.name, {})
        entries = []
        for entry in self.store.listdir(f"datasets/{self.name}/log"):
            if not entry.endswith(".json") or not entry[:-5].isdigit():
                continue
            seq = int(entry[:-5])
            if seq not in cache:
                body = json.loads(self.store.read(f"datasets/{self.name}/log/{entry}"))
                cache[seq] = body["version_id"]
            entries.append((seq, cache[seq]))
        return entries

    def _head(self) -> tuple[int, str | None]:
        log = self._log()
        return (log[-1][0], log[-1][1]) if log else (0, None)

    def manifest(self, version_id: str | None = None) -> Manifest:
        """The manifest of a version (default: the latest), hash-checked."""
        return self._manifest(self.resolve(version_id))

    def _manifest(self, full: str) -> Manifest:
        cached = self.store.manifest_cache.get(full)
        if isinstance(cached, Manifest):
            return cached
        data = self.store.read(f"datasets/{self.name}/manifests/{full}.json")
        manifest = Manifest.from_bytes(data, full, f"dataset {self.name!r} version {full}")
        self.store.remember_manifest(full, manifest)
        return manifest

    def resolve(self, version_id: str | None = None) -> str:
        """The full id of a version given by a unique prefix of at least 6 characters.

        Raises:
            NotFoundError: no such version (or the dataset has none yet).
            ValidationError: the prefix is too short or matches several versions.
        """
        if isinstance(version_id, str) and len(version_id) == 64 and \
                version_id.lower() in self.store.log_cache.get(self.name, {}).values():
            return version_id.lower()  # a full id already seen in the commit log
        log = self._log()
        if version_id is None:
            if not log:
                raise NotFoundError(f"dataset {self.name!r} has no versions yet; push one first")
            return log[-1][1]
        if not isinstance(version_id, str) or len(version_id) < MIN_PREFIX:
            raise ValidationError(f"a version id or a prefix of at least {MIN_PREFIX} characters "
                                  f"is needed, got {version_id!r}")
        matches = sorted({vid for _, vid in log if vid.startswith(version_id.lower())})
        if not matches:
            raise NotFoundError(f"dataset {self.name!r} has no version {version_id!r}")
        if len(matches) > 1:
            raise ValidationError(f"version prefix {version_id!r} is ambiguous: "
                                  f"{', '.join(matches)}")
        return matches[0]

    def list_versions(self) -> list[dict[str, Any]]:
        """Every version, newest first: version_id, message, created_at, rows, is_latest_version."""
        log = self._log()
        out = []
        for position, (_, vid) in enumerate(reversed(log)):
            manifest = self._manifest(vid)
            out.append({"version_id": vid, "dataset": self.name, "message": manifest.message,
                        "created_at": datetime.fromisoformat(manifest.created_at),
                        "parent_version_id": manifest.parent, "rows": manifest.rows,
                        "files": sorted(manifest.files), "lineage": manifest.lineage,
                        "is_latest_version": position == 0})
        return out

    # -- writing ------------------------------------------------------------------------------

    def _commit(self, change: Callable[[dict[str, FileEntry]], dict[str, FileEntry]],
                message: str, parent_version_id: str | None,
                lineage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply `change` to the head's files and commit it as a new version.

        Without `parent_version_id` a lost race is retried on the new head (the change is
        re-applied); with one, a head that moved raises `ConflictError`.
        """
        if not isinstance(message, str):
            raise ValidationError(f"message must be a string, got {type(message).__name__}")
        expected = None if parent_version_id is None else self.resolve(parent_version_id)
        cache = self.store.log_cache.setdefault(self.name, {})
        for attempt in range(_MAX_RETRIES):
            # Optimistic first try on the head this process last saw: slots are sequential,
            # so if the head moved on, the exclusive create below fails and we list again.
            if attempt == 0 and cache:
                seq = max(cache)
                head: str | None = cache[seq]
                if expected is not None and head != expected:
                    seq, head = self._head()
            else:
                seq, head = self._head()
            if expected is not None and head != expected:
                raise ConflictError(f"dataset {self.name!r} moved on: its latest version is "
                                    f"{head}, not {expected}; pull it and push again")
            files = {} if head is None else dict(self._manifest(head).files)
            manifest = Manifest(self.name, head, change(files), message,
                                self._clock.now().isoformat(), dict(lineage or {}))
            version_id = manifest.version_id
            self.store.put_atomic(f"datasets/{self.name}/manifests/{version_id}.json",
                                  manifest.to_bytes())
            self.store.remember_manifest(version_id, manifest)
            entry = json.dumps({"version_id": version_id, "parent": head}).encode()
            if self.store.create_exclusive(f"datasets/{self.name}/log/{seq + 1:012d}.json", entry):
                cache[seq + 1] = version_id
                return self._version_info(version_id, manifest)
            if expected is not None:
                raise ConflictError(f"dataset {self.name!r} moved on while pushing onto "
                                    f"{expected}; pull it and push again")
        raise ConflictError(f"dataset {self.name!r}: gave up after {_MAX_RETRIES} lost races")

    def _version_info(self, version_id: str, manifest: Manifest) -> dict[str, Any]:
        return {"version_id": version_id, "dataset": self.name, "message": manifest.message,
                "created_at": datetime.fromisoformat(manifest.created_at),
                "parent_version_id": manifest.parent, "rows": manifest.rows,
                "files": sorted(manifest.files), "is_latest_version": True}

    def _check_push(self, message: object, parent_version_id: str | None) -> None:
        """Reject a bad message or parent before any object is uploaded."""
        if message is not None and not isinstance(message, str):
            raise ValidationError(f"message must be a string, got {type(message).__name__}")
        if parent_version_id is not None:
            self.resolve(parent_version_id)

    def _table_entry(self, table: pa.Table) -> FileEntry:
        data = _tables.parquet_bytes(table)
        digest = self.store.put_object(data)
        return FileEntry(TABLE, (Part(digest, table.num_rows, len(data)),),
                         _tables.schema_of(table))

    def push_dataframe(self, dataframe: Any, filename: str | None = None, message: str | None = None,
                       parent_version_id: str | None = None) -> dict[str, Any]:
        """Add or replace the table `filename` (default ``data``) in a new version.

        Other files of the version are kept. Accepts polars or pandas DataFrames and Arrow
        tables; an empty frame is a valid table. Returns the new version's details.
        """
        name = check_filename(DEFAULT_TABLE if filename is None else filename)
        self._check_push(message, parent_version_id)
        entry = self._table_entry(_tables.frame_to_table(dataframe))
        return self._commit(lambda files: {**files, name: entry},
                            message or f"Pushed table {name} ({entry.rows:,} rows)",
                            parent_version_id)

    def append_dataframe(self, dataframe: Any, filename: str | None = None,
                         message: str | None = None, parent_version_id: str | None = None,
                         lineage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append rows to table `filename` as one new Parquet object: cost independent of size.

        The new rows must have the table's columns and types (a new table is created
        if there is none of that name).
        """
        name = check_filename(DEFAULT_TABLE if filename is None else filename)
        self._check_push(message, parent_version_id)
        table = _tables.frame_to_table(dataframe)
        entry = self._table_entry(table)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            old = files.get(name)
            if old is None:
                return {**files, name: entry}
            if old.kind != TABLE or (old.rows and old.schema != entry.schema):
                raise ValidationError(
                    f"cannot append to {name!r}: its schema is {dict(old.schema)}, the new rows "
                    f"have {dict(entry.schema)}")
            parts = old.parts + entry.parts if old.rows else entry.parts
            return {**files, name: FileEntry(TABLE, parts, entry.schema)}

        return self._commit(change, message or f"Appended {entry.rows:,} rows to {name}",
                            parent_version_id, lineage)

    def push_file(self, file: str | Path, filename: str | None = None, message: str | None = None,
                  parent_version_id: str | None = None) -> dict[str, Any]:
        """Push a file: CSV, Parquet and JSONL become tables, anything else an artifact."""
        path = Path(file)
        if not path.is_file():
            raise NotFoundError(f"no file {str(path)!r} to push")
        self._check_push(message, parent_version_id)
        parquet = _tables.parquet_entry(path)
        table = None if parquet is not None else _tables.file_to_table(path)
        if parquet is not None:  # stored byte for byte: no decode, no re-encode
            name = check_filename(path.stem if filename is None else filename)
            data, rows, schema = parquet
            entry = FileEntry(TABLE, (Part(self.store.put_object(data), rows, len(data)),), schema)
        elif table is not None:
            name = check_filename(path.stem if filename is None else filename)
            entry = self._table_entry(table)
        else:
            name = check_filename(path.name if filename is None else filename)
            data = path.read_bytes()
            entry = FileEntry(ARTIFACT, (Part(self.store.put_object(data), 0, len(data)),))
        return self._commit(lambda files: {**files, name: entry},
                            message or f"Pushed file {name}", parent_version_id)

    def delete_file(self, filename: str, message: str | None = None,
                    parent_version_id: str | None = None) -> dict[str, Any]:
        """A new version without `filename`."""
        name = check_filename(filename)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            if name not in files:
                raise NotFoundError(f"dataset {self.name!r} has no file {name!r}")
            return {k: v for k, v in files.items() if k != name}

        return self._commit(change, message or f"Deleted file {name}", parent_version_id)

    def rollback(self, version_id: str) -> dict[str, Any]:
        """A new version whose content is that of `version_id` (history is kept)."""
        full = self.resolve(version_id)
        files = self.manifest(full).files
        return self._commit(lambda _: dict(files), f"Rollback dataset to version: {full}", None)

    # -- reading ------------------------------------------------------------------------------

    def read_arrow(self, version_id: str | None = None, filename: str | None = None,
                   verify: bool = True) -> pa.Table:
        """A table of a version as Arrow; objects are hash-checked unless `verify` is False."""
        full = self.resolve(version_id)
        manifest = self.manifest(full)
        tables = {k: v for k, v in manifest.files.items() if v.kind == TABLE}
        if filename is None:
            if len(tables) != 1:
                raise ValidationError(f"version {full[:12]} of {self.name!r} has tables "
                                      f"{sorted(tables)}; name one with filename=")
            filename = next(iter(tables))
        entry = tables.get(filename)
        if entry is None:
            raise NotFoundError(f"version {full[:12]} of {self.name!r} has no table {filename!r} "
                                f"(tables: {sorted(tables)})")
        context = f"dataset {self.name!r} version {full} file {filename!r}"
        parts = []
        for part in entry.parts:
            data = (self.store.read_object(part.object, context) if verify
                    else self.store.read(f"objects/{part.object[:2]}/{part.object}"))
            parts.append(_tables.read_parquet(data))
        if not parts:
            return pa.table({})
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def read(self, version_id: str | None = None, filename: str | None = None) -> pl.DataFrame:
        """A table of a version (default: the latest version, its only table) as polars."""
        frame = pl.from_arrow(self.read_arrow(version_id, filename))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def read_pandas(self, version_id: str | None = None,
                    filename: str | None = None) -> pandas.DataFrame:
        """A table of a version as pandas (needs pandas installed)."""
        return self.read_arrow(version_id, filename).to_pandas()

    def read_artifact(self, filename: str, version_id: str | None = None) -> bytes:
        """The bytes of an artifact (or of any file's single object), hash-checked."""
        full = self.resolve(version_id)
        entry = self.manifest(full).files.get(check_filename(filename))
        if entry is None:
            raise NotFoundError(f"version {full[:12]} of {self.name!r} has no file {filename!r}")
        return b"".join(self.store.read_object(p.object, f"dataset {self.name!r} version {full}")
                        for p in entry.parts)

    def verify(self, version_id: str | None = None) -> dict[str, Any]:
        """Check every object of a version (default: all versions) against its hash.

        Returns:
            ``{"versions": n, "objects": n, "bytes": n}`` when everything is intact.

        Raises:
            IntegrityError: naming the dataset, version and object that failed.
        """
        ids = [self.resolve(version_id)] if version_id is not None else [v for _, v in self._log()]
        seen: set[str] = set()
        total = 0
        for vid in ids:  # manifests are re-read from storage, not trusted from the cache
            manifest = Manifest.from_bytes(
                self.store.read(f"datasets/{self.name}/manifests/{vid}.json"), vid,
                f"dataset {self.name!r} version {vid}")
            for name, entry in sorted(manifest.files.items()):
                for part in entry.parts:
                    if part.object in seen:
                        continue
                    data = self.store.read_object(
                        part.object, f"dataset {self.name!r} version {vid} file {name!r}")
                    seen.add(part.object)
                    total += len(data)
        return {"versions": len(ids), "objects": len(seen), "bytes": total}

    def diff(self, a: str, b: str | None = None, key: str | None = None,
             filename: str | None = None) -> DatasetDiff:
        """Row-level differences between versions `a` and `b` (default: the latest).

        See `gantry_local.datasets.DatasetDiff`.
        """
        from ._diff import diff_versions

        return diff_versions(self, a, b, key=key, filename=filename)

    # -- working copy (Gantry's workflow) -------------------------------------------------------

    def drift(self, a: str, b: str | None = None, fields: Sequence[str] | None = None,
              psi_threshold: float = 0.2, js_threshold: float = 0.1) -> pl.DataFrame:
        """Per column, how version `b` (default: latest) differs from version `a`: KS, PSI,
        JS and more, with a drift flag (see `gantry_local.monitoring.drift`)."""
        from ..monitoring.drift import dataset_drift

        return dataset_drift(self, a, b, fields, psi_threshold, js_threshold)

    def pull(self, version_id: str | None = None, forced: bool = False,
             format: str = "csv") -> Path:
        """Materialise a version under ``<working dir>/<name>/`` (tables as CSV or Parquet).

        Refuses to overwrite local changes unless `forced`; returns the folder.
        """
        from ._workdir import pull

        return pull(self, version_id, forced, format)

    def get_diff(self) -> dict[str, list[str]]:
        """``{new_files, modified_files, deleted_files}`` of the working copy."""
        from ._workdir import get_diff

        return get_diff(self)

    def push_version(self, message: str) -> dict[str, Any]:
        """Push the working copy; `ConflictError` if the dataset moved on since the pull."""
        from ._workdir import push_version

        return push_version(self, message)

    def stash(self) -> list[str]:
        """Set local changes aside and reset the working copy to the pulled version."""
        from ._workdir import stash

        return stash(self)

    def restore(self) -> list[str]:
        """Bring stashed changes back."""
        from ._workdir import restore

        return restore(self)

    def export(self, version_id: str | None = None, path: str | Path = ".",
               format: str = "csv", filename: str | None = None) -> Path:
        """Write a table to ``<path>/<name>-<short id>.csv|.parquet``; returns the file."""
        from ._workdir import export

        return export(self, version_id, path, format, filename)

    # -- lifecycle ----------------------------------------------------------------------------

    def delete(self) -> None:
        """Soft-delete: hidden from lists and gets, restorable with `restore_dataset`."""
        self.store.put_atomic(f"datasets/{self.name}/deleted.json",
                              json.dumps({"deleted_at": self._clock.now().isoformat()}).encode())

    @property
    def deleted(self) -> bool:
        return self.store.exists(f"datasets/{self.name}/deleted.json")


def validate_dataset_name(name: object) -> str:
    return check_name(name, "dataset name")

