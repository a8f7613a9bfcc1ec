"""Bad input to what lets processes share a workspace: `Workspace(read_only=, lock_timeout=)`,
`init(...)` with them, and a storage differing from the recorded one. Each case checks the
error class, a useful message and that the database did not change."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import duckdb
import pytest

import gantry_local as gantry


def _rows(db: Path) -> str:
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() "
                                             "ORDER BY table_name").fetchall()]
        rows = {t: sorted(map(repr, con.execute(f'SELECT * FROM "{t}"').fetchall()))
                for t in tables if t != "_gl_migrations"}
    return hashlib.sha256(repr(rows).encode()).hexdigest()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with gantry.Workspace(db=path, storage=str(tmp_path / "st"),
                          storage_options={"auto_mkdir": True}) as ws:
        ws.create_application("m").log_records(inputs=[{"a": 1}], outputs=[1])
    return path


# (keyword arguments given to Workspace(db, ...), error class, message regex)
CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"lock_timeout": -0.5}, gantry.ValidationError, r"lock_timeout must be a number of seconds"),
    ({"lock_timeout": float("nan")}, gantry.ValidationError, r"lock_timeout must be"),
    ({"lock_timeout": float("inf")}, gantry.ValidationError, r"lock_timeout must be"),
    ({"lock_timeout": 10**400}, gantry.ValidationError, r"lock_timeout must be"),
    ({"lock_timeout": 86_401}, gantry.ValidationError, r"from 0 to 86,400"),
    ({"lock_timeout": True}, gantry.ValidationError, r"lock_timeout must be"),
    ({"lock_timeout": "5"}, gantry.ValidationError, r"got '5'"),
    ({"lock_timeout": [1]}, gantry.ValidationError, r"lock_timeout must be"),
    ({"read_only": "yes"}, gantry.ValidationError, r"read_only must be True or False"),
    ({"read_only": 1}, gantry.ValidationError, r"read_only must be True or False"),
    ({"read_only": None}, gantry.ValidationError, r"read_only must be True or False"),
    ({"storage": "/somewhere/else"}, gantry.ValidationError,
     r"keeps its datasets in '.*st' .*not '/somewhere/else'; leave the storage out"),
    ({"storage": "memory://st"}, gantry.ValidationError, r"keeps its datasets in"),
    ({"storage": "s3://bucket/st"}, gantry.ValidationError, r"keeps its datasets in"),
    ({"storage": "/somewhere/else", "read_only": True}, gantry.ValidationError,
     r"keeps its datasets in"),
    ({"storage_options": {1: "x"}}, gantry.ValidationError, r"storage_options must be"),
]


@pytest.mark.parametrize(("kwargs", "error", "pattern"), CASES,
                         ids=[repr(c[0])[:50] for c in CASES])
def test_bad_workspace_arguments(db: Path, kwargs: dict[str, Any], error: type[Exception],
                                 pattern: str) -> None:
    before = _rows(db)
    with pytest.raises(error, match=pattern):
        gantry.Workspace(db=db, **kwargs)
    assert _rows(db) == before


@pytest.mark.parametrize(("kwargs", "error", "pattern"), CASES[:11],
                         ids=[repr(c[0])[:50] for c in CASES[:11]])
def test_bad_init_arguments_leave_the_default_workspace_open(
        db: Path, tmp_path: Path, kwargs: dict[str, Any], error: type[Exception],
        pattern: str) -> None:
    previous = gantry.init(db=tmp_path / "other.duckdb")
    try:
        with pytest.raises(error, match=pattern):
            gantry.init(db=db, **kwargs)
        assert not previous.closed
    finally:
        previous.close()


def test_a_read_only_open_of_a_missing_file_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    with pytest.raises(gantry.StorageError, match="read-only opens create nothing"):
        gantry.Workspace(db=missing, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_workspace_refuses_changes_and_keeps_the_file(db: Path) -> None:
    before = _rows(db)
    with gantry.Workspace(db=db, read_only=True) as ws:
        for change in (lambda: ws.create_application("n"), lambda: ws.delete_application("m"),
                       lambda: ws.log_record("m", inputs={"a": 2}, outputs=2),
                       lambda: ws.log_records("m", inputs=[{"a": 2}], outputs=[2]),
                       lambda: ws.get_application("m").log(inputs={"a": 2}, outputs=2),
                       lambda: ws.ingest()):
            with pytest.raises(gantry.StorageError, match="read-only"):
                change()
        assert ws.pending_records == 0
    assert _rows(db) == before


def test_the_legal_twins_round_trip(db: Path, tmp_path: Path) -> None:
    for kwargs in ({"lock_timeout": 0}, {"lock_timeout": 86_400}, {"read_only": True},
                   {"storage": str(tmp_path / "st")}, {"storage": str(tmp_path / "st") + "/"},
                   {"storage_options": {"auto_mkdir": False}}):
        with gantry.Workspace(db=db, **kwargs) as ws:
            assert ws.query("m").count() == 1
            assert ws.storage == str(tmp_path / "st")


# A scheduler made from a function that opens the workspace: what it is given, or what the
# function does, that cannot make a tick. (opener given db path, error class, message regex)
SCHEDULER_CASES: list[tuple[str, Any, type[Exception], str]] = [
    ("a path", lambda db: str(db), gantry.ValidationError,
     r"Scheduler takes a gantry_local Workspace, got str; pass a Workspace, or a function"),
    ("the Workspace class", lambda db: gantry.Workspace, gantry.ValidationError,
     r"Scheduler takes a gantry_local Workspace, got type"),
    ("None", lambda db: None, gantry.ValidationError, r"got NoneType"),
    ("a function returning a path", lambda db: (lambda: str(db)), gantry.ValidationError,
     r"must return a gantry_local Workspace, it returned str"),
    ("a function that raises", lambda db: (lambda: {}["x"]), gantry.ValidationError,
     r"function opening the scheduler's workspace raised KeyError"),
    ("a conflicting storage", lambda db: (lambda: gantry.Workspace(db=db, storage="/other")),
     gantry.ValidationError, r"keeps its datasets in .* not '/other'"),
    ("a bad lock timeout", lambda db: (lambda: gantry.Workspace(db=db, lock_timeout=-1)),
     gantry.ValidationError, r"lock_timeout must be"),
]


@pytest.mark.parametrize(("opener", "error", "pattern"), [c[1:] for c in SCHEDULER_CASES],
                         ids=[c[0] for c in SCHEDULER_CASES])
def test_bad_scheduler_openers(db: Path, opener: Any, error: type[Exception],
                               pattern: str) -> None:
    before = _rows(db)
    with pytest.raises(error, match=pattern):
        gantry.Scheduler(opener(db)).run_pending()
    assert _rows(db) == before
