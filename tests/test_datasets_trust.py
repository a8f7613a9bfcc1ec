"""Datasets trust nothing they read: crafted storage, several files a version, lists in CSV,
temp files of failed pushes, a full disk."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import gantry_local as gantry
from gantry_local.datasets import TableDiff

from .conftest import S3_OPTIONS, Storage, make_bucket


@pytest.fixture(params=["local", "s3"])
def shared(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    """A store other people can write to: a folder, or a bucket on the moto S3 server."""
    if request.param == "local":
        return Storage("local", str(tmp_path / "store"), {})
    endpoint = request.getfixturevalue("s3_endpoint")
    return Storage("s3", f"s3://{make_bucket(endpoint)}/p", {**S3_OPTIONS, "endpoint_url": endpoint})


def open_ws(storage: Storage, tmp_path: Path) -> gantry.Workspace:
    ws = gantry.Workspace(db=":memory:", storage=storage.url, storage_options=storage.options)
    ws.set_working_directory(tmp_path / "work")
    return ws


def craft_version(ws: gantry.Workspace, name: str, change: Callable[[dict[str, Any]], None]
                  ) -> str:
    """Commit a hand-made manifest (as anyone with write access could): its hash checks out."""
    store = ws.datasets.store
    ds = ws.get_dataset(name)
    head = ds.resolve()
    body = json.loads(store.read(f"datasets/{name}/manifests/{head}.json"))
    change(body)
    data = json.dumps(body).encode()
    vid = hashlib.sha256(data).hexdigest()
    store.put_atomic(f"datasets/{name}/manifests/{vid}.json", data)
    seq = len(ds.list_versions()) + 1
    store.put_atomic(f"datasets/{name}/log/{seq:012d}.json",
                     json.dumps({"version_id": vid, "parent": head}).encode())
    return vid


def files_under(path: Path) -> set[str]:
    return {str(p) for p in path.rglob("*")}


def test_a_crafted_table_name_cannot_make_pull_write_outside(shared: Storage, tmp_path: Path
                                                              ) -> None:
    with open_ws(shared, tmp_path) as ws:
        ds = ws.create_dataset("shared")
        ds.push_dataframe(pl.DataFrame({"a": [1]}))

        def escape(body: dict[str, Any]) -> None:
            body["files"]["../../x"] = body["files"].pop("data")

        vid = craft_version(ws, "shared", escape)
        before = files_under(tmp_path)
        with pytest.raises(gantry.IntegrityError, match=rf"manifests/{vid}\.json.*'\.\./\.\./x'"):
            ds.pull()
        assert files_under(tmp_path) == before
        assert not (tmp_path / "x").exists() and not (tmp_path / "x.csv").exists()
    cli = subprocess.run([sys.executable, "-m", "gantry_local.cli", "datasets", "pull", "shared",
                          "--storage", shared.url, *_cli_options(shared), "--working-dir",
                          str(tmp_path / "work")], capture_output=True, text=True)
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "corrupt" in cli.stderr + cli.stdout and "Traceback" not in cli.stderr
    assert files_under(tmp_path) == before


def _cli_options(storage: Storage) -> list[str]:
    if storage.kind != "s3":
        return []
    return ["--storage-option", f"endpoint_url={storage.options['endpoint_url']}",
            "--storage-option", "key=testing", "--storage-option", "secret=testing"]


def test_a_crafted_hash_never_opens_a_file_outside_the_root(shared: Storage, tmp_path: Path
                                                             ) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    secret_sha = hashlib.sha256(b"top secret").hexdigest()
    with open_ws(shared, tmp_path) as ws:
        ds = ws.create_dataset("shared")
        ds.push_dataframe(pl.DataFrame({"a": [1]}))
        depth = "../" * 12 + str(outside).lstrip("/")

        def point_outside(body: dict[str, Any]) -> None:
            body["files"]["data"]["parts"][0]["object"] = depth

        vid = craft_version(ws, "shared", point_outside)
        for call in (lambda: ds.read(vid), lambda: ds.verify(vid), lambda: ds.pull(vid),
                     lambda: ws.gc(grace=timedelta(0))):
            with pytest.raises(gantry.IntegrityError, match="not a sha256") as caught:
                call()
            assert secret_sha not in str(caught.value)


def test_corrupt_files_are_named_and_listings_go_on(shared: Storage, tmp_path: Path) -> None:
    with open_ws(shared, tmp_path) as ws:
        store = ws.datasets.store
        for name in ("alpha", "beta", "gamma"):
            ws.create_dataset(name).push_dataframe(pl.DataFrame({"a": [1]}))
        store.put_atomic("datasets/beta/dataset.json", b"{not json")
        store.put_atomic("datasets/gamma/log/000000000002.json", b'{"parent": null}')
        with pytest.warns(RuntimeWarning, match="is corrupt") as warned:
            listing = {d["name"]: d for d in ws.list_datasets()}
        messages = " ".join(str(w.message) for w in warned)
        assert "beta/dataset.json" in messages and "gamma/log/000000000002.json" in messages
        assert listing["alpha"]["error"] is None and listing["alpha"]["versions"] == 1
        assert "beta/dataset.json" in listing["beta"]["error"]
        assert listing["gamma"]["versions"] is None and "version_id" in listing["gamma"]["error"]
        with pytest.raises(gantry.IntegrityError, match=r"beta/dataset\.json.*not valid JSON"):
            ws.get_dataset("beta")
        gamma = ws.get_dataset("gamma")
        with pytest.raises(gantry.IntegrityError, match=r"gamma/log/000000000002\.json.*version_id"):
            gamma.read()
        with pytest.warns(RuntimeWarning):
            versions = gamma.list_versions()
        assert [v["error"] is None for v in versions] == [False, True]
        assert versions[1]["version_id"] is not None and versions[0]["version_id"] is None
        with pytest.raises(gantry.IntegrityError, match="gamma/log"):
            gamma.push_dataframe(pl.DataFrame({"a": [2]}))  # never on top of an unknown head
        with pytest.raises(gantry.IntegrityError, match="gamma/log"):
            ws.gc(dry_run=False, grace=timedelta(0))  # cannot know what gamma references


def test_a_table_pointing_at_a_non_parquet_object_is_an_integrity_error(dws: gantry.Workspace,
                                                                          tmp_path: Path) -> None:
    ds = dws.create_dataset("mixed")
    ds.push_dataframe(pl.DataFrame({"a": [1]}))
    (tmp_path / "notes.txt").write_text("hello")
    ds.push_file(tmp_path / "notes.txt")
    artifact = ds.manifest().files["notes.txt"].parts[0].object

    def swap(body: dict[str, Any]) -> None:
        body["files"]["data"]["parts"][0]["object"] = artifact

    vid = craft_version(dws, "mixed", swap)
    with pytest.raises(gantry.IntegrityError, match="not a readable Parquet"):
        ds.read(vid, filename="data")


# -- several files a version --------------------------------------------------------------------

def test_diff_covers_every_file_of_two_versions(dws: gantry.Workspace, tmp_path: Path) -> None:
    ds = dws.create_dataset("parts")
    a = pl.DataFrame({"__join_key": ["k1", "k2"], "x": [1, 2]})
    b = pl.DataFrame({"__join_key": ["k3"], "x": [3]})
    v1 = ds.push_dataframe(a, filename="part-a")["version_id"]
    v2 = ds.push_dataframe(b, filename="part-b")["version_id"]
    d = ds.diff(v1, v2)
    assert d.files_added == ["part-b"] and d.files_removed == [] and d.files_changed == []
    assert d.counts == {"added": 1, "removed": 0, "changed": 0}
    assert list(d.tables) == ["part-b"] and d.added["__join_key"].to_list() == ["k3"]
    v3 = ds.push_dataframe(pl.DataFrame({"__join_key": ["k1", "k4"], "x": [10, 4]}),
                           filename="part-a")["version_id"]
    (tmp_path / "notes.txt").write_text("v4")
    v4 = ds.push_file(tmp_path / "notes.txt")["version_id"]
    ds.delete_file("part-b")
    d = ds.diff(v2, ds.resolve())
    assert (d.files_added, d.files_removed, d.files_changed) == (["notes.txt"], ["part-b"],
                                                                  ["part-a"])
    assert isinstance(d.tables["part-a"], TableDiff)
    assert d.tables["part-a"].counts == {"added": 1, "removed": 1, "changed": 1}
    assert d.tables["part-b"].counts == {"added": 0, "removed": 1, "changed": 0}
    assert d.counts == {"added": 1, "removed": 2, "changed": 1}
    assert sorted(d.removed["__file"].to_list()) == ["part-a", "part-b"]
    assert "files removed: part-b" in str(d) and "1 added, 2 removed, 1 changed" in str(d)
    assert ds.diff(v3, v4).counts == {"added": 0, "removed": 0, "changed": 0}
    assert ds.diff(v3, v4).files_added == ["notes.txt"]
    only_a = ds.diff(v1, v3, filename="part-a")
    assert list(only_a.tables) == ["part-a"] and only_a.key == "__join_key"


def test_read_combines_tables_of_one_schema(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("shards")
    ds.push_dataframe(pl.DataFrame({"x": [1, 2]}), filename="b-shard")
    ds.push_dataframe(pl.DataFrame({"x": [3]}), filename="a-shard")
    both = ds.read()
    assert both.to_dict(as_series=False) == {"x": [3, 1, 2],
                                             "__file": ["a-shard", "b-shard", "b-shard"]}
    assert ds.read(filename="b-shard")["x"].to_list() == [1, 2]
    ds.push_dataframe(pl.DataFrame({"y": ["z"]}), filename="c-other")
    with pytest.raises(gantry.ValidationError,
                       match=r"different schemas: a-shard \(x: int64\); b-shard \(x: int64\); "
                             r"c-other \(y: large_string\)"):
        ds.read()


# -- lists and structs through CSV -----------------------------------------------------------------

def test_list_and_struct_columns_pull_and_push_back_as_csv(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("nested")
    frame = pl.DataFrame({"id": [1, 2, 3], "tags": [["a", "b"], [], None],
                          "scores": [[1.5], [2.0, 3.0], [4.0]],
                          "meta": [{"k": 1, "v": "x"}, {"k": 2, "v": None}, None]})
    first = ds.push_dataframe(frame)["version_id"]
    ds.pull()
    folder = ds.folder / "tabular_manifests"
    text = (folder / "data.csv").read_text()
    assert '"[""a"", ""b""]"' in text and "{" in text
    path = ds.export(first, ds.folder.parent)
    assert path.read_text() == text
    edited = text.replace("[2.0, 3.0]", "[2.0, 3.5]")
    (folder / "data.csv").write_text(edited)
    pushed = ds.push_version("bump one score")
    back = ds.read(pushed["version_id"])
    assert back["scores"].to_list() == [[1.5], [2.0, 3.5], [4.0]]
    assert back["tags"].to_list() == [["a", "b"], [], None]
    assert back["meta"].to_list() == frame["meta"].to_list()
    assert back.schema == ds.read(first).schema
    (folder / "data.csv").write_text(edited.replace("[2.0, 3.5]", "not json"))
    with pytest.raises(gantry.ValidationError, match=r"column 'scores'.*JSON"):
        ds.push_version("broken")


# -- temp files and a full disk ----------------------------------------------------------------------

def test_gc_removes_temp_files_older_than_its_grace(tmp_path: Path) -> None:
    with gantry.Workspace(db=":memory:", storage=str(tmp_path / "store")) as ws:
        ds = ws.create_dataset("t")
        ds.push_dataframe(pl.DataFrame({"a": [1]}))
        old = tmp_path / "store" / "objects" / "ab" / "abc.0f.tmp"
        old.parent.mkdir(parents=True, exist_ok=True)
        old.write_bytes(b"half an object")
        stamp = time.time() - 7200
        os.utime(old, (stamp, stamp))
        young = tmp_path / "store" / "datasets" / "t" / "log" / "000000000002.json.1.tmp"
        young.write_bytes(b"{}")
        report = ws.gc()
        assert report["temp_files"] == ["objects/ab/abc.0f.tmp"] and report["temp_bytes"] == 14
        assert old.exists() and report["deleted"] is False
        assert ws.gc(dry_run=False)["temp_files"] == ["objects/ab/abc.0f.tmp"]
        assert not old.exists() and young.exists()
        assert ds.read()["a"].to_list() == [1]


DISK_FULL = textwrap.dedent("""
    import resource, sys
    import numpy as np, polars as pl
    import gantry_local as gantry
    ws = gantry.Workspace(db=":memory:", storage=sys.argv[1])
    ds = ws.get_dataset("full")
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
    big = pl.DataFrame({"x": np.random.default_rng(1).random(400_000)})
    try:
        ds.push_dataframe(big, message="too big")
    except gantry.StorageError as exc:
        print("StorageError:", exc)
    ds.push_dataframe(pl.DataFrame({"x": [2.0]}), message="small")
    print("small pushed")
