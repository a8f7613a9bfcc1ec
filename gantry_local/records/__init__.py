"""Production records: buffered logging into DuckDB, schema evolution, and queries."""

from __future__ import annotations

from .query import Query

__all__ = ["Query"]
