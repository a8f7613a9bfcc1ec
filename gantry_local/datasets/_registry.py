"""The datasets of one storage root: create, find, list, soft-delete, restore, garbage-collect."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..clock import Clock
from ..errors import AlreadyExistsError, NotFoundError, ValidationError
from ._store import ObjectStore
from .dataset import Dataset, validate_dataset_name

__all__ = ["DatasetRegistry"]

WORKING_DIR_ENV = "GANTRY_DATASET_WORKING_DIR"


class DatasetRegistry:
    """Every dataset under one fsspec root (the workspace's `storage`)."""

    def __init__(self, store: ObjectStore, clock: Clock) -> None:
        self.store = store
        self._clock = clock
        self._working_dir: Path | None = None

    def set_working_directory(self, path: str | Path) -> None:
        """Where `pull` materialises datasets (else ``$GANTRY_DATASET_WORKING_DIR``, else cwd)."""
        self._working_dir = Path(path)

    def working_directory(self) -> Path:
        if self._working_dir is not None:
            return self._working_dir
        return Path(os.environ.get(WORKING_DIR_ENV) or Path.cwd())

    def _dataset(self, name: str, app_name: str | None) -> Dataset:
        return Dataset(self.store, name, self._clock, app_name, self.working_directory)

    def create_dataset(self, name: str, app_name: str | None = None) -> Dataset:
        """Create an empty dataset (no versions yet).

        Raises:
            ValidationError: bad name. AlreadyExistsError: the name is taken (even if deleted).
        """
        validate_dataset_name(name)
        if app_name is not None:
            validate_dataset_name(app_name)
        body = json.dumps({"name": name, "app_name": app_name,
                           "created_at": self._clock.now().isoformat()}).encode()
        if not self.store.create_exclusive(f"datasets/{name}/dataset.json", body):
            state = " (it is deleted: restore_dataset() brings it back)" if self.store.exists(
                f"datasets/{name}/deleted.json") else ""
            raise AlreadyExistsError(f"dataset {name!r} already exists{state}")
        return self._dataset(name, app_name)

    def _info(self, name: str) -> dict[str, Any]:
        validate_dataset_name(name)
        try:
            info: dict[str, Any] = json.loads(self.store.read(f"datasets/{name}/dataset.json"))
        except FileNotFoundError:
            raise NotFoundError(f"no dataset {name!r} in {self.store.url!r}") from None
        return info

    def get_dataset(self, name: str, include_deleted: bool = False) -> Dataset:
        """The dataset called `name`.

        Raises:
            NotFoundError: there is none, or it is deleted (unless `include_deleted`).
        """
        info = self._info(name)
        dataset = self._dataset(name, info.get("app_name"))
        if not include_deleted and dataset.deleted:
            raise NotFoundError(f"dataset {name!r} is deleted; restore_dataset({name!r}) brings "
                                "it back")
        return dataset

    def list_datasets(self, include_deleted: bool = False) -> list[dict[str, Any]]:
        """Every dataset, sorted by name: name, app_name, created_at, latest version, deleted."""
        out = []
        for name in self.store.listdir("datasets"):
            if not self.store.exists(f"datasets/{name}/dataset.json"):
                continue
            dataset = self._dataset(name, None)
            deleted = dataset.deleted
            if deleted and not include_deleted:
                continue
            info = self._info(name)
            seq, head = dataset._head()
            out.append({"name": name, "app_name": info.get("app_name"),
                        "created_at": info.get("created_at"), "latest_version_id": head,
                        "versions": seq, "deleted": deleted})
        return out

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
        return self.get_dataset(name).list_versions()

    def gc(self, dry_run: bool = True, grace: timedelta = timedelta(hours=1)) -> dict[str, Any]:
        """Delete objects that no committed version of any dataset references.

        Deleted datasets count as referencing their objects (they can be restored). Objects
        younger than `grace` (by the storage's own timestamps) are kept, so a push that has
        written its objects but not yet committed is never robbed of them.

        Returns:
            ``{"unreferenced": [hashes], "bytes": n, "deleted": bool}``: what was (or, in a
            dry run, would be) deleted.
        """
        if not isinstance(dry_run, bool):
            raise ValidationError("dry_run must be True or False")
        if not isinstance(grace, timedelta) or grace < timedelta(0):
            raise ValidationError(f"grace must be a non-negative timedelta, got {grace!r}")
        referenced: set[str] = set()
        for name in self.store.listdir("datasets"):
            dataset = self._dataset(name, None)
            for _, vid in dataset._log():
                for entry in dataset.manifest(vid).files.values():
                    referenced.update(p.object for p in entry.parts)
        cutoff = time.time() - grace.total_seconds()
        unreferenced: list[str] = []
        size = 0
        for digest in sorted(set(self.store.walk_objects()) - referenced):
            path = f"objects/{digest[:2]}/{digest}"
            info = self.store.info(path)
            if _modified(info) > cutoff:
                continue
            unreferenced.append(digest)
            size += int(info.get("size") or 0)
            if not dry_run:
                self.store.delete(path)
        return {"unreferenced": unreferenced, "bytes": size, "deleted": not dry_run}


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

