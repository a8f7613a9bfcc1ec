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
import os
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from .._names import check_name
from ..clock import Clock
from ..errors import ConflictError, IntegrityError, NotFoundError, ValidationError
from . import _tables, _widen
from ._checks import (
    check_digest,
    check_filename,
    check_flag,
    check_lineage,
    check_message,
    check_path,
    check_version_ref,
    corrupt,
    encodable,
    load_json,
    stored,
)
from ._checks import field as stored_field
from ._manifest import ARTIFACT, TABLE, FileEntry, Manifest, Part
from ._store import ObjectStore, sha256_hex

if TYPE_CHECKING:
    import datasets as hf  # Hugging Face datasets (the optional hf extra)
    import pandas

    from ._diff import DatasetDiff
    from ._split import Split

__all__ = ["DEFAULT_TABLE", "FILE_COLUMN", "Dataset", "check_filename", "labelled_count",
           "table_name"]

DEFAULT_TABLE = "data"
FILE_COLUMN = "__file"  # which table a row came from, when a read combines several
MIN_PREFIX = 6
_MAX_RETRIES = 1000
_LOG_ENTRY = re.compile(r"[0-9]+\.json")
_VERSION_KEYS = ("version_id", "dataset", "message", "created_at", "parent_version_id", "rows",
                 "labelled_rows", "files", "lineage", "is_latest_version", "error")
