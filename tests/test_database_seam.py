"""The database seam: one `Database` per workspace, handed to the rooms, which keep their own
state on it; the default workspace is resolved in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local._db import Database
from gantry_local.automations._in_process import InProcess, in_process
from gantry_local.evaluation._models import Models, models


def test_the_workspace_owns_one_database_that_cursors_come_from(ws: gantry.Workspace) -> None:
    assert isinstance(ws.database, Database)
    with ws.database.cursor() as con:
        assert con.execute("SELECT count(*) FROM _gl_applications").fetchone() == (0,)
    ws.close()
    with pytest.raises(gantry.StorageError, match="closed"), ws.database.cursor():
        pass


def test_the_workspace_keeps_no_alias_into_its_database(ws: gantry.Workspace,
                                                        tmp_path: Path) -> None:
    held = [name for name, value in vars(ws).items()
            if value is ws.database.con or value is ws.database.lock]
    assert held == [], f"the Workspace holds {held}: go through ws.database"
    producer = gantry.ProducerWorkspace(db=tmp_path / "p.duckdb", spool=str(tmp_path / "spool"))
    held = [name for name, value in vars(producer).items() if value is producer.database.lock]
    producer.close()
    assert held == [], f"the ProducerWorkspace holds {held}: go through .database"


def test_rooms_keep_their_state_on_the_database(ws: gantry.Workspace, tmp_path: Path) -> None:
    assert models(ws.database) is ws.database.state(Models)
    assert in_process(ws.database) is ws.database.state(InProcess)
    ws.register_model("echo", lambda prompt: prompt)
    assert ws.model("echo")("hi") == "hi"
    with gantry.Workspace(db=tmp_path / "other.duckdb") as other, \
            pytest.raises(gantry.NotFoundError, match="register_model"):  # its own rooms' state
        other.model("echo")


def test_a_new_field_is_seen_by_the_next_query(app: gantry.Application) -> None:
    app.log_records(inputs=[{"a": 1}], outputs=[1])
    assert "inputs.a" in app.workspace.query("model").to_polars().columns
    generation = app.workspace.database.generation
    app.log_records(inputs=[{"b": "x"}], outputs=[2])
    frame = app.workspace.query("model").to_polars()
    assert "inputs.b" in frame.columns and frame.height == 2
    assert app.workspace.database.generation > generation


# The rooms' context (narrowed at their boundary, never the façade): tests/test_rooms_narrow.py
