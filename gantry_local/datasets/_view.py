"""What a dataset's helper modules use of the `Dataset` they are handed (a Protocol).

`dataset.Dataset` is the one implementation. It imports its helpers (`_diff`, `_workdir`,
`_split`, `_feedback`, `_hf`), so they name this protocol instead of importing it back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from ._manifest import FileEntry, Manifest
from ._store import ObjectStore

__all__ = ["DatasetView"]


class DatasetView(Protocol):
    """The parts of a `Dataset` its helpers read and commit through."""

    name: str
    store: ObjectStore
    _working_directory: Callable[[], Path]

    def manifest(self, version_id: str | None = None) -> Manifest:
        """The manifest of a version (default: the latest), hash-checked."""

    def resolve(self, version_id: str | None = None) -> str:
        """The full id of a version given by a unique prefix."""

    def read_arrow(self, version_id: str | None = None, filename: str | None = None,
                   verify: bool = True) -> pa.Table:
        """A table of a version as Arrow."""

    def read_artifact(self, filename: str, version_id: str | None = None) -> bytes:
        """The bytes of an artifact, hash-checked."""

    def _log(self) -> list[tuple[int, str]]:
        """(sequence, version id) of every committed version, oldest first."""

    def _head(self) -> tuple[int, str | None]:
        """The latest (sequence, version id)."""

    def _commit(self, change: Callable[[dict[str, FileEntry]], dict[str, FileEntry]],
                message: str, parent_version_id: str | None,
                lineage: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Apply `change` to the head's files and commit it as a new version."""

    def _version_info(self, version_id: str, manifest: Manifest) -> dict[str, Any]:
        """A version's details, as the listings return them."""

    def _table_entry(self, table: pa.Table) -> FileEntry:
        """Store `table` as one object and describe it."""

    def _read_table(self, full: str, name: str, entry: FileEntry, verify: bool) -> pa.Table:
        """One table file of version `full`."""
