"""Workspaces: files, reopening, independence, locking, migrations."""

import subprocess
import sys
from pathlib import Path

import pytest

import gantry_local as gantry


def test_close_and_reopen_keeps_everything(tmp_path: Path, clock: gantry.ManualClock) -> None:
    db = tmp_path / "w.duckdb"
    with gantry.Workspace(db=db, clock=clock) as ws:
        app = ws.create_application("m")
        _, keys = app.log_records(inputs=[{"x": i} for i in range(1000)],
                               outputs=[{"y": i * 0.5} for i in range(1000)])
        app.log_record(feedback={"label": 1}, join_key=keys[3])
    assert ws.closed
    with gantry.Workspace(db=db, clock=clock) as ws:
        rows = ws.get_application("m").query(all_time=True).to_polars()
        assert rows.height == 1000
        assert rows["inputs.x"].sum() == sum(range(1000))
        assert rows.filter(rows["__join_key"] == keys[3])["feedback.label"].to_list() == [1]
        # the schema survived: a clash is still a clash after reopening
        with pytest.raises(gantry.ValidationError, match=r"inputs\.x"):
            ws.log_record("m", inputs={"x": "text"}, outputs={"y": 1.0})


def test_two_workspaces_in_one_process_are_independent(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "a.duckdb") as a, \
            gantry.Workspace(db=tmp_path / "b.duckdb") as b:
        a.create_application("m").log_record(inputs={"x": 1}, outputs=1)
        b.create_application("m").log_record(inputs={"x": "one"}, outputs="one")
        assert a.query("m").to_polars()["inputs.x"].to_list() == [1]
        assert b.query("m").to_polars()["inputs.x"].to_list() == ["one"]


def test_closed_workspace_refuses_work(tmp_path: Path) -> None:
    ws = gantry.Workspace(db=tmp_path / "c.duckdb")
    ws.create_application("m")
    ws.close()
    ws.close()  # twice is fine
    with pytest.raises(gantry.StorageError, match="closed"):
        ws.log_record("m", inputs={"a": 1}, outputs=1)


def test_file_locked_by_another_process_is_a_storage_error(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys, time; c = duckdb.connect({str(db)!r}); print('ready', flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(gantry.StorageError, match="one writer"):
            gantry.Workspace(db=db, lock_timeout=0.1)
    finally:
        holder.communicate("")


def test_missing_folder_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(gantry.StorageError, match="does not exist"):
        gantry.Workspace(db=tmp_path / "no" / "such" / "dir.duckdb")
    with pytest.raises(gantry.ValidationError, match="buffer_size"):
        gantry.Workspace(db=tmp_path / "x.duckdb", buffer_size=0)
    with pytest.raises(gantry.ValidationError, match="clock"):
        gantry.Workspace(db=tmp_path / "x.duckdb", clock="now")  # type: ignore[arg-type]
    for bad, match in (({"storage": 5}, "storage must be"), ({"storage": " "}, "storage must be"),
                       ({"db": 3}, "db must be"), ({"storage_options": [1]}, "storage_options")):
        with pytest.raises(gantry.ValidationError, match=match):
            gantry.Workspace(**{"db": ":memory:", **bad})  # type: ignore[arg-type]
    with gantry.Workspace(db=":memory:", storage="nosuchproto://x") as ws, \
            pytest.raises(gantry.StorageError, match="nosuchproto"):
        ws.list_datasets()


def test_migrations_are_recorded_once(tmp_path: Path) -> None:
    db = tmp_path / "m.duckdb"
    for _ in range(2):
        with gantry.Workspace(db=db) as ws, ws.database.cursor() as con:
            names = [r[0] for r in con.execute("SELECT name FROM _gl_migrations ORDER BY name")
                     .fetchall()]
    from gantry_local._db import MIGRATIONS

    assert names == [name for name, _ in MIGRATIONS]


def test_default_storage_is_beside_the_db(tmp_path: Path) -> None:
    with gantry.Workspace(db=tmp_path / "prod.duckdb") as ws:
        assert ws.storage == str(tmp_path.resolve() / "prod-storage")
    with gantry.Workspace(db=":memory:") as ws:
        assert ws.storage.startswith("memory://")
