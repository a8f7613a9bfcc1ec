"""Shared fixtures: a workspace on a temporary DuckDB file, a manual clock, a table counter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

import gantry_local as gantry

START = datetime(2024, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> gantry.ManualClock:
    return gantry.ManualClock(START)


@pytest.fixture
def ws(tmp_path: Path, clock: gantry.ManualClock) -> Iterator[gantry.Workspace]:
    workspace = gantry.Workspace(db=tmp_path / "test.duckdb", clock=clock, flush_interval=0.01)
    yield workspace
    workspace.close()


@pytest.fixture
def app(ws: gantry.Workspace) -> gantry.Application:
    return ws.create_application("model")


def stored_counts(ws: gantry.Workspace, name: str = "model") -> tuple[int, int, dict[str, str]]:
    """Rows in the records and feedback tables, and the known columns: 'nothing changed' checks."""
    ws.flush()
    with ws._cursor() as con:
        records = con.execute(f'SELECT count(*) FROM "records_{name}"').fetchall()[0][0]
        feedback = con.execute(f'SELECT count(*) FROM "feedback_{name}"').fetchall()[0][0]
    state = ws._app_state(name).schema
    columns = {**state.snapshot("records"), **state.snapshot("feedback")}
    return records, feedback, columns
