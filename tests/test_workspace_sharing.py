"""Sharing one workspace between processes: waiting for the database lock (real holders in
subprocesses), read-only opens, and the configuration a workspace remembers."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

import gantry_local as gantry
from gantry_local._config import is_secret, recordable


@contextmanager
def held(db: Path, read_only: bool = False) -> Iterator[subprocess.Popen[str]]:
    """A real process holding `db` until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c",
         f"import duckdb, sys; c = duckdb.connect({str(db)!r}, read_only={read_only}); "
         "print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        yield holder
    finally:
        holder.communicate("")


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "w.duckdb"
    with gantry.Workspace(db=path) as ws:
        ws.create_application("m")
    return path


def test_a_held_file_is_waited_for_then_named(db: Path) -> None:
    with held(db) as holder:
        started = time.monotonic()
        with pytest.raises(gantry.StorageError, match=rf"held by PID {holder.pid} \(.*python"):
            gantry.Workspace(db=db, lock_timeout=0.3)
        assert time.monotonic() - started >= 0.3


def test_a_reader_gets_the_file_once_the_holder_lets_go(db: Path,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    opened: list[gantry.Workspace] = []
    with held(db) as holder:
        with caplog.at_level("INFO", logger="gantry_local.database"):
            thread = threading.Thread(
                target=lambda: opened.append(gantry.Workspace(db=db, read_only=True,
                                                              lock_timeout=30)))
            thread.start()
            deadline = time.monotonic() + 10
            while "waiting" not in caplog.text and time.monotonic() < deadline:
                time.sleep(0.01)
        assert f"held by PID {holder.pid}" in caplog.text
    thread.join(30)
    assert len(opened) == 1
    with opened[0] as ws:
        assert ws.list_applications() == ["m"]


def test_the_timeout_comes_from_the_environment(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRY_LOCAL_LOCK_TIMEOUT", "0")
    with held(db), pytest.raises(gantry.StorageError, match="stayed held for 0 s"):
        gantry.Workspace(db=db)
    monkeypatch.setenv("GANTRY_LOCAL_LOCK_TIMEOUT", "soon")
    with pytest.raises(gantry.ValidationError, match=r"\$GANTRY_LOCAL_LOCK_TIMEOUT must be"):
        gantry.Workspace(db=db)


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), 86_401, True, "5", [1]])
def test_a_bad_lock_timeout_is_refused(db: Path, bad: object) -> None:
    with pytest.raises(gantry.ValidationError, match="lock_timeout must be"):
        gantry.Workspace(db=db, lock_timeout=bad)  # type: ignore[arg-type]


def test_readers_share_the_file_and_write_nothing(db: Path) -> None:
    before = db.read_bytes()
    with held(db, read_only=True), gantry.Workspace(db=db, read_only=True, lock_timeout=0) as ws:
        assert ws.read_only
        assert ws.query("m").count() == 0
        with pytest.raises(gantry.StorageError, match="read-only"):
            ws.create_application("other")
    assert db.read_bytes() == before
    with pytest.raises(gantry.StorageError, match="read-only opens create nothing"):
        gantry.Workspace(db=db.with_name("missing.duckdb"), read_only=True)
    assert not db.with_name("missing.duckdb").exists()
    with pytest.raises(gantry.ValidationError, match="read_only must be"):
        gantry.Workspace(db=db, read_only="yes")  # type: ignore[arg-type]


def test_a_read_only_open_of_an_old_file_asks_for_an_upgrade(tmp_path: Path) -> None:
    old = tmp_path / "old.duckdb"
    with duckdb.connect(str(old)) as con:
        con.execute("CREATE TABLE _gl_migrations (name VARCHAR PRIMARY KEY, applied_at "
                    "TIMESTAMPTZ NOT NULL)")
    with pytest.raises(gantry.StorageError, match=r"needs upgrading .*open it once read-write"):
        gantry.Workspace(db=old, read_only=True)


