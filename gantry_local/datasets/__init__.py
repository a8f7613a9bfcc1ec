"""Versioned datasets: content-addressed Parquet snapshots on any fsspec storage."""

from __future__ import annotations

from ._diff import DatasetDiff, TableDiff
from ._registry import DatasetRegistry
from ._split import Split, content_keys
from .dataset import Dataset

__all__ = ["Dataset", "DatasetDiff", "DatasetRegistry", "Split", "TableDiff", "content_keys"]
