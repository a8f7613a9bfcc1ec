"""Checks shared by what a user gives and what is read back from storage.

Names and hashes from manifests, commit records and ``dataset.json`` are held to the same
rules as a user's: they reach paths. A user's bad value is a `ValidationError`; the same
value read from storage is an `IntegrityError` naming the file it came from.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .._names import check_name
from ..errors import IntegrityError, ValidationError

__all__ = ["META", "TABLE_SUFFIXES", "check_digest", "check_filename", "check_flag",
           "check_lineage", "check_message", "check_path", "check_version_ref", "encodable",
           "stored"]

META = ".dataset_metadata"  # the working copy's own folder (Gantry's name): never a file name
TABLE_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl", ".ndjson")
MAX_FILENAME_BYTES = 200  # leaves room for ".parquet" and temp suffixes under 255
_HEX64 = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def encodable(text: str) -> bool:
    """True when `text` is valid UTF-8 text (no lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_filename(name: object, kind: str = "table") -> str:
    """A file name inside a version: a plain name that is safe as a local file name.

    Artifacts may not end in a table suffix (``.csv``, ``.parquet`` ...): the working copy
    would read them back as tables, and ``<table>.csv`` would collide with them.
    """
    if not isinstance(name, str):
        raise ValidationError(f"file name must be a string, got {type(name).__name__}")
    problem = _filename_problem(name)
    if problem is None and kind == "artifact" and name.lower().endswith(TABLE_SUFFIXES):
        problem = (f"an artifact may not end in {', '.join(TABLE_SUFFIXES)} (the working copy "
                   "reads those as tables)")
    if problem is not None:
        raise ValidationError(f"file name {name[:60]!r} is not allowed: {problem}")
    return name


def _filename_problem(name: str) -> str | None:
    if not name or name in {".", ".."}:
        return "give a non-empty plain name (not '.' or '..')"
    if "/" in name or "\\" in name:
        return "path separators are not allowed"
    if _CONTROL.search(name):
        return "control characters (NUL, newlines ...) are not allowed"
    if not encodable(name):
        return "it is not valid UTF-8 text (a lone surrogate)"
    if name == META:
        return f"{META!r} is reserved for the working copy"
    if len(name.encode()) > MAX_FILENAME_BYTES:
        return f"it is longer than {MAX_FILENAME_BYTES} bytes"
    return None


def check_digest(digest: object) -> str:
    """A sha256 as stored: 64 lowercase hex digits (ValidationError otherwise)."""
    if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
        raise ValidationError(f"{str(digest)[:80]!r} is not a sha256 (64 lowercase hex digits)")
    return digest


def check_message(message: object) -> str | None:
    """A version message: None (a default is made) or UTF-8 text."""
    if message is None:
        return None
    if not isinstance(message, str):
        raise ValidationError(f"message must be a string, got {type(message).__name__}")
    if not encodable(message):
        raise ValidationError("message is not valid UTF-8 text (it holds a lone surrogate)")
    return message


def check_flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(f"{what} must be True or False, got {value!r}")
    return value


def check_version_ref(version_id: object, what: str = "version_id",
                      optional: bool = True) -> str | None:
    """A version id or prefix as given by a user (its resolution happens later)."""
    if version_id is None and optional:
        return None
    if not isinstance(version_id, str):
        raise ValidationError(f"{what} must be a version id (a string), got "
                              f"{type(version_id).__name__}")
    return version_id


def check_path(path: object, what: str) -> Path:
    """A local path given as a string or path object (not empty, no NUL)."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValidationError(f"{what} must be a path (str or pathlib.Path), got "
                              f"{type(path).__name__}")
    text = os.fspath(path)
    if not isinstance(text, str):
        raise ValidationError(f"{what} must be a text path, got bytes")
    if not text or "\x00" in text or not encodable(text):
        raise ValidationError(f"{what} {text[:60]!r} is not a usable path (empty, NUL byte or "
                              "not valid text)")
    return Path(text)


def check_lineage(lineage: object) -> dict[str, Any]:
    """Lineage: a mapping of string keys to JSON values (no NaN), stored in the manifest."""
    if lineage is None:
        return {}
    if not isinstance(lineage, Mapping):
        raise ValidationError(f"lineage must be a mapping of names to JSON values, got "
                              f"{type(lineage).__name__}")
    if any(not isinstance(k, str) for k in lineage):
        raise ValidationError("lineage keys must be strings")
    try:
        text = json.dumps(dict(lineage), allow_nan=False, sort_keys=True)
        text.encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(f"lineage must hold JSON values only (strings, finite numbers, "
                              f"booleans, None, lists, mappings): {exc}") from None
    value: dict[str, Any] = json.loads(text)
    return value


# -- content read back from storage ---------------------------------------------------------

def stored(source: str, check: Any, value: object, *args: Any) -> Any:
    """Run a user-input `check` on a value read from `source`: its failure is an IntegrityError."""
    try:
        return check(value, *args)
    except ValidationError as exc:
        raise corrupt(source, str(exc)) from None


def corrupt(source: str, problem: str) -> IntegrityError:
    return IntegrityError(f"{source} is corrupt: {problem}. Restore it from a copy, or remove "
                          "it if it was not written by gantry-local")


def load_json(data: bytes, source: str) -> dict[str, Any]:
    """Parse a stored JSON object; anything else is an IntegrityError naming `source`."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise corrupt(source, f"it is not valid JSON ({str(exc)[:80]})") from None
    if not isinstance(body, dict):
        raise corrupt(source, "it is not a JSON object")
    return body


def field(body: Mapping[str, Any], key: str, kind: type | tuple[type, ...], source: str,
          optional: bool = False) -> Any:
    """`body[key]` if it has type `kind` (bool is never an int); else an IntegrityError."""
    if key not in body:
        if optional:
            return None
        raise corrupt(source, f"it has no {key!r}")
    value = body[key]
    if (value is None and optional) or (isinstance(value, kind) and not (
            isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)))):
        if isinstance(value, float) and not math.isfinite(value):
            raise corrupt(source, f"{key!r} is not finite")
        return value
    raise corrupt(source, f"{key!r} is {str(value)[:60]!r}, expected {_kind_name(kind)}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def stored_time(body: Mapping[str, Any], key: str, source: str) -> str:
    """An ISO timestamp field of a stored file."""
    value: str = field(body, key, str, source)
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise corrupt(source, f"{key!r} is {value[:60]!r}, not an ISO timestamp") from None
    return value


def stored_dataset_name(value: object, source: str) -> str:
    name: str = stored(source, check_name, value, "dataset name")
    return name
