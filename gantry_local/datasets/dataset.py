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
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from .._names import check_name
from ..clock import Clock
from ..errors import ConflictError, IntegrityError, NotFoundError, ValidationError
from . import _tables
from ._checks import (
    check_digest,
    check_filename,
    check_flag,
    check_lineage,
    check_message,
    check_path,
    check_version_ref,
    corrupt,
    load_json,
    stored,
)
from ._checks import field as stored_field
from ._manifest import ARTIFACT, TABLE, FileEntry, Manifest, Part
from ._store import ObjectStore

if TYPE_CHECKING:
    import pandas

    from ._diff import DatasetDiff

__all__ = ["DEFAULT_TABLE", "FILE_COLUMN", "Dataset", "check_filename"]

DEFAULT_TABLE = "data"
FILE_COLUMN = "__file"  # which table a row came from, when a read combines several
MIN_PREFIX = 6
_MAX_RETRIES = 1000
_LOG_ENTRY = re.compile(r"[0-9]+\.json")
_VERSION_KEYS = ("version_id", "dataset", "message", "created_at", "parent_version_id", "rows",
                 "files", "lineage", "is_latest_version", "error")


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

    def _source(self, relpath: str) -> str:
        """How an error names a stored file."""
        return f"{relpath} in {self.store.url!r}"

    def _log_entries(self) -> list[tuple[int, str | IntegrityError]]:
        """(sequence, version id or the reason its commit record is unreadable), oldest first.

        Log entries never change once written, so each is read once per process: a
        commit costs one listing plus the entries that are new since the last look.
        """
        cache = self.store.log_cache.setdefault(self.name, {})
        entries: list[tuple[int, str | IntegrityError]] = []
        for entry in self.store.listdir(f"datasets/{self.name}/log"):
            if not _LOG_ENTRY.fullmatch(entry):
                continue
            seq = int(entry[:-5])
            if seq not in cache:
                try:
                    cache[seq] = self._read_log_entry(f"datasets/{self.name}/log/{entry}")
                except IntegrityError as exc:
                    entries.append((seq, exc))
                    continue
            entries.append((seq, cache[seq]))
        return entries

    def _read_log_entry(self, relpath: str) -> str:
        source = self._source(relpath)
        try:
            body = load_json(self.store.read(relpath), source)
        except FileNotFoundError:
            raise corrupt(source, "it vanished while being read") from None
        version_id: str = stored(source, check_digest, stored_field(body, "version_id", str,
                                                                      source))
        parent = stored_field(body, "parent", str, source, optional=True)
        if parent is not None:
            stored(source, check_digest, parent)
        return version_id

    def _log(self) -> list[tuple[int, str]]:
        """(sequence, version id) of every committed version, oldest first.

        Raises:
            IntegrityError: a commit record is unreadable (naming its file).
        """
        entries = []
        for seq, vid in self._log_entries():
            if isinstance(vid, IntegrityError):
                raise vid
            entries.append((seq, vid))
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
        manifest = self._load_manifest(full)
        self.store.remember_manifest(full, manifest)
        return manifest

    def _load_manifest(self, full: str) -> Manifest:
        """Read and check a manifest from storage (never from the cache)."""
        relpath = f"datasets/{self.name}/manifests/{full}.json"
        try:
            data = self.store.read(relpath)
        except FileNotFoundError:
            raise IntegrityError(f"dataset {self.name!r} version {full}: its manifest "
                                 f"{self._source(relpath)} is missing") from None
        return Manifest.from_bytes(data, full, f"dataset {self.name!r} version {full}",
                                   self.name, self._source(relpath))

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
        """Every version, newest first: version_id, message, created_at, rows, is_latest_version.

        A version whose commit record or manifest is unreadable is listed with its other
        fields None and ``error`` saying which file is corrupt (a warning is issued too);
        ``error`` is None for every readable version.
        """
        out = []
        for position, (_, vid) in enumerate(reversed(self._log_entries())):
            try:
                if isinstance(vid, IntegrityError):
                    raise vid
                manifest = self._manifest(vid)
            except IntegrityError as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
                out.append({**dict.fromkeys(_VERSION_KEYS), "dataset": self.name,
                            "version_id": None if isinstance(vid, IntegrityError) else vid,
                            "is_latest_version": position == 0, "error": str(exc)})
                continue
            out.append({**self._version_info(vid, manifest), "lineage": manifest.lineage,
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
        check_message(message)
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
                "files": sorted(manifest.files), "is_latest_version": True, "error": None}

    def _check_push(self, message: object, parent_version_id: object) -> None:
        """Reject a bad message or parent before any object is uploaded."""
        check_message(message)
        parent = check_version_ref(parent_version_id, "parent_version_id")
        if parent is not None:
            self.resolve(parent)

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

        Raises:
            ValidationError: a bad argument, or a frame that could not be read back (duplicate
                or unnamed columns, Python objects, unions ...); nothing is stored.
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
        if there is none of that name). `lineage` maps names to JSON values.
        """
        name = check_filename(DEFAULT_TABLE if filename is None else filename)
        self._check_push(message, parent_version_id)
        stored_lineage = check_lineage(lineage)
        table = _tables.frame_to_table(dataframe)
        self._check_append(name, _tables.schema_of(table))
        entry = self._table_entry(table)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            old = files.get(name)
            if old is None:
                return {**files, name: entry}
            _appendable(name, old, entry.schema)
            parts = old.parts + entry.parts if old.rows else entry.parts
            return {**files, name: FileEntry(TABLE, parts, entry.schema)}

        return self._commit(change, message or f"Appended {entry.rows:,} rows to {name}",
                            parent_version_id, stored_lineage)

    def _check_append(self, name: str, schema: tuple[tuple[str, str], ...]) -> None:
        """Refuse rows that do not fit the head's table before any object is written."""
        cache = self.store.log_cache.get(self.name)
        head = cache[max(cache)] if cache else self._head()[1]  # _commit re-checks on a race
        old = None if head is None else self._manifest(head).files.get(name)
        if old is not None:
            _appendable(name, old, schema)

    def push_file(self, file: str | Path, filename: str | None = None, message: str | None = None,
                  parent_version_id: str | None = None) -> dict[str, Any]:
        """Push a file: CSV, Parquet and JSONL become tables, anything else an artifact."""
        path = check_path(file, "file")
        is_table = path.suffix.lower() in _tables.SUPPORTED_TABLE_SUFFIXES
        name = check_filename((path.stem if is_table else path.name) if filename is None
                              else filename, TABLE if is_table else ARTIFACT)
        if path.is_dir():
            raise ValidationError(f"{str(path)!r} is a folder; push_file() takes one file")
        if not path.is_file():
            raise NotFoundError(f"no file {str(path)!r} to push")
        self._check_push(message, parent_version_id)
        if is_table:
            entry = self._file_table_entry(path)
        else:
            data = _tables.read_file(path)
            entry = FileEntry(ARTIFACT, (Part(self.store.put_object(data), 0, len(data)),))
        return self._commit(lambda files: {**files, name: entry},
                            message or f"Pushed file {name}", parent_version_id)

    def _file_table_entry(self, path: Path) -> FileEntry:
        """A CSV, JSONL or Parquet file as a table (Parquet is stored byte for byte)."""
        parquet = _tables.parquet_entry(path)
        if parquet is None:
            table = _tables.file_to_table(path)
            assert table is not None
            return self._table_entry(table)
        data, rows, schema = parquet
        return FileEntry(TABLE, (Part(self.store.put_object(data), rows, len(data)),), schema)

    def delete_file(self, filename: str, message: str | None = None,
                    parent_version_id: str | None = None) -> dict[str, Any]:
        """A new version without `filename`."""
        name = check_filename(filename)
        self._check_push(message, parent_version_id)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            if name not in files:
                raise NotFoundError(f"dataset {self.name!r} has no file {name!r}")
            return {k: v for k, v in files.items() if k != name}

        return self._commit(change, message or f"Deleted file {name}", parent_version_id)

    def rollback(self, version_id: str) -> dict[str, Any]:
        """A new version whose content is that of `version_id` (history is kept)."""
        check_version_ref(version_id, optional=False)
        full = self.resolve(version_id)
        files = self.manifest(full).files
        return self._commit(lambda _: dict(files), f"Rollback dataset to version: {full}", None)

    # -- reading ------------------------------------------------------------------------------

    def read_arrow(self, version_id: str | None = None, filename: str | None = None,
                   verify: bool = True) -> pa.Table:
        """A table of a version as Arrow; objects are hash-checked unless `verify` is False.

        Without `filename`, a version's only table; several tables of one schema are read
        together with a ``__file`` column naming each row's table.

        Raises:
            ValidationError: the version has no table, or tables of different schemas (named).
            NotFoundError: no table `filename`.
        """
        check_version_ref(version_id)
        check_flag(verify, "verify")
        if filename is not None:
            check_filename(filename)
        full = self.resolve(version_id)
        tables = {k: v for k, v in self.manifest(full).files.items() if v.kind == TABLE}
        if filename is not None:
            if filename not in tables:
                raise NotFoundError(f"version {full[:12]} of {self.name!r} has no table "
                                    f"{filename!r} (tables: {sorted(tables)})")
            return self._read_table(full, filename, tables[filename], verify)
        if not tables:
            raise ValidationError(f"version {full[:12]} of {self.name!r} has no tables; read its "
                                  "artifacts with read_artifact()")
        if len(tables) == 1:
            name, entry = next(iter(tables.items()))
            return self._read_table(full, name, entry, verify)
        return self._read_combined(full, tables, verify)

    def _read_table(self, full: str, name: str, entry: FileEntry, verify: bool) -> pa.Table:
        context = f"dataset {self.name!r} version {full} file {name!r}"
        parts = []
        for part in entry.parts:
            data = self.store.read_object(part.object, context, verify)
            parts.append(_tables.read_parquet(data, context))
        if not parts:
            return pa.table({})
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def _read_combined(self, full: str, tables: dict[str, FileEntry], verify: bool) -> pa.Table:
        """Tables of one schema as one, with a ``__file`` column (sorted by file name)."""
        schemas = {name: entry.schema for name, entry in sorted(tables.items())}
        if len(set(schemas.values())) > 1:
            listing = "; ".join(f"{n} ({', '.join(f'{c}: {t}' for c, t in s) or 'no columns'})"
                                for n, s in schemas.items())
            raise ValidationError(f"version {full[:12]} of {self.name!r} has tables of different "
                                  f"schemas: {listing}; read one with filename=")
        if any(column == FILE_COLUMN for column, _ in next(iter(schemas.values()))):
            raise ValidationError(f"version {full[:12]} of {self.name!r} has tables "
                                  f"{sorted(tables)} with a {FILE_COLUMN!r} column of their own; "
                                  "read one with filename=")
        parts = []
        for name in schemas:
            table = self._read_table(full, name, tables[name], verify).replace_schema_metadata()
            parts.append(table.append_column(FILE_COLUMN, pa.array([name] * table.num_rows,
                                                                   pa.string())))
        return pa.concat_tables(parts)

    def read(self, version_id: str | None = None, filename: str | None = None) -> pl.DataFrame:
        """A table of a version (default: the latest version, its only table) as polars.

        Several tables of one schema come back together (see `read_arrow`).
        """
        frame = pl.from_arrow(self.read_arrow(version_id, filename))
        assert isinstance(frame, pl.DataFrame)
        return frame

    def read_pandas(self, version_id: str | None = None,
                    filename: str | None = None) -> pandas.DataFrame:
        """A table of a version as pandas (needs pandas installed)."""
        return self.read_arrow(version_id, filename).to_pandas()

    def read_artifact(self, filename: str, version_id: str | None = None) -> bytes:
        """The bytes of an artifact (or of any file's single object), hash-checked."""
        name = check_filename(filename)
        check_version_ref(version_id)
        full = self.resolve(version_id)
        entry = self.manifest(full).files.get(name)
        if entry is None:
            raise NotFoundError(f"version {full[:12]} of {self.name!r} has no file {filename!r}")
        return b"".join(self.store.read_object(p.object, f"dataset {self.name!r} version {full}")
                        for p in entry.parts)

    def verify(self, version_id: str | None = None) -> dict[str, Any]:
        """Check every object of a version (default: all versions) against its hash.

        Returns:
            ``{"versions": n, "objects": n, "bytes": n}`` when everything is intact.

        Raises:
            IntegrityError: naming the dataset, version and object (or stored file) that failed.
        """
        check_version_ref(version_id)
        ids = [self.resolve(version_id)] if version_id is not None else [v for _, v in self._log()]
        seen: set[str] = set()
        total = 0
        for vid in ids:  # manifests are re-read from storage, not trusted from the cache
            manifest = self._load_manifest(vid)
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


def _appendable(name: str, old: FileEntry, schema: tuple[tuple[str, str], ...]) -> None:
    if old.kind != TABLE or (old.rows and old.schema != schema):
        raise ValidationError(f"cannot append to {name!r}: its schema is {dict(old.schema)}, the "
                              f"new rows have {dict(schema)}")


def validate_dataset_name(name: object) -> str:
    return check_name(name, "dataset name")

