"""Evaluations and cached model outputs in the workspace's DuckDB file."""

from __future__ import annotations

import io
import json
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from .._db import run, storage_errors
from ..clock import to_utc
from ..errors import NotFoundError
from .comparison import Comparison, MetricResult, PairwiseResult

if TYPE_CHECKING:
    from .._context import Context

__all__ = [
    "cache_outputs",
    "cached_outputs",
    "evaluation_summaries",
    "load_evaluation",
    "save_evaluation",
]


def cached_outputs(ws: Context, candidate: str, hashes: list[str]) -> dict[str, str]:
    """Stored outputs (JSON text) of `candidate` for the given row hashes."""
    if not hashes:
        return {}
    with ws.database.cursor() as con, storage_errors("reading cached outputs"):
        rows = run(con, "SELECT row_hash, output FROM _gl_eval_cache WHERE candidate = ? AND "
                   "row_hash IN (SELECT unnest(?::VARCHAR[]))", [candidate, hashes])
    return {h: o for h, o in rows}


_KEEP = ("INSERT OR IGNORE INTO _gl_eval_cache SELECT candidate, row_hash, output, ? "
         "FROM _gl_new_outputs")
_REPLACE = _KEEP.replace("OR IGNORE", "OR REPLACE")


def cache_outputs(ws: Context, candidate: str, items: list[tuple[str, str]],
                  replace: bool = False) -> None:
    """Remember outputs (row hash, JSON text) of `candidate`; existing ones are kept unless
    `replace` (a run that did not read the cache refreshes it)."""
    if not items:
        return
    table = pa.table({"candidate": [candidate] * len(items), "row_hash": [h for h, _ in items],
                      "output": [o for _, o in items]})
    with ws.database.cursor() as con, storage_errors("caching outputs"):
        con.register("_gl_new_outputs", table)
        try:
            run(con, _REPLACE if replace else _KEEP, [ws.clock.now()])
        finally:
            con.unregister("_gl_new_outputs")


def save_evaluation(ws: Context, comparison: Comparison) -> None:
    summary = {k: v for k, v in comparison.__dict__.items() if k != "rows"}
    summary["created_at"] = comparison.created_at.isoformat()
    summary["results"] = [asdict(r) for r in comparison.results]
    summary["pairwise"] = [asdict(p) for p in comparison.pairwise]
    buffer = io.BytesIO()
    comparison.rows.write_parquet(buffer)
    with ws.database.cursor() as con, storage_errors("storing an evaluation"):
        run(con, "INSERT INTO _gl_evaluations VALUES (?, ?, ?, ?, ?, ?)",
            [comparison.id, comparison.created_at, comparison.dataset, comparison.version_id,
             json.dumps(summary, default=_json_default), buffer.getvalue()])


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__}")


def load_evaluation(ws: Context, evaluation_id: str) -> Comparison:
    with ws.database.cursor() as con, storage_errors("reading evaluations"):
        rows = run(con, "SELECT summary, rows FROM _gl_evaluations WHERE id = ?", [evaluation_id])
    if not rows:
        raise NotFoundError(f"no evaluation {evaluation_id!r}; list_evaluations() shows them")
    summary, blob = rows[0]
    data = json.loads(summary)
    data["created_at"] = to_utc(datetime.fromisoformat(data["created_at"]))
    data["results"] = [MetricResult(**r) for r in data["results"]]
    data["pairwise"] = [PairwiseResult(**p) for p in data["pairwise"]]
    return Comparison(**data, rows=pl.read_parquet(io.BytesIO(blob)))


def evaluation_summaries(ws: Context, dataset: str | None = None) -> pl.DataFrame:
    """One row per stored evaluation, newest first."""
    with ws.database.cursor() as con, storage_errors("listing evaluations"):
        rows = run(con, "SELECT id, created_at, dataset, version_id, summary FROM _gl_evaluations "
                   "WHERE ? IS NULL OR dataset = ? ORDER BY created_at DESC, id",
                   [dataset, dataset])
    records = []
    for eid, created, name, version, summary in rows:
        data = json.loads(summary)
        comparison = Comparison(**{**data, "created_at": to_utc(created),
                                   "results": [MetricResult(**r) for r in data["results"]],
                                   "pairwise": [PairwiseResult(**p) for p in data["pairwise"]]},
                                rows=pl.DataFrame())
        records.append({"id": eid, "created_at": to_utc(created), "dataset": name,
                        "version_id": version, "candidates": ", ".join(data["candidates"]),
                        "primary": comparison.primary, "verdict": comparison.verdict,
                        "rows": data["n_rows"]})
    return pl.DataFrame(records, schema={
        "id": pl.String, "created_at": pl.Datetime("us", "UTC"), "dataset": pl.String,
        "version_id": pl.String, "candidates": pl.String, "primary": pl.String,
        "verdict": pl.String, "rows": pl.Int64})