def test_the_storage_is_remembered_and_secrets_are_not(tmp_path: Path) -> None:
    path, storage = tmp_path / "w.duckdb", tmp_path / "elsewhere"
    options = {"auto_mkdir": True, "key": "AKIA-SECRET-ID", "secret": "s3cr3t",
               "client_kwargs": {"region_name": "eu", "aws_session_token": "t0k3n"}}
    with gantry.Workspace(db=path, storage=str(storage), storage_options=options) as ws:
        assert ws.storage_options == options  # this process uses every option it was given
        ws.create_dataset("d")
    with gantry.Workspace(db=path) as ws:  # a later process: no flags needed
        assert ws.storage == str(storage)
        assert ws.storage_options == {"auto_mkdir": True, "client_kwargs": {"region_name": "eu"}}
        assert [d["name"] for d in ws.list_datasets()] == ["d"]
    with duckdb.connect(str(path), read_only=True) as con:
        stored = repr(con.execute("SELECT * FROM _gl_workspace_config").fetchall())
    assert "eu" in stored and not any(s in stored for s in ("AKIA", "s3cr3t", "t0k3n"))
    with gantry.Workspace(db=path, storage=str(storage) + "/", read_only=True) as ws:
        assert ws.storage == str(storage)  # the same place, spelled differently


def test_a_conflicting_storage_is_an_error_that_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    gantry.Workspace(db=path).close()  # the default storage, beside the db, is recorded
    before = path.read_bytes()
    with pytest.raises(gantry.ValidationError, match=r"keeps its datasets in .*w-storage"):
        gantry.Workspace(db=path, storage=str(tmp_path / "other"))
    assert path.read_bytes() == before
    assert not (tmp_path / "other").exists()
    with gantry.Workspace(db=path, storage=str(tmp_path / "w-storage")) as ws:
        assert ws.storage == str(tmp_path / "w-storage")


def test_a_workspace_moved_with_its_default_storage_still_finds_it(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    with gantry.Workspace(db=tmp_path / "a" / "w.duckdb") as ws:
        ws.create_dataset("d")
    (tmp_path / "a").rename(tmp_path / "b")
    with gantry.Workspace(db=tmp_path / "b" / "w.duckdb") as ws:
        assert ws.storage == str(tmp_path / "b" / "w-storage")
        assert [d["name"] for d in ws.list_datasets()] == ["d"]


def test_a_database_from_before_the_record_records_on_first_write(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    gantry.Workspace(db=path).close()
    with duckdb.connect(str(path)) as con:
        con.execute("DELETE FROM _gl_workspace_config")
    with gantry.Workspace(db=path, read_only=True, storage=str(tmp_path / "s")) as ws:
        assert ws.storage == str(tmp_path / "s")  # read-only records nothing
    with gantry.Workspace(db=path, storage=str(tmp_path / "s2")):
        pass
    with gantry.Workspace(db=path) as ws:
        assert ws.storage == str(tmp_path / "s2")


@pytest.mark.parametrize(("key", "secret"), [
    ("key", True), ("secret", True), ("token", True), ("aws_secret_access_key", True),
    ("aws_session_token", True), ("password", True), ("sas_token", True),
    ("connection_string", True), ("account_key", True), ("clientSecret", True),
    ("session", True), ("apikey", True), ("endpoint_url", False), ("use_ssl", False),
    ("region_name", False), ("profile", False), ("anon", False), ("client_kwargs", False),
    ("skip_instance_cache", False), ("requester_pays", False),
    # sftp/ssh (paramiko) and HTTP spellings
    ("passphrase", True), ("pkey", True), ("private_key", True), ("privateKey", True),
    ("AccessKey", True), ("bearer", True), ("sshPassword", True)])
def test_which_option_keys_are_credentials(key: str, secret: bool) -> None:
    assert is_secret(key) is secret


def test_values_that_are_not_plain_json_are_not_recorded() -> None:
    kept, dropped = recordable({"a": object(), "b": float("nan"), "c": [1, "x"], "d": {}})
    assert kept == {"c": [1, "x"], "d": {}} and sorted(dropped) == ["a", "b"]
