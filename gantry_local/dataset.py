"""Gantry's ``gantry.dataset`` module: ``import gantry_local.dataset as gdataset``.

Thin functions over the default workspace (`gantry_local.init`), with Gantry's names,
argument order and defaults. ``GantryDataset`` is our `Dataset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._default import get_workspace
from .datasets import Dataset, Split, content_keys

__all__ = ["Dataset", "GantryDataset", "Split", "content_keys", "create_dataset",
           "delete_dataset", "get_dataset", "list_dataset_versions", "list_datasets",
           "restore_dataset", "set_working_directory"]

GantryDataset = Dataset


def set_working_directory(working_dir: str | Path) -> None:
    """Where `GantryDataset.pull` puts local copies (default: ``$GANTRY_DATASET_WORKING_DIR``,
    else the current directory)."""
    get_workspace().set_working_directory(working_dir)


def create_dataset(name: str, bucket_name: str | None = None,
                   app_name: str | None = None) -> Dataset:
    """Create an empty dataset; `app_name` ties it to an application, `bucket_name` is unused."""
    return get_workspace().create_dataset(name, bucket_name, app_name)


def get_dataset(name: str, app_name: str | None = None) -> Dataset:
    """The dataset called `name` (of application `app_name` when given)."""
    return get_workspace().get_dataset(name, app_name)


def list_dataset_versions(dataset_name: str) -> list[dict[str, Any]]:
    """The versions of a dataset, newest first."""
    return get_workspace().list_dataset_versions(dataset_name)


def list_datasets(include_deleted: bool = False,
                  model_node_id: str | None = None) -> list[dict[str, Any]]:
    """Every dataset, sorted by name (`model_node_id` narrows to one application's)."""
    listing = get_workspace().list_datasets(include_deleted)
    if model_node_id is None:
        return listing
    return [d for d in listing if d.get("app_name") == model_node_id]


def delete_dataset(name: str) -> None:
    """Mark a dataset deleted (hidden from lists; `restore_dataset` brings it back)."""
    get_workspace().delete_dataset(name)


def restore_dataset(name: str) -> Dataset:
    """Bring back a deleted dataset (ours)."""
    return get_workspace().restore_dataset(name)