FEEDBACK_PREFIX = "feedback."


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

    @property
    def dataset_name(self) -> str:
        """The dataset's name (Gantry's attribute)."""
        return self.name

    @property
    def workspace(self) -> str:
        """The working directory `pull` writes into (Gantry's attribute: a folder, not ours
        `Workspace`)."""
        return str(self._working_directory())

    @property
    def folder(self) -> Path:
        """Where `pull` puts this dataset: ``<working directory>/<name>``."""
        return self._working_directory() / self.name

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
        for position, (seq, vid) in enumerate(reversed(self._log_entries())):
            try:
                if isinstance(vid, IntegrityError):
                    raise vid
                manifest = self._manifest(vid)
            except IntegrityError as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
                out.append({**dict.fromkeys(_VERSION_KEYS), "dataset": self.name,
                            "version_number": seq,
                            "version_id": None if isinstance(vid, IntegrityError) else vid,
                            "is_latest_version": position == 0, "error": str(exc)})
                continue
            out.append({**self._version_info(vid, manifest), "lineage": manifest.lineage,
                        "is_latest_version": position == 0, "version_number": seq})
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
            manifest = Manifest(self.name, head, _label_new_parts(change(files), seq + 1), message,
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
                "labelled_rows": manifest.labelled_rows,
                "files": sorted(manifest.files), "is_latest_version": True, "error": None}

    def _check_push(self, message: object, parent_version_id: object) -> None:
        """Reject a bad message or parent before any object is uploaded."""
        check_message(message)
        parent = check_version_ref(parent_version_id, "parent_version_id")
        if parent is not None:
            self.resolve(parent)

    def _table_entry(self, table: pa.Table) -> FileEntry:
        digest, size = self.store.put_encoded(partial(_tables.write_parquet, table))
        return FileEntry(TABLE, (Part(digest, table.num_rows, size, None, labelled_count(table)),),
                         _tables.schema_of(table))

    def push_dataframe(self, dataframe: Any, filename: str | None = None, message: str | None = None,
                       parent_version_id: str | None = None,
                       lineage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Add or replace the table `filename` (default ``data``) in a new version.

        Other files of the version are kept. Accepts polars or pandas DataFrames and Arrow
        tables; an empty frame is a valid table. Returns the new version's details.

        Raises:
            ValidationError: a bad argument, or a frame that could not be read back (duplicate
                or unnamed columns, Python objects, unions ...); nothing is stored.
        """
        name = table_name(DEFAULT_TABLE if filename is None else filename)
        self._check_push(message, parent_version_id)
        stored_lineage = check_lineage(lineage)
        entry = self._table_entry(_tables.frame_to_table(dataframe))
        return self._commit(lambda files: {**files, name: entry},
                            message or f"Pushed table {name} ({entry.rows:,} rows)",
                            parent_version_id, stored_lineage)

    def append_dataframe(self, dataframe: Any, filename: str | None = None,
                         message: str | None = None, parent_version_id: str | None = None,
                         lineage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Append rows to table `filename` as one new Parquet object: cost independent of size.

        Rows with new columns, or without some of the table's, are taken: the table's schema
        becomes the union (its columns first, new ones after; nulls where a side lacks a
        column), and a type widens where the values convert losslessly (int to float, null
        to any type, timestamp units). Then the table's earlier parts are rewritten once at
        the union schema (a cost of the table's size, only on a schema change). A table is
        created if there is none of that name. `lineage` maps names to JSON values.

        Raises:
            ValidationError: a bad argument, or a column whose type changes without a lossless
                conversion (naming it and both types); nothing is stored.
        """
        name = table_name(DEFAULT_TABLE if filename is None else filename)
        self._check_push(message, parent_version_id)
        stored_lineage = check_lineage(lineage)
        table = _tables.frame_to_table(dataframe)
        cache = self.store.log_cache.get(self.name)
        head = cache[max(cache)] if cache else self._head()[1]  # _commit re-checks on a race
        seen = None if head is None else self._manifest(head).files.get(name)
        planned = self._appended(name, seen, table)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            old = files.get(name)
            return {**files, name: planned if old == seen else self._appended(name, old, table)}

        return self._commit(change, message or f"Appended {table.num_rows:,} rows to {name}",
                            parent_version_id, stored_lineage)

    def _appended(self, name: str, old: FileEntry | None, table: pa.Table) -> FileEntry:
        """Table `name` after appending `table` to `old`: every value is checked before any
        object is written (see `append_dataframe`)."""
        if old is not None and old.kind != TABLE:
            raise ValidationError(f"cannot append to {name!r}: it is an artifact, not a table")
        if old is None or not old.rows:
            return self._table_entry(table)
        schema = _tables.schema_of(table)
        if old.schema == schema:
            return FileEntry(TABLE, old.parts + self._table_entry(table).parts, schema)
        context = f"dataset {self.name!r} file {name!r}"

        def load(part: Part) -> pa.Table:
            stored: pa.Table = self.store.read_table_object(
                part.object, context, True, lambda data: _tables.read_parquet(data, context))
            return stored

        first = load(old.parts[0])
        union = _widen.union_schema(name, first.schema, table.schema)
        new = _widen.conform(table, union, repr(name))
        widened = _tables.schema_of(new)
        parts = old.parts
        if widened != old.schema:  # every old value is converted before anything is written
            rewritten = [_widen.conform(t, union, repr(name))
                         for t in (first, *(load(p) for p in old.parts[1:]))]
            parts = tuple(_kept_part(p, self._table_entry(t).parts[0])
                          for p, t in zip(old.parts, rewritten, strict=True))
        return FileEntry(TABLE, parts + self._table_entry(new).parts, widened)

    def push_file(self, file: Any, filename: str | None = None, message: str | None = None,
                  parent_version_id: str | None = None) -> dict[str, Any]:
        """Push a file (an open file object, as Gantry, or a path): CSV, Parquet and JSONL
        become tables (named without ``.csv``), anything else an artifact.

        Raises:
            ValidationError: a bad argument or a table file that cannot be read; nothing is
                stored. NotFoundError: no such path.
        """
        data, name = _file_content(file, filename)
        self._check_push(message, parent_version_id)
        kind = _tables.SUPPORTED_TABLE_SUFFIXES.get(Path(name).suffix.lower())
        if kind is None:
            name = check_filename(name, ARTIFACT)
            entry = FileEntry(ARTIFACT, (Part(self.store.put_object(data), 0, len(data)),))
        else:
            name = table_name(name if kind == "csv" else str(Path(name).with_suffix("")))
            entry = self._bytes_table_entry(data, kind, name)
        return self._commit(lambda files: {**files, name: entry},
                            message or f"Uploaded {name} to dataset", parent_version_id)

    def push_tabular_file(self, file: Any, filename: str | None = None,
                          message: str | None = None,
                          parent_version_id: str | None = None) -> dict[str, Any]:
        """Push a CSV file (an open file object or a path) as a table; its name must end in
        ``.csv`` (Gantry's rule).

        Raises:
            ValidationError: the name does not end in ``.csv`` or the CSV cannot be read.
        """
        data, name = _file_content(file, filename)
        if not name.endswith(".csv"):
            raise ValidationError(f"filename must end with '.csv', got {name[:60]!r}; use "
                                  "push_file() for other files")
        self._check_push(message, parent_version_id)
        table = table_name(name)
        entry = self._bytes_table_entry(data, "csv", table)
        return self._commit(lambda files: {**files, table: entry},
                            message or f"Uploaded {name} to dataset", parent_version_id)

    def push_gantry_dataframe(self, gantrydf: Any, filename: str = "") -> dict[str, Any]:
        """Store a query result (`gantry_local.query.query(...)`, or `app.query(...)`) as a
        table of a new version; the default name says the application and time range, as
        Gantry's ``GantryDataAutoSave__...`` does."""
        if not isinstance(filename, str):
            raise ValidationError(f"filename must be a string, got {type(filename).__name__}")
        if filename:
            table_name(filename)
        to_arrow = getattr(gantrydf, "to_arrow", None)
        if not callable(to_arrow) or not isinstance(getattr(gantrydf, "application", None), str):
            raise ValidationError(f"push_gantry_dataframe() takes a GantryDataFrame (a query "
                                  f"result), got {type(gantrydf).__name__}")
        table = to_arrow()
        name = table_name(filename) if filename else _autosave_name(gantrydf, table)
        entry = self._table_entry(_tables.frame_to_table(table))
        return self._commit(lambda files: {**files, name: entry},
                            f"Pushed {entry.rows:,} records of {getattr(gantrydf, 'application', '?')}"
                            f" as {name}", None)

    def _bytes_table_entry(self, data: bytes, kind: str, name: str) -> FileEntry:
        """A table from a file's bytes (Parquet is stored byte for byte)."""
        if kind == "parquet":
            rows, schema, table = _tables.parquet_meta(data, repr(name))
            return FileEntry(TABLE, (Part(self.store.put_object(data), rows, len(data), None,
                                          labelled_count(table)),), schema)
        return self._table_entry(_tables.bytes_to_table(data, kind, repr(name)))

    def delete_file(self, filename: str, message: str | None = None,
                    parent_version_id: str | None = None) -> dict[str, Any]:
        """A new version without `filename`."""
        check_filename(filename)
        self._check_push(message, parent_version_id)

        def change(files: dict[str, FileEntry]) -> dict[str, FileEntry]:
            name = _lookup(files, filename)
            if name not in files:
                raise NotFoundError(f"dataset {self.name!r} has no file {name!r}")
            return {k: v for k, v in files.items() if k != name}

        return self._commit(change, message or f"Deleted file {filename}", parent_version_id)

    def rollback(self, version_id: str, forced: bool = False) -> dict[str, Any]:
        """A new version whose content is that of `version_id` (history is kept).

        As in Gantry, a pulled working copy is then updated to the new version; local
        changes there refuse the rollback (`ConflictError`) unless `forced` discards them.
        """
        check_version_ref(version_id, optional=False)
        check_flag(forced, "forced")
        full = self.resolve(version_id)
        files = self.manifest(full).files
        from ._workdir import check_clean, is_pulled

        pulled = is_pulled(self)
        if pulled and not forced:
            check_clean(self)
        info = self._commit(lambda _: dict(files), f"Rollback dataset to version: {full}", None)
        if pulled:
            self.pull(info["version_id"], forced=True)
        return info

    # -- labels and splits (the improvement cycle) -----------------------------------------------

    def refresh_feedback(self, feedback: Any, version_id: str | None = None,
                         filename: str | None = None, message: str | None = None
                         ) -> dict[str, Any]:
        """A new version whose ``feedback.*`` columns hold the latest feedback.

        `feedback` is the application the rows came from (its latest feedback is queried)
        or a frame of ``__join_key`` and ``feedback.*`` columns. Rows are matched by join
        key; a row with no feedback keeps what it had. Every table (or `filename`) of the
        version is refreshed; lineage names the version refreshed and the labelled rows
        before and after.
        """
        from ._feedback import feedback_frame, refreshed_entry

        check_version_ref(version_id)
        check_message(message)
        full = self.resolve(version_id)
        manifest = self.manifest(full)
        tables = {k: v for k, v in manifest.files.items() if v.kind == TABLE}
        if filename is not None:
            name = _lookup(tables, check_filename(filename))
            if name not in tables:
                raise NotFoundError(f"version {full[:12]} of {self.name!r} has no table "
                                    f"{filename!r} (tables: {sorted(tables)})")
            tables = {name: tables[name]}
        if not tables:
            raise ValidationError(f"version {full[:12]} of {self.name!r} has no tables")
        latest = feedback_frame(feedback)
        refreshed = {name: refreshed_entry(self, full, name, entry, latest)
                     for name, entry in tables.items()}
        after = Manifest(self.name, full, {**manifest.files, **refreshed}, "", "").labelled_rows
        lineage = {"refreshed_feedback_of": full, "labelled_rows_before": manifest.labelled_rows,
                   "labelled_rows_after": after, "feedback_keys": latest.height}
        return self._commit(lambda files: {**dict(manifest.files), **refreshed},
                            message or f"Refreshed feedback of version {full[:12]}: "
                            f"{after if after is not None else 0:,} labelled rows (were "
                            f"{manifest.labelled_rows or 0:,})", full, lineage)

    def content_keys(self, version_id: str | None = None, fields: Sequence[str] | None = None,
                     filename: str | None = None) -> set[str]:
        """The content keys of a version's rows (see `gantry_local.datasets.content_keys`):
        rows evaluated elsewhere overlap this version when their keys meet these."""
        from ._split import content_columns, content_keys

        check_version_ref(version_id)
        table = self.read_arrow(version_id, filename)
        return set(content_keys(table, content_columns(table.column_names, fields)))

    def split(self, version_id: str | None = None, eval_fraction: float = 0.2,
              by: str = "content", seed: int = 0, train_dataset: str | None = None,
              eval_dataset: str | None = None, filename: str | None = None,
              fields: Sequence[str] | None = None) -> Split:
        """Split a version's table into a train and an evaluation dataset, deterministically.

        ``by="content"`` keeps rows with identical content (their ``inputs.*``, or `fields`)
        on one side; ``by="<column>"`` keeps each value of that column on one side. The
        parts become versions of ``<name>-train`` and ``<name>-eval`` (or the names given),
        created when missing, with lineage naming this version, the grouping and the seed.

        Both versions are committed or neither (a failing second commit takes the first back).

        Raises:
            ValidationError: a bad fraction, seed, grouping or name, or grouping columns of a
                type that cannot be read as text; nothing is stored.
            StorageError: the storage failed; nothing is stored.
        """
        from ._split import Split, push_parts, split_version

        targets = [validate_dataset_name(n) for n in (train_dataset or f"{self.name}-train",
                                                      eval_dataset or f"{self.name}-eval")]
        if targets[0] == targets[1] or self.name in targets:
            raise ValidationError(f"the train and evaluation datasets must be two datasets other "
                                  f"than {self.name!r}, got {targets}")
        train, evaluation, lineage = split_version(self, version_id, eval_fraction, by, seed,
                                                   filename, fields)
        siblings = [self._sibling(target) for target in targets]  # both usable before any push
        infos = push_parts(siblings, (train, evaluation), self.name, by, lineage)
        return Split(infos[0], infos[1], by, float(eval_fraction), seed)

    def _sibling(self, name: str) -> Dataset:
        """Another dataset of this storage root, created (for this application) if missing."""
        body = dataset_record(name, self.app_name, self._clock)
        self.store.create_exclusive(f"datasets/{name}/dataset.json", body)
        sibling = Dataset(self.store, name, self._clock, self.app_name, self._working_directory)
        if sibling.deleted:
            raise ValidationError(f"dataset {name!r} is deleted; restore it or choose another "
                                  "name")
        return sibling

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
            filename = _lookup(tables, filename)
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
            parts.append(self.store.read_table_object(
                part.object, context, verify, lambda data: _tables.read_parquet(data, context)))
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
        check_filename(filename)
        check_version_ref(version_id)
        full = self.resolve(version_id)
        files = self.manifest(full).files
        entry = files.get(_lookup(files, filename))
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
             format: str = "csv") -> dict[str, Any] | None:
        """Materialise a version under ``<working dir>/<name>/`` in Gantry's layout (tables
        as CSV, or Parquet, under ``tabular_manifests/``; see `gantry_local.datasets._workdir`).

        Refuses to overwrite local changes unless `forced` (`ConflictError`); returns the
        version's details, as Gantry does (None for a dataset with no version yet: its
        folders are made empty). The folder is `folder`.
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

    def get_huggingface_dataset(self, hf_dataset_name: str | None = None,
                                streaming: bool = False) -> hf.Dataset | hf.IterableDataset:
        """The pulled working copy's tables as a Hugging Face ``datasets.Dataset`` (an
        ``IterableDataset`` when `streaming`); needs ``gantry-local[hf]``."""
        from ._hf import from_working_copy

        return from_working_copy(self, hf_dataset_name, streaming)

    def pull_huggingface_dataset_by_version(self, version_id: str | None = None,
                                            hf_dataset_name: str | None = None,
                                            streaming: bool = False
                                            ) -> hf.Dataset | hf.IterableDataset:
        """A version's tables (default: the latest) as a Hugging Face dataset, read from
        storage without touching the working copy; needs ``gantry-local[hf]``."""
        from ._hf import from_version

        return from_version(self, version_id, hf_dataset_name, streaming)

    # -- lifecycle ----------------------------------------------------------------------------

    def delete(self) -> None:
        """Soft-delete: hidden from lists and gets, restorable with `restore_dataset`."""
        self.store.put_atomic(f"datasets/{self.name}/deleted.json",
                              json.dumps({"deleted_at": self._clock.now().isoformat()}).encode())

    @property
    def deleted(self) -> bool:
        return self.store.exists(f"datasets/{self.name}/deleted.json")


def dataset_record(name: str, app_name: str | None, clock: Clock) -> bytes:
    """The body of a new ``dataset.json``."""
    return json.dumps({"name": name, "app_name": app_name,
                       "created_at": clock.now().isoformat()}).encode()


def table_name(filename: object) -> str:
    """The stored name of a table: Gantry's ``x.csv`` is table ``x`` (pulled as ``x.csv``)."""
    name = check_filename(filename)
    stem = name[:-4] if name.lower().endswith(".csv") else name
    return check_filename(stem) if stem else name


