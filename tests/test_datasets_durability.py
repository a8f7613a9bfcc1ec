"""Datasets under stress: crashes mid-push, concurrent writers, storage failures, properties."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import gantry_local as gantry

from ._sigkill import Zygote, kill
from .conftest import S3_OPTIONS, Storage, make_bucket


def _child(script: str, storage: Storage, *args: str) -> subprocess.Popen[str]:
    code = textwrap.dedent(f"""
        import json, sys
        import polars as pl
        import gantry_local as gantry
        ws = gantry.Workspace(db=":memory:", storage={storage.url!r},
                              storage_options=json.loads({json.dumps(storage.options)!r}))
    """) + textwrap.dedent(script)
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(params=["local", "s3"])
def shared_storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return Storage("local", str(tmp_path / "store"), {})
    endpoint = request.getfixturevalue("s3_endpoint")
    return Storage("s3", f"s3://{make_bucket(endpoint)}/p", {**S3_OPTIONS, "endpoint_url": endpoint})


APPEND_FOREVER = textwrap.dedent("""
    def append_forever(url):
        import polars as pl
        ds = gantry.Workspace(db=":memory:", storage=url).get_dataset("crash")
        print("ready", os.getpid(), flush=True)
        i = 0
        while True:
            i += 1
            ds.append_dataframe(pl.DataFrame({"i": list(range(i, i + 500))}))
""")


@pytest.mark.slow
def test_sigkill_mid_push_leaves_only_complete_versions(tmp_path: Path) -> None:
    storage = Storage("local", str(tmp_path / "store"), {})
    with gantry.Workspace(db=":memory:", storage=storage.url) as ws:
        ws.create_dataset("crash").push_dataframe(pl.DataFrame({"i": [0]}))
    rng = random.Random(20)
    with contextlib.closing(Zygote(APPEND_FOREVER)) as zygote:  # forks: no start-up each
        for trial in range(20):
            pid = zygote.start("append_forever", storage.url)
            time.sleep(rng.uniform(0, 0.15))
            kill(pid)
            with gantry.Workspace(db=":memory:", storage=storage.url) as ws:
                ds = ws.get_dataset("crash")
                versions = ds.list_versions()
                assert ds.verify()["versions"] == len(versions)
                parents = [v["parent_version_id"] for v in reversed(versions)]
                ids = [v["version_id"] for v in reversed(versions)]
                assert parents[1:] == ids[:-1], f"trial {trial}: history is not linear"
                ds.append_dataframe(pl.DataFrame({"i": [-trial]}))  # the next push works
                assert ds.read()["i"].to_list()[-1] == -trial


@pytest.mark.slow
def test_two_processes_push_fifty_versions_each(shared_storage: Storage) -> None:
    with gantry.Workspace(db=":memory:", storage=shared_storage.url,
                          storage_options=shared_storage.options) as ws:
        ws.create_dataset("race")
    writers = [_child("""
        ds = ws.get_dataset("race")
        for n in range(50):
            ds.append_dataframe(pl.DataFrame({"writer": [sys.argv[1]], "n": [n]}))
        print("done", flush=True)
    """, shared_storage, name) for name in ("a", "b")]
    for writer in writers:
        _, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
    with gantry.Workspace(db=":memory:", storage=shared_storage.url,
                          storage_options=shared_storage.options) as ws:
        ds = ws.get_dataset("race")
        versions = ds.list_versions()
        assert len(versions) == 100
        ids = [v["version_id"] for v in reversed(versions)]
        parents = [v["parent_version_id"] for v in reversed(versions)]
        assert parents == [None, *ids[:-1]]
        rows = ds.read()
        for name in ("a", "b"):
            assert sorted(rows.filter(pl.col("writer") == name)["n"].to_list()) == list(range(50))


def test_unreachable_or_missing_s3_is_a_storage_error(s3_endpoint: str) -> None:
    with gantry.Workspace(db=":memory:", storage="s3://no-such-bucket-here/x",
                          storage_options={**S3_OPTIONS, "endpoint_url": s3_endpoint}) as ws, \
            pytest.raises(gantry.StorageError, match="no-such-bucket-here"):
        ws.create_dataset("d")
    dead = "http://127.0.0.1:9"  # nothing listens on the discard port
    options = {**S3_OPTIONS, "endpoint_url": dead, "config_kwargs": {
        "connect_timeout": 1, "retries": {"max_attempts": 1}}}
    with gantry.Workspace(db=":memory:", storage="s3://bucket/x", storage_options=options) as ws, \
            pytest.raises(gantry.StorageError, match="endpoint"):
        ws.create_dataset("d")


frames = st.lists(st.tuples(st.text(max_size=8), st.integers(-10**12, 10**12),
                            st.floats(allow_nan=False), st.booleans()), max_size=30).map(
    lambda rows: pl.DataFrame(rows, schema={"s": pl.String, "i": pl.Int64, "f": pl.Float64,
                                            "b": pl.Boolean}, orient="row"))


@settings(max_examples=40, deadline=None)
@given(frame=frames)
def test_push_then_read_returns_an_equal_frame(frame: pl.DataFrame) -> None:
    with gantry.Workspace(db=":memory:") as ws:
        ds = ws.create_dataset("prop")
        first = ds.push_dataframe(frame)
        assert_frame_equal(ds.read(), frame)
        ds.push_dataframe(frame.clone())  # same content again: no new object
        objects = ws.datasets.store.walk_objects()
        assert len(objects) == 1
        assert ds.manifest(first["version_id"]).files["data"].parts[0].object == objects[0]


def test_version_ids_are_stable_across_processes(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys, datetime, polars as pl, gantry_local as gantry
        clock = gantry.ManualClock(datetime.datetime(2024, 5, 1))
        with gantry.Workspace(db=":memory:", storage=sys.argv[1], clock=clock) as ws:
            ds = ws.create_dataset("stable")
            ds.push_dataframe(pl.DataFrame({"x": list(range(1000)), "y": ["a"] * 1000}))
            print(ds.append_dataframe(pl.DataFrame({"x": [5], "y": ["b"]}))["version_id"])
    """)
    ids = {subprocess.run([sys.executable, "-c", script, str(tmp_path / f"s{n}")], check=True,
                          capture_output=True, text=True).stdout.strip() for n in range(2)}
    assert len(ids) == 1 and len(ids.pop()) == 64
