"""The datasets of one storage root: create, find, list, soft-delete, restore, garbage-collect."""

from __future__ import annotations

import logging
import os
import time
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..errors import (
    AlreadyExistsError,
    IntegrityError,
    NotFoundError,
    StorageError,
    ValidationError,
)
from ._checks import check_flag, check_path, corrupt, field, load_json, stored_dataset_name
from ._store import ObjectStore, object_path
from .dataset import Dataset, dataset_record, validate_dataset_name

__all__ = ["DatasetRegistry"]

WORKING_DIR_ENV = "GANTRY_DATASET_WORKING_DIR"
_log = logging.getLogger("gantry_local")


class DatasetRegistry:
    """Every dataset under one fsspec root (the workspace's `storage`)."""

    def __init__(self, store: ObjectStore, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._working_dir: Path | None = None

    def set_working_directory(self, path: str | Path) -> None:
        """Where `pull` materialises datasets (else ``$GANTRY_DATASET_WORKING_DIR``, else cwd)."""
        folder = check_path(path, "working directory")
        if folder.exists() and not folder.is_dir():
            raise ValidationError(f"working directory {str(folder)!r} is a file, not a folder")
        self._working_dir = folder

    def working_directory(self) -> Path:
        if self._working_dir is not None:
            return self._working_dir
        return Path(os.environ.get(WORKING_DIR_ENV) or Path.cwd())

    def _dataset(self, name: str, app_name: str | None) -> Dataset:
        return Dataset(self.store, name, self._clock, app_name, self.working_directory)

    def create_dataset(self, name: str, bucket_name: str | None = None,
                       app_name: str | None = None) -> Dataset:
        """Create an empty dataset (no versions yet); Gantry's argument order.

        `bucket_name` is accepted and unused: every dataset lives under the workspace's
        storage root (``storage="s3://bucket/prefix"`` puts them in a bucket).

        Raises:
            ValidationError: bad name. AlreadyExistsError: the name is taken (even if deleted).
        """
        validate_dataset_name(name)
        if bucket_name is not None and not isinstance(bucket_name, str):
            raise ValidationError(f"bucket_name must be a string or None, got "
                                  f"{type(bucket_name).__name__}")
        if bucket_name is not None:
            _log.info("create_dataset(bucket_name=%r): unused; datasets live under the "
                      "workspace's storage root %s", bucket_name, self.store.url)
        if app_name is not None:
            validate_dataset_name(app_name)
        body = dataset_record(name, app_name, self._clock)
        if not self.store.create_exclusive(f"datasets/{name}/dataset.json", body):
            state = " (it is deleted: restore_dataset() brings it back)" if self.store.exists(
                f"datasets/{name}/deleted.json") else ""
            raise AlreadyExistsError(f"dataset {name!r} already exists{state}")
        return self._dataset(name, app_name)

    def _info(self, name: str) -> dict[str, Any]:
        """The checked ``dataset.json`` of `name` (IntegrityError naming it when corrupt)."""
        validate_dataset_name(name)
        relpath = f"datasets/{name}/dataset.json"
        try:
            data = self.store.read(relpath)
        except FileNotFoundError:
            raise NotFoundError(f"no dataset {name!r} in {self.store.url!r}") from None
        source = f"{relpath} in {self.store.url!r}"
        info = load_json(data, source)
        if stored_dataset_name(field(info, "name", str, source), source) != name:
            raise corrupt(source, f"it names dataset {str(info['name'])[:60]!r}, not {name!r}")
        app_name = field(info, "app_name", str, source, optional=True)
        if app_name is not None:
            stored_dataset_name(app_name, source)
        field(info, "created_at", str, source, optional=True)
        return info

    def get_dataset(self, name: str, app_name: str | None = None,
                    include_deleted: bool = False) -> Dataset:
        """The dataset called `name` (of application `app_name` when given, as Gantry).

        Raises:
            NotFoundError: there is none, it belongs to another application, or it is
                deleted (unless `include_deleted`).
        """
        check_flag(include_deleted, "include_deleted")
        if app_name is not None:
            validate_dataset_name(app_name)
        info = self._info(name)
        if app_name is not None and info.get("app_name") != app_name:
            raise NotFoundError(f"dataset {name!r} does not belong to application "
                                f"{app_name!r} (its application: {info.get('app_name')!r})")
        dataset = self._dataset(name, info.get("app_name"))
        if not include_deleted and dataset.deleted:
            raise NotFoundError(f"dataset {name!r} is deleted; restore_dataset({name!r}) brings "
                                "it back")
        return dataset

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every dataset, sorted by name: name, app_name, created_at, latest version, deleted.

        A dataset whose stored files are corrupt (or whose folder name is not a dataset
        name) is listed with ``error`` saying which file, its other fields None, and a
        warning is issued; ``error`` is None for every readable dataset.
        """
        check_flag(include_deleted, "include_deleted")
        out = []
        for name in self.store.listdir("datasets"):
            if not self.store.exists(f"datasets/{name}/dataset.json"):
                continue
            try:
                entry = self._listing(name, include_deleted)
            except IntegrityError as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
                entry = {"name": name, "dataset_id": name, "app_name": None, "created_at": None,
                         "latest_version_id": None, "versions": None, "deleted": None,
                         "error": str(exc)}
            if entry is not None:
                out.append(entry)
        return out

    def _listing(self, name: str, include_deleted: bool) -> dict[str, Any] | None:
        source = f"datasets/{name}/ in {self.store.url!r}"
        try:
            validate_dataset_name(name)
        except ValidationError as exc:
            raise corrupt(source, f"its folder name is not a dataset name ({exc})") from None
        dataset = self._dataset(name, None)
        deleted = dataset.deleted
        if deleted and not include_deleted:
            return None
        info = self._info(name)
        entry = {"name": name, "dataset_id": name, "app_name": info.get("app_name"),
                 "created_at": info.get("created_at"), "latest_version_id": None,
                 "versions": None, "deleted": deleted, "error": None}
        try:
            entry["versions"], entry["latest_version_id"] = dataset._head()
        except IntegrityError as exc:  # what dataset.json says is still worth listing
            warnings.warn(str(exc), RuntimeWarning, stacklevel=3)
            entry["error"] = str(exc)
        return entry

    def delete_dataset(self, name: str) -> None:
        """Soft-delete a dataset: hidden from lists, its data kept, restorable."""
        self.get_dataset(name).delete()

    def restore_dataset(self, name: str) -> Dataset:
        """Undo `delete_dataset`."""
        dataset = self.get_dataset(name, include_deleted=True)
        if dataset.deleted:
            self.store.delete(f"datasets/{name}/deleted.json")
        return dataset

    def list_dataset_versions(self, name: str) -> list[dict[str, Any]]:
        """The versions of a dataset, newest first (see `Dataset.list_versions`)."""
        return self.get_dataset(name).list_versions()

    def gc(self, dry_run: bool = True, grace: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Delete objects that no committed version references, and temp files of failed writes.

        Deleted datasets count as referencing their objects (they can be restored). Objects
        and temp files younger than `grace` (by the storage's own timestamps) are kept, so a
        push in flight is never robbed of them.

        Returns:
            ``{"unreferenced": [hashes], "bytes": n, "temp_files": [paths], "temp_bytes": n,
            "deleted": bool}``: what was (or, in a dry run, would be) deleted.

        Raises:
            IntegrityError: a commit record or manifest is unreadable, so what it references
                is unknown: nothing is deleted until it is restored or removed.
        """
        check_flag(dry_run, "dry_run")
        if not isinstance(grace, timedelta) or grace < timedelta(0):
            raise ValidationError(f"grace must be a non-negative timedelta, got {grace!r}")
        referenced = self._referenced()
        cutoff = time.time() - grace.total_seconds()
        candidates = [d for d in sorted(set(self.store.walk_objects()) - referenced)
                      if _modified(self.store.info(object_path(d))) <= cutoff]
        if candidates and not dry_run:
            # A push may have reused one of them (refreshing its time) and committed since
            # the first look: read the commit logs again before deleting anything.
            still = self._referenced()
            candidates = [d for d in candidates if d not in still]
        unreferenced: list[str] = []
        size = 0
        for digest in candidates:
            removed = self._collect(digest, cutoff, dry_run)
            if removed is not None:
                unreferenced.append(digest)
                size += removed
        temps = {p: i for p, i in sorted(self.store.temp_files().items())
                 if _modified(i) <= cutoff}
        if not dry_run:
            for path in temps:
                self.store.delete(path)
        return {"unreferenced": unreferenced, "bytes": size, "temp_files": list(temps),
                "temp_bytes": sum(int(i.get("size") or 0) for i in temps.values()),
                "deleted": not dry_run}

    def _collect(self, digest: str, cutoff: float, dry_run: bool) -> int | None:
        """Delete one unreferenced object unless a push refreshed it; its size, or None.

        Locally the object is first renamed aside, then its time looked at: a push that
        touched it before the rename is seen and the object put back, and one after finds
        it missing and writes it again, so a committed version never loses its object.
        """
        path = object_path(digest)
        try:
            info = self.store.info(path)
        except StorageError:
            return None  # gone meanwhile (another gc)
        if _modified(info) > cutoff:
            return None
        if dry_run:
            return int(info.get("size") or 0)
        if not self.store.is_local:
            self.store.delete(path)
            return int(info.get("size") or 0)
        return self.store.delete_unless_touched(path, cutoff)

    def _referenced(self) -> set[str]:
        """Every object any committed version of any dataset (deleted ones too) references."""
        referenced: set[str] = set()
        for name in self.store.listdir("datasets"):
            dataset = self._dataset(name, None)
            for _, vid in dataset._log():
                for entry in dataset.manifest(vid).files.values():
                    referenced.update(p.object for p in entry.parts)
        return referenced


def _modified(info: dict[str, Any]) -> float:
    """Seconds since the epoch when an object was written; +inf (keep it) when unknown."""
    for key in ("mtime", "LastModified", "created", "last_modified"):
        value = info.get(key)
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, datetime):
            return value.timestamp() if value.tzinfo else value.replace(
                tzinfo=timezone.utc).timestamp()
    return float("inf")