def _lookup(files: Mapping[str, FileEntry], filename: str) -> str:
    """The stored name `filename` refers to (``x.csv`` finds table ``x``)."""
    if filename in files:
        return filename
    stem = filename[:-4] if filename.lower().endswith(".csv") else filename
    return stem if files.get(stem, None) is not None and files[stem].kind == TABLE else filename


def labelled_count(table: pa.Table) -> int | None:
    """Rows with at least one non-null ``feedback.*`` value; None without such a column."""
    columns = [c for c in table.column_names if c.startswith(FEEDBACK_PREFIX)]
    if not columns:
        return None
    valid = [pc.is_valid(table.column(name)) for name in columns]
    mask = valid[0]
    for other in valid[1:]:
        mask = pc.or_(mask, other)
    return int(pc.sum(pc.cast(mask, pa.int64())).as_py() or 0)


def _label_new_parts(files: dict[str, FileEntry], number: int) -> dict[str, FileEntry]:
    """Mark the parts this commit adds (``added_in`` None) with its version number."""
    out = {}
    for name, entry in files.items():
        if any(p.added_in is None for p in entry.parts):
            entry = FileEntry(entry.kind, tuple(
                p if p.added_in is not None else Part(p.object, p.rows, p.bytes, number,
                                                      p.labelled) for p in entry.parts),
                entry.schema)
        out[name] = entry
    return out