""")


def test_a_full_disk_while_pushing_is_a_clear_error_and_leaves_no_trace(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with gantry.Workspace(db=":memory:", storage=str(store)) as ws:
        ws.create_dataset("full").push_dataframe(pl.DataFrame({"x": [1.0]}))
    child = subprocess.run([sys.executable, "-c", DISK_FULL, str(store)], capture_output=True,
                           text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert "StorageError:" in child.stdout and "disk is full or a file-size limit" in child.stdout
    assert "small pushed" in child.stdout
    assert not [p for p in store.rglob("*.tmp")]  # the failed write cleaned up after itself
    with gantry.Workspace(db=":memory:", storage=str(store)) as ws:
        ds = ws.get_dataset("full")
        assert [v["message"] for v in ds.list_versions()][:1] == ["small"]
        assert len(ds.list_versions()) == 2 and ds.verify()["versions"] == 2
        assert_frame_equal(ds.read(), pl.DataFrame({"x": [2.0]}))


def test_an_arrow_table_with_duplicate_columns_is_refused_before_any_write(
        dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("dups")
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    with pytest.raises(gantry.ValidationError, match=r"duplicate columns \['a'\]"):
        ds.push_dataframe(table)
    assert dws.datasets.store.walk_objects() == [] and ds.list_versions() == []


nested_rows = st.lists(st.tuples(
    st.one_of(st.none(), st.lists(st.text(max_size=6), max_size=3)),
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(-2**62, 2**62)), max_size=3)),
    st.one_of(st.none(), st.fixed_dictionaries({"a": st.one_of(st.none(), st.floats(
        allow_nan=False, allow_infinity=False)), "b": st.one_of(st.none(), st.text(max_size=5))})),
), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=nested_rows)
def test_nested_columns_round_trip_through_an_edited_csv(rows: list[Any], tmp_path: Path) -> None:
    frame = pl.DataFrame(
        [(i, *row) for i, row in enumerate(rows)], orient="row",
        schema={"id": pl.Int64, "words": pl.List(pl.String), "ints": pl.List(pl.Int64),
                "pair": pl.Struct({"a": pl.Float64, "b": pl.String})})
    with gantry.Workspace(db=":memory:", storage=f"memory://nested-{time.monotonic_ns()}") as ws:
        ws.set_working_directory(tmp_path / f"w{time.monotonic_ns()}")
        ds = ws.create_dataset("n")
        ds.push_dataframe(frame)
        ds.pull()
        csv = ds.folder / "tabular_manifests" / "data.csv"
        csv.write_text(csv.read_text() + "\n")  # modified: push_version parses it again
        assert_frame_equal(ds.read(ds.push_version("touched")["version_id"]), frame)


def test_the_report_skips_a_corrupt_version_of_a_curated_dataset(ws: gantry.Workspace,
                                                                 tmp_path: Path) -> None:
    app = ws.create_application("model")
    app.log_records(inputs=[{"x": 1.0}, {"x": 2.0}], outputs=[1, 0])
    ds = ws.create_dataset("curated", app_name=app)
    ds.push_dataframe(pl.DataFrame({"x": [1.0]}))
    ds.push_dataframe(pl.DataFrame({"x": [1.0, 2.0]}))
    ws.datasets.store.put_atomic("datasets/curated/log/000000000003.json", b"[]")
    with pytest.warns(RuntimeWarning, match=r"curated/log/000000000003\.json"):
        page = app.report(tmp_path / "r.html").read_text()
    assert "curated: 2 versions" in page


PULL_DISK_FULL = textwrap.dedent("""
    import resource, sys
    import gantry_local as gantry
    ws = gantry.Workspace(db=":memory:", storage=sys.argv[1])
    ws.set_working_directory(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        ws.get_dataset("full").pull()
    except gantry.StorageError as exc:
        print("StorageError:", exc)
""")


def test_a_full_disk_while_pulling_leaves_the_working_copy_as_it_was(tmp_path: Path) -> None:
    store, work = tmp_path / "store", tmp_path / "work"
    with gantry.Workspace(db=":memory:", storage=str(store)) as ws:
        ws.create_dataset("full").push_dataframe(pl.DataFrame({"x": list(range(100_000))}))
    child = subprocess.run([sys.executable, "-c", PULL_DISK_FULL, str(store), str(work)],
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert "StorageError:" in child.stdout and "File too large" in child.stdout
    assert not (work / "full").exists()
