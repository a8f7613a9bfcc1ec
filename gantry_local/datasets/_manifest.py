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
from ._checks import check_digest, check_filename, corrupt, load_json, stored, stored_time
from ._checks import field as stored_field
from ._store import sha256_hex

__all__ = ["FileEntry", "Manifest", "Part"]

TABLE, ARTIFACT = "table", "artifact"


@dataclass(frozen=True)
class Part:
    """One content-addressed object holding some rows of a table (or a whole artifact)."""

    object: str
    rows: int
    bytes: int
    added_in: int | None = None  # the version number that added it; 0 = unknown (older manifests)
    labelled: int | None = None  # rows with a feedback value, for tables with feedback columns

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"object": self.object, "rows": self.rows, "bytes": self.bytes}
        if self.added_in:
            body["added_in"] = self.added_in
        if self.labelled is not None:
            body["labelled"] = self.labelled
        return body


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

    @property
    def labelled(self) -> int | None:
        """Rows holding a feedback value (None when the table has no feedback column or the
        count was not recorded)."""
        counts = [p.labelled for p in self.parts]
        return None if not counts or None in counts else sum(c for c in counts if c is not None)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "parts": [p.to_json() for p in self.parts],
                "schema": [list(col) for col in self.schema]}

    @staticmethod
    def from_json(data: object, source: str) -> FileEntry:
        """An entry read from a stored manifest, every field checked (IntegrityError)."""
        if not isinstance(data, dict):
            raise corrupt(source, "it is not a JSON object")
        kind = stored_field(data, "kind", str, source)
        if kind not in (TABLE, ARTIFACT):
            raise corrupt(source, f"its kind is {kind[:40]!r}, not {TABLE!r} or {ARTIFACT!r}")
        parts = stored_field(data, "parts", list, source)
        schema = stored_field(data, "schema", list, source, optional=True) or []
        if not all(isinstance(c, list) and len(c) == 2 and all(isinstance(x, str) for x in c)
                   for c in schema):
            raise corrupt(source, "its schema is not a list of [name, type] pairs")
        return FileEntry(kind, tuple(_part(p, source) for p in parts),
                         tuple((name, type_) for name, type_ in schema))


def _part(data: object, source: str) -> Part:
    if not isinstance(data, dict):
        raise corrupt(source, "a part is not a JSON object")
    digest = stored(source, check_digest, stored_field(data, "object", str, source))
    rows, size = (stored_field(data, key, int, source) for key in ("rows", "bytes"))
    added_in = stored_field(data, "added_in", int, source, optional=True) or 0
    labelled = stored_field(data, "labelled", int, source, optional=True)
    if min(rows, size, added_in, labelled or 0) < 0 or (labelled or 0) > rows:
        raise corrupt(source, "a part has a negative row, byte or version count, or more "
                      "labelled rows than rows")
    return Part(digest, rows, size, added_in, labelled)


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

    @property
    def labelled_rows(self) -> int | None:
        """Rows holding a feedback value over the version's tables (None when none has a
        feedback column, or the version predates the count)."""
        counts = [e.labelled for e in self.files.values() if e.kind == TABLE and e.parts
                  and e.parts[0].labelled is not None]
        return None if not counts or None in counts else sum(c for c in counts if c is not None)

    @staticmethod
    def from_bytes(data: bytes, expected_id: str, context: str, dataset: str | None = None,
                   source: str | None = None) -> Manifest:
        """Parse a stored manifest, checking that it hashes to `expected_id`.

        Every name and hash in it is checked as strictly as a user's (they reach paths):
        anything else is an `IntegrityError` naming the file (`source`).
        """
        actual = sha256_hex(data)
        if actual != expected_id:
            raise IntegrityError(f"{context}: manifest {source or expected_id} is corrupt (its "
                                 f"bytes hash to {actual}); restore it from a copy")
        where = source or f"{context}: manifest {expected_id}"
        body = load_json(data, where)
        name = stored_field(body, "dataset", str, where)
        if dataset is not None and name != dataset:
            raise corrupt(where, f"it belongs to dataset {name[:60]!r}, not {dataset!r}")
        parent = stored_field(body, "parent", str, where, optional=True)
        if parent is not None:
            stored(where, check_digest, parent)
        files = stored_field(body, "files", dict, where)
        entries = {}
        for file_name, raw in files.items():
            entry = FileEntry.from_json(raw, f"{where} (file {str(file_name)[:60]!r})")
            entries[stored(where, check_filename, file_name, entry.kind)] = entry
        lineage = stored_field(body, "lineage", dict, where, optional=True) or {}
        return Manifest(name, parent, entries, stored_field(body, "message", str, where),
                        stored_time(body, "created_at", where), lineage)