def _file_content(file: object, filename: object) -> tuple[bytes, str]:
    """The bytes and name of a file given as an open file object (Gantry) or a path."""
    if filename is not None and not isinstance(filename, str):
        raise ValidationError(f"filename must be a string, got {type(filename).__name__}")
    if isinstance(file, (str, os.PathLike)):
        path = check_path(file, "file")
        if path.is_dir():
            raise ValidationError(f"{str(path)!r} is a folder; push one file")
        if not path.is_file():
            raise NotFoundError(f"no file {str(path)!r} to push")
        return _tables.read_file(path), path.name if filename is None else filename
    read = getattr(file, "read", None)
    if not callable(read):
        raise ValidationError(f"file must be an open file object or a path, got "
                              f"{type(file).__name__}")
    name = os.path.basename(str(getattr(file, "name", "") or "")) if filename is None \
        else filename
    if filename is None and not name:
        raise ValidationError("this file object has no name: pass filename=")
    try:
        data = read()
    except (OSError, ValueError) as exc:
        raise ValidationError(f"cannot read the file object {name[:60]!r}: {exc}") from exc
    if isinstance(data, str):
        if not encodable(data):
            raise ValidationError(f"{name[:60]!r} holds text that is not valid UTF-8")
        data = data.encode()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValidationError(f"reading {name[:60]!r} gave {type(data).__name__}, not bytes "
                              "or text")
    return bytes(data), name


def _autosave_name(gantrydf: Any, table: pa.Table) -> str:
    """Gantry's ``GantryDataAutoSave__<id>_<start>_to_<end>`` (a content hash for the id)."""
    def when(value: Any) -> str:
        return value.strftime("%Y-%m-%d_%H:%M") if isinstance(value, datetime) else "all"

    digest = sha256_hex(_tables.parquet_bytes(table))[:12]
    return table_name(f"GantryDataAutoSave__{digest}_{when(getattr(gantrydf, 'start_time', None))}"
                      f"_to_{when(getattr(gantrydf, 'end_time', None))}")


def _kept_part(old: Part, rewritten: Part) -> Part:
    """A part rewritten at a wider schema: its rows keep the version that added them."""
    return Part(rewritten.object, rewritten.rows, rewritten.bytes, old.added_in,
                rewritten.labelled)


def validate_dataset_name(name: object) -> str:
    return check_name(name, "dataset name")

