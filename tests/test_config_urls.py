"""Credentials inside a storage or spool URL are never recorded in the workspace: the login
of ``scheme://user:password@host``, and query parameters that carry a token or signature."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import gantry_local as gantry
from gantry_local._config import recordable_url


@pytest.mark.parametrize(("url", "recorded"), [
    ("s3://AKIAEXAMPLE:s3cr3t@bucket/spool", "s3://bucket/spool"),
    ("s3://AKIAEXAMPLE:ab/cd+s3cr3t@bucket/spool", "s3://bucket/spool"),  # a '/' in the secret
    ("https://user:pa55@host.example/data", "https://host.example/data"),
    ("https://ghp_t0k3n@github.example/org/repo", "https://github.example/org/repo"),
    ("sftp://deploy:pa55@10.0.0.1:22/srv/data", "sftp://10.0.0.1:22/srv/data"),
    ("https://host/data?token=t0k3n&v=2", "https://host/data?v=2"),
    ("https://acct.blob.example/c?sv=2022&sig=s1gn&se=2030", "https://acct.blob.example/c?sv=2022&se=2030"),
    ("https://b.example/o?X-Amz-Credential=AKIA&X-Amz-Signature=s1gn", "https://b.example/o"),
    ("https://host/data?api_key=k3y#frag", "https://host/data#frag"),
    ("simplecache::s3://AKIAEXAMPLE:s3cr3t@bucket/x", "simplecache::s3://bucket/x"),
    # nothing to strip: kept exactly
    ("s3://bucket/user@example.com/logs", "s3://bucket/user@example.com/logs"),
    ("s3://bucket/a:b@c", "s3://bucket/a:b@c"),
    ("https://host/data?region=eu&v=2", "https://host/data?region=eu&v=2"),
    ("/tmp/folder", "/tmp/folder"),
])
def test_credentials_are_stripped_from_urls(url: str, recorded: str) -> None:
    clean, dropped = recordable_url(url)
    assert clean == recorded
    assert bool(dropped) is (clean != url)


def test_a_spool_url_with_a_login_is_recorded_without_it(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    given = "s3://AKIAEXAMPLE:s3cr3t@bucket/spool?token=t0k3n"
    with gantry.Workspace(db=path, spool=given) as ws:
        assert ws.spool == given  # this process keeps what it was given
    with duckdb.connect(str(path), read_only=True) as con:
        stored = repr(con.execute("SELECT * FROM _gl_workspace_config").fetchall())
    assert "s3://bucket/spool" in stored
    assert not any(s in stored for s in ("AKIA", "s3cr3t", "t0k3n"))
    with gantry.Workspace(db=path) as ws:  # a later process: the place, not the login
        assert ws.spool == "s3://bucket/spool"
    with gantry.Workspace(db=path, spool=given) as ws:  # the same place with a login: no conflict
        assert ws.spool == given
    with pytest.raises(gantry.ValidationError, match="not 's3://other/spool'") as caught:
        gantry.Workspace(db=path, spool="s3://AKIAEXAMPLE:s3cr3t@other/spool")
    assert "s3cr3t" not in str(caught.value)  # the error does not echo it either


def test_messages_and_reprs_never_show_the_login(tmp_path: Path) -> None:
    given = "s3://AKIAEXAMPLE:s3cr3t@bucket/spool"
    with pytest.raises(gantry.StorageError, match=r"spool 's3://bucket/spool' is unreachable") \
            as caught:
        gantry.ProducerWorkspace(db=":memory:", spool=given,
                                 spool_options={"endpoint_url": "http://127.0.0.1:9"})
    assert "s3cr3t" not in str(caught.value) and "AKIA" not in str(caught.value)
    with gantry.Workspace(db=tmp_path / "w.duckdb", spool=given,
                          storage="memory://u:pa55@bucket/data") as ws:
        assert "pa55" not in repr(ws) and "memory://bucket/data" in repr(ws)
    from gantry_local.records._spool import Spool

    assert "s3cr3t" not in repr(Spool(given))


def test_scrub_removes_every_credential_of_a_url() -> None:
    from gantry_local._config import scrub

    url = "simplecache::s3://AKIAEXAMPLE:s3cr3t@bucket/x?token=t0k3n&v=2"
    text = scrub(f"Invalid bucket name 'AKIAEXAMPLE:s3cr3t@bucket' (token t0k3n); {url}", url)
    assert not any(s in text for s in ("AKIAEXAMPLE", "s3cr3t", "t0k3n")) and "v=2" in text


def test_dataset_storage_errors_and_reprs_never_show_the_login(tmp_path: Path) -> None:
    given = "s3://AKIAEXAMPLE:s3cr3t@bucket/data"
    with gantry.Workspace(db=tmp_path / "w.duckdb", storage=given, storage_options={
            "endpoint_url": "http://127.0.0.1:9", "config_kwargs": {
                "retries": {"max_attempts": 1}, "connect_timeout": 1}}) as ws:
        with pytest.raises(gantry.GantryLocalError) as caught:
            ws.create_dataset("rows")
        assert "s3cr3t" not in str(caught.value) and "s3://bucket/data" in str(caught.value)
    with gantry.Workspace(db=tmp_path / "m.duckdb", storage="memory://u:pa55@bucket/d") as ws:
        dataset = ws.create_dataset("rows")
        assert "pa55" not in repr(dataset)
        with pytest.raises(gantry.NotFoundError) as missing:
            ws.get_dataset("nope")
        assert "pa55" not in str(missing.value)


def test_scrub_removes_a_password_quoted_alone_or_decoded() -> None:
    from gantry_local._config import scrub

    url = "s3://AKIAEXAMPLE:ab%2Fs3cr3t@bucket/x?token=t%2B0k3n"
    text = scrub("secret 'ab%2Fs3cr3t' or 'ab/s3cr3t' rejected; token t+0k3n expired", url)
    assert not any(s in text for s in ("s3cr3t", "t+0k3n", "t%2B0k3n")), text


def test_a_login_recorded_by_an_older_version_is_neither_a_conflict_nor_shown(
        tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    given = "s3://AKIAEXAMPLE:s3cr3t@bucket/spool"
    with gantry.Workspace(db=path, spool=given):
        pass
    with duckdb.connect(str(path)) as con:  # as recorded before logins were left out
        con.execute("UPDATE _gl_workspace_config SET value = ? WHERE key = 'spool'",
                    [f'"{given}"'])
    with gantry.Workspace(db=path, spool=given) as ws:
        assert ws.spool == given
    with pytest.raises(gantry.ValidationError, match="not 's3://other/spool'") as caught:
        gantry.Workspace(db=path, spool="s3://other/spool")
    assert "s3cr3t" not in str(caught.value)
