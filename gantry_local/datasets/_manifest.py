"""Manifests: the immutable description of one dataset version, and its content-derived id.

A manifest names its parent version, every file of the version with the sha256 of each
object holding it, row counts and schemas, the message, when it was made, and lineage.
The version id is the sha256 of the manifest's canonical JSON, so the same id always
means the same bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import IntegrityError
from ._store import sha256_hex

__all__ = ["FileEntry", "Manifest", "Part"]

TABLE, ARTIFACT = "table", "artifact"


@dataclass(frozen=True)
class Part:
    """One content-addressed object holding some rows of a table (or a whole artifact)."""

    object: str
    rows: int
    bytes: int

    def to_json(self) -> dict[str, Any]:
        return {"object": self.object, "rows": self.rows, "bytes": self.bytes}


@dataclass(frozen=True)
class FileEntry:
    """A named file of a version: a table made of Parquet parts, or an opaque artifact."""

    kind: str
    parts: tuple[Part, ...]
    schema: tuple[tuple[str, str], ...] = ()

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.parts)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": [p.to_json() for p in self.parts],
                "schema": [list(col) for col in self.schema]}

    @staticmethod
    def from_json(data: dict[str, Any]) -> FileEntry:
        return FileEntry(data["kind"], tuple(Part(**p) for p in data["parts"]),
                         tuple((name, kind) for name, kind in data["schema"]))


@dataclass(frozen=True)
class Manifest:
    """One dataset version. `version_id` is derived from everything else."""

    dataset: str
    parent: str | None
    files: dict[str, FileEntry]
    message: str
    created_at: str
    lineage: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """Canonical JSON: sorted keys, no spaces, UTF-8. Its hash is the version id."""
        body = {"dataset": self.dataset, "parent": self.parent, "message": self.message,
                "created_at": self.created_at, "lineage": self.lineage,
                "files": {name: entry.to_json() for name, entry in sorted(self.files.items())}}
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    @property
    def version_id(self) -> str:
        return sha256_hex(self.to_bytes())

    @property
    def rows(self) -> dict[str, int]:
        return {name: e.rows for name, e in sorted(self.files.items()) if e.kind == TABLE}

    @staticmethod
    def from_bytes(data: bytes, expected_id: str, context: str) -> Manifest:
        """Parse a stored manifest, checking that it hashes to `expected_id`."""
        actual = sha256_hex(data)
        if actual != expected_id:
            raise IntegrityError(f"{context}: manifest {expected_id} is corrupt (hashes to "
                                 f"{actual})")
        body = json.loads(data)
        return Manifest(body["dataset"], body["parent"],
                        {name: FileEntry.from_json(e) for name, e in body["files"].items()},
                        body["message"], body["created_at"], body.get("lineage", {}))
