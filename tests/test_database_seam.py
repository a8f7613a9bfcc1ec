"""The database seam: one `Database` per workspace, handed to the rooms, which keep their own
state on it; the default workspace is resolved in one place."""

from __future__ import annotations

from pathlib import Path

import pytest

import gantry_local as gantry
from gantry_local import _context
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


def test_the_rooms_take_a_context_not_a_workspace_class(ws: gantry.Workspace) -> None:
    assert _context.check_context(ws) is ws
    with pytest.raises(gantry.ValidationError, match="must be a gantry_local Workspace, got str"):
        _context.check_context("ws")


def test_the_default_workspace_is_resolved_in_one_place(tmp_path: Path) -> None:
    previous = gantry._default._default
    gantry._default._default = None
    try:
        with pytest.raises(gantry.NotInitializedError, match="init"):
            _context.resolve(None)
        workspace = gantry.init(db=tmp_path / "d.duckdb")
        assert _context.resolve(None) is workspace is gantry.get_workspace()
        workspace.close()
    finally:
        gantry._default._default = previous


# protocol in _context.py -> the modules that need each of its own members
_USERS = {"Context": ("monitoring", "evaluation", "query"),
          "SchedulerContext": ("automations/scheduler.py",),
          "DefaultContext": ("query/_functions.py",)}


@pytest.mark.parametrize("protocol", sorted(_USERS))
def test_each_context_has_only_members_its_rooms_use(protocol: str) -> None:
    import ast
    import re

    package = Path(gantry.__file__).parent
    tree = ast.parse((package / "_context.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == protocol)
    members = {n.target.id if isinstance(n, ast.AnnAssign) else n.name  # type: ignore[union-attr]
               for n in cls.body if isinstance(n, (ast.AnnAssign, ast.FunctionDef))}
    paths = [package / where for where in _USERS[protocol]]
    files = [f for p in paths for f in ([p] if p.is_file() else sorted(p.rglob("*.py")))]
    source = "\n".join(f.read_text() for f in files)
    used = r"\.{0}\b|getattr\([^)]*\"{0}\""  # an attribute, or read with getattr
    unused = sorted(m for m in members if not re.search(used.format(re.escape(m)), source))
    assert members and unused == [], f"{protocol} members its rooms do not use: {unused}"
