"""Versioned datasets: one behaviour suite, run on a local folder, memory:// and S3 (moto)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry

from .conftest import Storage


def frame(keys: list[str], values: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"__join_key": keys, "x": values})


def test_push_read_and_list_versions(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("train")
    v1 = ds.push_dataframe(frame(["a", "b"], [1, 2]), message="first")
    v2 = ds.push_dataframe(frame(["a", "b", "c"], [1, 2, 3]))
    assert ds.read().to_dict(as_series=False) == {"__join_key": ["a", "b", "c"], "x": [1, 2, 3]}
    assert ds.read(v1["version_id"])["x"].to_list() == [1, 2]
    versions = ds.list_versions()
    assert [v["version_id"] for v in versions] == [v2["version_id"], v1["version_id"]]
    assert [v["is_latest_version"] for v in versions] == [True, False]
    assert versions[1]["message"] == "first" and versions[0]["rows"] == {"data": 3}
    assert versions[0]["parent_version_id"] == v1["version_id"]
    assert dws.list_dataset_versions("train") == versions


def test_tables_from_pandas_and_arrow_and_other_files_kept(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("multi")
    ds.push_dataframe(pd.DataFrame({"a": [1.5, 2.5]}), filename="features")
    ds.push_dataframe(pa.table({"y": ["p", "q"]}), filename="labels")
    ds.push_dataframe(pl.DataFrame({"a": [9.0]}), filename="features")  # replaces, keeps labels
    assert ds.read(filename="features")["a"].to_list() == [9.0]
    assert ds.read(filename="labels")["y"].to_list() == ["p", "q"]
    with pytest.raises(gantry.ValidationError, match=r"different schemas: features.*labels"):
        ds.read()
    assert ds.read_pandas(filename="labels")["y"].tolist() == ["p", "q"]


def test_empty_frames_are_versioned(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("empty")
    ds.push_dataframe(pl.DataFrame({"x": pl.Series([], dtype=pl.Int64)}))
    assert ds.read().height == 0 and ds.read().columns == ["x"]


def test_append_adds_an_object_and_keeps_history(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("curated")
    first = ds.append_dataframe(frame(["a"], [1]), lineage={"interval": "day 1"})
    ds.append_dataframe(frame(["b", "c"], [2, 3]))
    assert ds.read()["x"].to_list() == [1, 2, 3]
    assert ds.read(first["version_id"])["x"].to_list() == [1]
    assert ds.list_versions()[-1]["lineage"] == {"interval": "day 1"}
    with pytest.raises(gantry.ValidationError, match=r"cannot append.*column 'x'"):
        ds.append_dataframe(pl.DataFrame({"x": ["z"]}))  # widening: test_datasets_schema_change


def test_push_file_tables_and_artifacts(dws: gantry.Workspace, tmp_path: Path) -> None:
    ds = dws.create_dataset("files")
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2,y\n")
    pq_path = tmp_path / "p.parquet"
    pl.DataFrame({"c": [1.0]}).write_parquet(pq_path)
    (tmp_path / "j.jsonl").write_text('{"d": 1}\n{"d": 2}\n')
    (tmp_path / "model.bin").write_bytes(b"\x00\x01weights")
    for name in ("t.csv", "p.parquet", "j.jsonl", "model.bin"):
        ds.push_file(tmp_path / name)
    assert ds.read(filename="t")["b"].to_list() == ["x", "y"]
    assert ds.read(filename="p")["c"].to_list() == [1.0]
    assert ds.read(filename="j")["d"].to_list() == [1, 2]
    assert ds.read_artifact("model.bin") == b"\x00\x01weights"
    with pytest.raises(gantry.NotFoundError):
        ds.push_file(tmp_path / "missing.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(gantry.ValidationError, match="cannot read"):
        ds.push_file(tmp_path / "bad.csv")


def test_rollback_makes_a_new_version_with_old_content(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("rb")
    v1 = ds.push_dataframe(frame(["a"], [1]))
    ds.push_dataframe(frame(["a"], [2]))
    rolled = ds.rollback(v1["version_id"][:8])
    assert rolled["message"] == f"Rollback dataset to version: {v1['version_id']}"
    assert ds.read()["x"].to_list() == [1]
    assert len(ds.list_versions()) == 3


def test_prefix_resolution(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("prefix")
    ids = [ds.push_dataframe(frame(["a"], [i]))["version_id"] for i in range(40)]
    assert ds.resolve(ids[5][:10]) == ids[5]
    assert ds.resolve(ids[5].upper()[:12]) == ids[5]
    with pytest.raises(gantry.ValidationError, match="at least 6"):
        ds.resolve(ids[5][:5])
    with pytest.raises(gantry.NotFoundError):
        ds.resolve("ffffff0000")
    # find two ids sharing a 6+ prefix is unlikely with 40; force ambiguity with a fake log
    by_prefix: dict[str, list[str]] = {}
    for vid in ids:
        by_prefix.setdefault(vid[:1], []).append(vid)
    shared = next(v for v in by_prefix.values() if len(v) > 1)
    with pytest.raises(gantry.ValidationError, match="at least 6"):
        ds.resolve(shared[0][:1])


def test_ambiguous_prefix_lists_candidates(dws: gantry.Workspace, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    ds = dws.create_dataset("amb")
    ds.push_dataframe(frame(["a"], [1]))
    fake = [(1, "abcdef01" + "0" * 56), (2, "abcdef02" + "0" * 56)]
    monkeypatch.setattr(ds, "_log", lambda: fake)
    with pytest.raises(gantry.ValidationError, match=r"ambiguous.*abcdef01.*abcdef02"):
        ds.resolve("abcdef0")


def test_row_level_diff(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("diff")
    a = ds.push_dataframe(frame(["a", "b", "c"], [1, 2, 3]))["version_id"]
    b = ds.push_dataframe(pl.DataFrame({"__join_key": ["a", "b", "d"], "x": [1, 20, 4],
                                        "new": [True, False, True]}))["version_id"]
    d = ds.diff(a, b)
    assert d.key == "__join_key"
    assert d.added["__join_key"].to_list() == ["d"]
    assert d.removed["__join_key"].to_list() == ["c"]
    assert d.changed["__join_key"].to_list() == ["b"]
    assert d.columns_added == ["new"] and d.columns_removed == []
    assert "1 added, 1 removed, 1 changed" in str(d)
    whole = ds.diff(a, b, key=None, filename="data")
    assert whole.counts["added"] == 1
    plain = dws.create_dataset("plain")
    p1 = plain.push_dataframe(pl.DataFrame({"v": [1, 1, 2]}))["version_id"]
    p2 = plain.push_dataframe(pl.DataFrame({"v": [1, 3, 3]}))["version_id"]
    rows = plain.diff(p1, p2)
    assert rows.key is None
    assert sorted(rows.added["v"].to_list()) == [3, 3]
    assert sorted(rows.removed["v"].to_list()) == [1, 2]
    retyped = plain.push_dataframe(pl.DataFrame({"v": ["x"]}))["version_id"]
    assert plain.diff(p2, retyped).columns_retyped == {"v": ("int64", "large_string")}
    with pytest.raises(gantry.ValidationError, match="not a column"):
        plain.diff(p1, p2, key="nope")


def _flip_a_byte(storage: Storage, ws: gantry.Workspace, digest: str) -> None:
    store = ws.datasets.store
    path = f"objects/{digest[:2]}/{digest}"
    data = bytearray(store.read(path))
    data[len(data) // 2] ^= 0xFF
    store.put_atomic(path, bytes(data))


def test_flipped_byte_is_caught_only_where_used(dws: gantry.Workspace, storage: Storage) -> None:
    ds = dws.create_dataset("integrity")
    v1 = ds.push_dataframe(frame(["a"], [1]), filename="one")["version_id"]
    v2 = ds.push_dataframe(frame(["b"], [2]), filename="two")["version_id"]
    assert ds.verify()["versions"] == 2
    digest = ds.manifest(v2).files["two"].parts[0].object
    _flip_a_byte(storage, dws, digest)
    with pytest.raises(gantry.IntegrityError, match=f"integrity.*{v2}.*'two'.*{digest}"):
        ds.read(v2, filename="two")
    with pytest.raises(gantry.IntegrityError, match=digest):
        ds.verify(v2)
    with pytest.raises(gantry.IntegrityError):
        ds.verify()
    assert ds.read(v1, filename="one")["x"].to_list() == [1]
    assert ds.read(v2, filename="one")["x"].to_list() == [1]
    assert ds.verify(v1)["objects"] == 1
    dws.datasets.store.delete(f"objects/{digest[:2]}/{digest}")
    with pytest.raises(gantry.IntegrityError, match="missing"):
        ds.read(v2, filename="two")


def test_same_content_is_stored_once(dws: gantry.Workspace) -> None:
    a, b = dws.create_dataset("a"), dws.create_dataset("b")
    a.push_dataframe(frame(["k"], [1]))
    b.push_dataframe(frame(["k"], [1]))
    a.push_dataframe(frame(["k"], [1]))
    assert len(dws.datasets.store.walk_objects()) == 1


def test_delete_restore_and_list(dws: gantry.Workspace) -> None:
    dws.create_dataset("keep")
    gone = dws.create_dataset("gone")
    gone.push_dataframe(frame(["a"], [1]))
    dws.delete_dataset("gone")
    assert [d["name"] for d in dws.list_datasets()] == ["keep"]
    assert [d["name"] for d in dws.list_datasets(include_deleted=True)] == ["gone", "keep"]
    with pytest.raises(gantry.NotFoundError, match="restore_dataset"):
        dws.get_dataset("gone")
    with pytest.raises(gantry.AlreadyExistsError, match="deleted"):
        dws.create_dataset("gone")
    assert dws.restore_dataset("gone").read()["x"].to_list() == [1]
    with pytest.raises(gantry.AlreadyExistsError):
        dws.create_dataset("keep")


def test_gc_deletes_only_unreferenced_objects(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("gc")
    ds.push_dataframe(frame(["a"], [1]))
    orphan = dws.datasets.store.put_object(b"nobody points at me")
    assert dws.gc(dry_run=False)["unreferenced"] == []  # young: maybe a push in flight
    assert dws.datasets.store.exists(f"objects/{orphan[:2]}/{orphan}")
    report = dws.gc(grace=timedelta(0))
    assert report["unreferenced"] == [orphan] and report["deleted"] is False
    assert report["bytes"] == len(b"nobody points at me")
    assert dws.datasets.store.exists(f"objects/{orphan[:2]}/{orphan}")
    dws.gc(dry_run=False, grace=timedelta(0))
    assert not dws.datasets.store.exists(f"objects/{orphan[:2]}/{orphan}")
    assert ds.verify()["objects"] == 1


BAD_NAMES = ["", "a/b", "..", ".", "x\x00y", "/abs", "a\\b", "../up"]


@pytest.mark.parametrize("name", [*BAD_NAMES, "sp ace", "a" * 129])
def test_bad_dataset_names(dws: gantry.Workspace, name: str) -> None:
    with pytest.raises(gantry.ValidationError):
        dws.create_dataset(name)
    assert dws.list_datasets() == []


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_file_names(dws: gantry.Workspace, name: str, tmp_path: Path) -> None:
    ds = dws.create_dataset("ok")
    with pytest.raises(gantry.ValidationError, match="not allowed"):
        ds.push_dataframe(frame(["a"], [1]), filename=name)
    with pytest.raises(gantry.ValidationError, match="not allowed"):
        ds.append_dataframe(frame(["a"], [1]), filename=name)
    (tmp_path / "t.csv").write_text("a\n1\n")
    with pytest.raises(gantry.ValidationError, match="not allowed"):
        ds.push_file(tmp_path / "t.csv", filename=name)
    assert ds.list_versions() == []


def test_teammate_reads_with_only_the_url(dws: gantry.Workspace, storage: Storage) -> None:
    ds = dws.create_dataset("shared")
    vid = ds.push_dataframe(frame(["a"], [7]))["version_id"]
    with gantry.Workspace(db=":memory:", storage=storage.url,
                          storage_options=storage.options) as other:
        assert [d["name"] for d in other.list_datasets()] == ["shared"]
        theirs = other.get_dataset("shared")
        assert theirs.read(vid[:8])["x"].to_list() == [7]
        assert theirs.verify()["versions"] == 1


def test_explicit_parent_that_is_not_latest_conflicts(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("conflict")
    v1 = ds.push_dataframe(frame(["a"], [1]))["version_id"]
    ds.push_dataframe(frame(["a"], [2]))
    with pytest.raises(gantry.ConflictError, match="moved on"):
        ds.push_dataframe(frame(["a"], [3]), parent_version_id=v1)
    assert len(ds.list_versions()) == 2


def test_working_copy_flow(dws: gantry.Workspace, tmp_path: Path) -> None:
    ds = dws.create_dataset("wc")
    ds.push_dataframe(frame(["a", "b"], [1, 2]), filename="train")
    pulled = ds.pull()
    assert pulled["version_id"] == ds.list_versions()[0]["version_id"]
    assert pulled["is_latest_version"] is True
    folder = ds.folder
    assert folder == tmp_path / "work" / "wc"
    csv = folder / "tabular_manifests" / "train.csv"
    assert csv.read_text().splitlines()[0] == '"__join_key","x"'
    assert ds.get_diff() == {"new_files": [], "modified_files": [], "deleted_files": []}
    csv.write_text(csv.read_text() + '"c",3\n')
    (folder / "artifacts" / "notes.txt").write_text("hello")
    assert ds.get_diff() == {"new_files": ["artifacts/notes.txt"],
                             "modified_files": ["tabular_manifests/train.csv"],
                             "deleted_files": []}
    with pytest.raises(gantry.ConflictError, match="local changes"):
        ds.pull()
    pushed = ds.push_version("added c and notes")
    assert ds.read(filename="train")["x"].to_list() == [1, 2, 3]
    assert ds.read_artifact("notes.txt") == b"hello"
    assert ds.get_diff() == {"new_files": [], "modified_files": [], "deleted_files": []}
    assert pushed["message"] == "added c and notes"
    # a stale working copy gets Gantry's head-out-of-date conflict
    ds.push_dataframe(frame(["z"], [26]), filename="train")
    csv.write_text(csv.read_text() + '"d",4\n')
    with pytest.raises(gantry.ConflictError):
        ds.push_version("stale")
    # stash, pull the new head, restore the edit
    assert ds.stash() == ["tabular_manifests/train.csv"]
    assert ds.get_diff()["modified_files"] == []
    ds.pull()
    assert ds.restore() == ["artifacts/notes.txt", "tabular_manifests/train.csv"]
    assert '"d",4' in csv.read_text()
    ds.pull(forced=True)
    assert '"d",4' not in csv.read_text()
    (folder / "artifacts" / "notes.txt").unlink()
    assert ds.get_diff()["deleted_files"] == ["artifacts/notes.txt"]
    ds.push_version("drop notes")
    assert "notes.txt" not in ds.list_versions()[0]["files"]


def test_export_names_file_after_dataset_and_version(dws: gantry.Workspace, tmp_path: Path) -> None:
    ds = dws.create_dataset("exp")
    vid = ds.push_dataframe(frame(["a"], [1]))["version_id"]
    out = ds.export(vid, tmp_path, format="parquet")
    assert out.name == f"exp-{vid[:12]}.parquet"
    assert pl.read_parquet(out)["x"].to_list() == [1]
    assert ds.export(None, tmp_path).name == f"exp-{vid[:12]}.csv"
    with pytest.raises(gantry.ValidationError, match="format"):
        ds.export(vid, tmp_path, format="xlsx")


def test_working_directory_from_the_environment(storage: Storage, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GANTRY_DATASET_WORKING_DIR", str(tmp_path / "from-env"))
    with gantry.Workspace(db=":memory:", storage=storage.url,
                          storage_options=storage.options) as ws:
        ds = ws.create_dataset("envdir")
        ds.push_dataframe(frame(["a"], [1]))
        ds.pull()
        assert (tmp_path / "from-env" / "envdir" / "tabular_manifests" / "data.csv").is_file()
        assert ds.workspace == str(tmp_path / "from-env")
        monkeypatch.delenv("GANTRY_DATASET_WORKING_DIR")
        monkeypatch.chdir(tmp_path)
        ds.pull(forced=True)
        assert ds.folder == tmp_path / "envdir"
        assert (tmp_path / "envdir" / "tabular_manifests" / "data.csv").is_file()
        with pytest.raises(gantry.ValidationError, match="format"):
            ds.pull(format="xlsx")


def test_bad_message_or_parent_uploads_nothing(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("nothing")
    with pytest.raises(gantry.ValidationError, match="message must be a string"):
        ds.push_dataframe(frame(["a"], [1]), message=5)  # type: ignore[arg-type]
    with pytest.raises(gantry.NotFoundError):
        ds.append_dataframe(frame(["a"], [1]), parent_version_id="abcdef123")
    assert dws.datasets.store.walk_objects() == [] and ds.list_versions() == []
