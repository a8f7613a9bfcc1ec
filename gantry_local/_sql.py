"""The one place that turns names into SQL: identifiers are always quoted, values always bound."""

from __future__ import annotations

from .errors import ValidationError

__all__ = ["quote_ident"]


def quote_ident(name: str) -> str:
    """Quote `name` as a DuckDB identifier, doubling embedded quotes.

    Raises:
        ValidationError: the name is empty or contains a NUL byte.
    """
    if not name or "\x00" in name:
        raise ValidationError(f"invalid SQL identifier {name!r}: it must be non-empty and NUL-free")
    return '"' + name.replace('"', '""') + '"'

