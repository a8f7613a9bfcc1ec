"""Gantry's batches: which join keys one ``as_batch`` call, file or run logged together.

A batch is a row of ``_gl_batches`` and its join keys in ``_gl_batch_keys``, written on the
caller's thread once the call's records are validated and buffered (its records reach their
table with the next flush, as every record does). Queries select a batch's records by key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from .._db import run, storage_errors, transaction

__all__ = ["list_batches", "record_batch", "record_keys"]


def record_batch(con: duckdb.DuckDBPyConnection, batch_id: str, application: str,
                 batch_type: str, version: str | None, keys: Sequence[str], now: datetime,
                 run_name: str | None = None, run_tags: Mapping[str, str] | None = None) -> None:
    """Add a batch (or more keys to a run's batch) in one transaction."""
    tags = None if run_tags is None else json.dumps(dict(run_tags), sort_keys=True)
    with storage_errors(f"recording batch {batch_id!r}"), transaction(con):
        found = run(con, "SELECT record_count FROM _gl_batches WHERE batch_id = ?", [batch_id])
        if found:
            run(con, "UPDATE _gl_batches SET record_count = record_count + ?, batch_type = "
                     "CASE WHEN batch_type = ? THEN batch_type ELSE 'RECORD' END "
                     "WHERE batch_id = ?", [len(keys), batch_type, batch_id])
        else:
            run(con, "INSERT INTO _gl_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [batch_id, application, batch_type, version, run_name, tags, len(keys), now])
        record_keys(con, batch_id, keys)


def record_keys(con: duckdb.DuckDBPyConnection, batch_id: str, keys: Sequence[str]) -> None:
    """Insert a batch's join keys from Arrow (a million keys take a fraction of a second)."""
    if not keys:
        return
    table = pa.table({"batch_id": pa.array([batch_id] * len(keys), pa.string()),
                      "join_key": pa.array(list(keys), pa.string())})
    con.register("_gl_new_keys", table)
    try:
        run(con, "INSERT INTO _gl_batch_keys SELECT batch_id, join_key FROM _gl_new_keys")
    finally:
        con.unregister("_gl_new_keys")


def list_batches(con: duckdb.DuckDBPyConnection, application: str,
                 version: str | None = None, run_name: str | None = None,
                 run_tags: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """An application's batches, oldest first, as Gantry lists them (``id`` first)."""
    sql = ("SELECT batch_id, batch_type, version, run_name, run_tags, record_count, created_at "
           "FROM _gl_batches WHERE application = ?")
    params: list[Any] = [application]
    if version is not None:
        sql += " AND version = ?"
        params.append(version)
    if run_name is not None:
        sql += " AND run_name = ?"
        params.append(run_name)
    with storage_errors(f"listing the batches of {application!r}"):
        rows = run(con, sql + " ORDER BY created_at, batch_id", params)
    out = []
    for batch_id, kind, ver, name, tags, count, created in rows:
        parsed = {} if tags is None else json.loads(tags)
        if run_tags is not None and any(parsed.get(k) != v for k, v in run_tags.items()):
            continue
        out.append({"id": batch_id, "batch_type": kind, "version": ver, "run_name": name,
                    "run_tags": parsed, "num_events": count, "created_at": created})
    return out
