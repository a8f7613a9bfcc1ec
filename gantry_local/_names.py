"""Validation of the user-chosen names that become table names, paths or columns."""

from __future__ import annotations

import re

from .errors import ValidationError

__all__ = ["MAX_FIELD_DEPTH", "MAX_FIELD_LENGTH", "MAX_NAME_LENGTH", "check_field_name",
           "check_name", "is_valid_text"]

MAX_NAME_LENGTH = 128
MAX_FIELD_LENGTH = 255
MAX_FIELD_DEPTH = 32  # levels of nested dicts (or Arrow structs) in one logged value
_NAME_RE = re.compile(r"[A-Za-z0-9_.\-]+")


def check_name(name: object, what: str = "name") -> str:
    """Return `name` if it is a valid application/dataset/curator name.

    Valid names are 1 to 128 characters from ``[A-Za-z0-9_.-]``, and are not ``.``/``..``
    (they also become file and folder names).
    """
    if not isinstance(name, str):
        raise ValidationError(f"{what} must be a string, got {type(name).__name__}")
    if not name:
        raise ValidationError(f"{what} must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(
            f"{what} {name[:40]!r}... is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    if not _NAME_RE.fullmatch(name) or name in {".", ".."}:
        bad = sorted({c for c in name if not re.fullmatch(r"[A-Za-z0-9_.\-]", c)})
        detail = f" (offending characters: {''.join(bad)!r})" if bad else ""
        raise ValidationError(
            f"{what} {name!r} is not allowed{detail}: use letters, digits, '_', '.' and '-' only"
        )
    return name


def is_valid_text(text: str) -> bool:
    """True when `text` can be stored: it encodes to UTF-8 (no lone surrogates)."""
    if text.isascii():  # O(1) in CPython
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_field_name(name: object, where: str) -> str:
    """Return `name` if it can be a logged field (a column): a non-empty string of valid
    Unicode (no lone surrogates) without NUL, at most `MAX_FIELD_LENGTH` characters."""
    if type(name) is not str:
        if not isinstance(name, str):
            raise ValidationError(f"{where}: field names must be strings, got {name!r}")
        name = str.__str__(name)
    if not name or "\x00" in name or len(name) > MAX_FIELD_LENGTH or not is_valid_text(name):
        raise ValidationError(
            f"{where}: field name {name[:40]!r} must be 1 to {MAX_FIELD_LENGTH} characters "
            "of valid Unicode (no NUL bytes, no lone surrogates)"
        )
    return name
