"""Gantry's dataset workflow with only the import changed, and the improvement-cycle tools.

The examples follow the Gantry SDK 0.6 docstrings (gantry/dataset/client.py,
gantry/dataset/gantry_dataset.py); our extras (labelled rows, splits, feedback refresh)
follow.
"""

from __future__ import annotations

import io
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

import gantry_local as gantry
import gantry_local.dataset as gdataset
import gantry_local.query as gquery

T0 = datetime(2024, 3, 1, tzinfo=timezone.utc)


@pytest.fixture
def default_ws(tmp_path: Path) -> Any:
    ws = gantry.init(api_key="unused", db=str(tmp_path / "g.duckdb"), storage=str(tmp_path / "s"),
                     clock=gantry.ManualClock(T0))
    gdataset.set_working_directory(str(tmp_path / "work"))
    yield ws
    ws.close()


def workspace_dir(tmp_path: Path) -> str:
    return str(tmp_path / "work") + "/"


# -- the SDK's docstring examples, import changed ----------------------------------------------

def test_create_get_and_list_as_the_sdk_documents(default_ws: gantry.Workspace) -> None:
    gantry.create_application("app_name")
    gdataset.create_dataset("dataset_name")
    gdataset.create_dataset("dataset_with_app", app_name="app_name")
    dataset = gdataset.get_dataset("dataset_with_app", "app_name")
    assert dataset.dataset_name == "dataset_with_app"
    with pytest.raises(gantry.NotFoundError, match="does not belong to application"):
        gdataset.get_dataset("dataset_name", "app_name")
    names = [d["name"] for d in gdataset.list_datasets()]
    assert names == ["dataset_name", "dataset_with_app"]
    assert {"name", "dataset_id", "created_at"} <= set(gdataset.list_datasets()[0])
    gdataset.delete_dataset("dataset_name")
    assert [d["name"] for d in gdataset.list_datasets()] == ["dataset_with_app"]
    assert len(gdataset.list_datasets(include_deleted=True)) == 2
    assert gdataset.list_dataset_versions("dataset_with_app") == []


def test_bucket_name_is_accepted_and_unused(default_ws: gantry.Workspace) -> None:
    ds = gdataset.create_dataset("b", "my-bucket")
    assert ds.app_name is None and ds.dataset_name == "b"


def test_push_dataframe_pull_and_read_csv(default_ws: gantry.Workspace, tmp_path: Path) -> None:
    dataset_name = "dataset_name"
    gdataset.create_dataset(dataset_name)
    dataset = gdataset.get_dataset(dataset_name)
    info = dataset.push_dataframe(pd.DataFrame({"col1": [1, 2, 3], "col2": [4, 5, 6]}),
                                  "dataframe.csv", "version info")
    assert info["message"] == "version info" and info["is_latest_version"] is True
    assert set(info) >= {"version_id", "dataset", "message", "created_at", "is_latest_version"}
    pulled = dataset.pull()
    assert pulled["version_id"] == info["version_id"]
    workspace = workspace_dir(tmp_path)
    assert dataset.workspace + "/" == workspace
    assert sorted(os.listdir(workspace + dataset_name)) == [
        ".dataset_metadata", "README.md", "artifacts", "dataset_config.yaml", "tabular_manifests"]
    assert os.listdir(workspace + dataset_name + "/tabular_manifests") == ["dataframe.csv"]
    frame = pd.read_csv(Path(workspace) / dataset_name / "tabular_manifests" / "dataframe.csv")
    assert frame["col2"].tolist() == [4, 5, 6]
    assert dataset.read(filename="dataframe.csv")["col1"].to_list() == [1, 2, 3]
    config = (Path(workspace) / dataset_name / "dataset_config.yaml").read_text()
    assert "folder: tabular_manifests" in config and '"col1": Integer' in config


def test_push_tabular_file_and_push_file_take_file_objects(default_ws: gantry.Workspace,
                                                           tmp_path: Path) -> None:
    dataset = gdataset.create_dataset("files")
    source = tmp_path / "file_to_be_added.csv"
    source.write_text("a,b\n1,x\n2,y\n")
    with open(source) as handle:
        info = dataset.push_tabular_file(handle, "dataset_file_name.csv", "version info")
    assert info["message"] == "version info"
    assert dataset.read(filename="dataset_file_name")["b"].to_list() == ["x", "y"]
    with pytest.raises(ValueError, match=r"must end with '\.csv'"):
        dataset.push_tabular_file(io.StringIO("a\n1\n"), "x.txt")
    with open(source, "rb") as handle:  # the name defaults to the file's own
        dataset.push_file(handle)
    assert "file_to_be_added" in dataset.list_versions()[0]["files"]
    dataset.push_file(io.BytesIO(b"\x89PNG..."), "image.png")
    assert dataset.read_artifact("image.png") == b"\x89PNG..."
    dataset.pull()
    assert (dataset.folder / "artifacts" / "image.png").read_bytes() == b"\x89PNG..."
    with pytest.raises(gantry.ValidationError, match="no name"):
        dataset.push_file(io.BytesIO(b"x"))


def test_rollback_as_the_sdk_documents(default_ws: gantry.Workspace) -> None:
    dataset = gdataset.get_dataset(gdataset.create_dataset("dataset_name").dataset_name)
    first = dataset.push_dataframe(pd.DataFrame({"x": [1]}), message="initial dataset commit")
    dataset.push_dataframe(pd.DataFrame({"x": [2]}), message="version info")
    dataset.pull()
    rolled = dataset.rollback(first["version_id"])
    assert rolled["message"] == f"Rollback dataset to version: {first['version_id']}"
    versions = dataset.list_versions()
    assert [v["is_latest_version"] for v in versions] == [True, False, False]
    assert versions[0]["version_id"] == rolled["version_id"]
    csv = dataset.folder / "tabular_manifests" / "data.csv"  # the working copy follows
    assert csv.read_text().splitlines()[1] == "1"
    csv.write_text('"x"\n5\n')
    with pytest.raises(gantry.ConflictError, match="local changes"):
        dataset.rollback(versions[1]["version_id"])
    dataset.rollback(versions[1]["version_id"], forced=True)
    assert csv.read_text().splitlines()[1] == "2"


def test_get_diff_push_version_stash_restore_as_documented(default_ws: gantry.Workspace) -> None:
    dataset = gdataset.create_dataset("dataset_name")
    dataset.push_dataframe(pd.DataFrame({"k": ["a"], "v": [1]}), "modified_file_1.csv")
    dataset.push_dataframe(pd.DataFrame({"k": ["a"], "v": [1]}), "deleted_file.csv")
    dataset.pull()
    folder = dataset.folder
    (folder / "tabular_manifests" / "new_file.csv").write_text("k,v\nb,2\n")
    (folder / "artifacts" / "image.png").write_bytes(b"png")
    (folder / "tabular_manifests" / "modified_file_1.csv").write_text('"k","v"\n"a",7\n')
    (folder / "tabular_manifests" / "deleted_file.csv").unlink()
    diff = {"new_files": ["artifacts/image.png", "tabular_manifests/new_file.csv"],
            "modified_files": ["tabular_manifests/modified_file_1.csv"],
            "deleted_files": ["tabular_manifests/deleted_file.csv"]}
    assert dataset.get_diff() == diff
    dataset.stash()
    assert dataset.get_diff() == {"new_files": [], "modified_files": [], "deleted_files": []}
    dataset.restore()
    assert dataset.get_diff() == diff
    info = dataset.push_version("new version notes")
    assert info["message"] == "new version notes"
    assert dataset.get_diff() == {"new_files": [], "modified_files": [], "deleted_files": []}
    assert sorted(dataset.list_versions()[0]["files"]) == ["image.png", "modified_file_1",
                                                           "new_file"]
    assert dataset.read(filename="modified_file_1")["v"].to_list() == [7]


def test_push_gantry_dataframe_stores_a_query_result(default_ws: gantry.Workspace) -> None:
    app = gantry.create_application("application")
    app.log_records(version="1.1", inputs=[{"x": i} for i in range(5)], outputs=[0] * 5,
                    timestamps=[T0 + timedelta(hours=i) for i in range(5)])
    gantry.flush()
    dataset = gdataset.create_dataset("from-query")
    dataset.pull()
    assert os.listdir(dataset.folder / "tabular_manifests") == []
    gantrydf = gquery.query(application="application", start_time=T0,
                            end_time=T0 + timedelta(hours=3), version="1.1")
    info = dataset.push_gantry_dataframe(gantrydf)
    assert info["is_latest_version"] is True
    dataset.pull()
    (name,) = os.listdir(dataset.folder / "tabular_manifests")
    assert name.startswith("GantryDataAutoSave__") and name.endswith(
        "_2024-03-01_00:00_to_2024-03-01_03:00.csv")
    assert dataset.read()["inputs.x"].to_list() == [0, 1, 2]
    with pytest.raises(gantry.ValidationError, match="GantryDataFrame"):
        dataset.push_gantry_dataframe(pd.DataFrame({"x": [1]}))


# -- pulled layout: CSV files named by version -----------------------------------------------

def test_an_appended_table_pulls_as_one_csv_per_version(ws: gantry.Workspace,
                                                        tmp_path: Path) -> None:
    ws.set_working_directory(tmp_path / "work")
    ds = ws.create_dataset("curated")
    for day in range(3):
        ds.append_dataframe(pl.DataFrame({"__join_key": [f"k{day}"], "x": [day]}))
    ds.pull()
    parts = sorted(os.listdir(ds.folder / "tabular_manifests" / "data"))
    assert parts == ["v0001.csv", "v0002.csv", "v0003.csv"]
    readme = (ds.folder / "README.md").read_text()
    for number, version in zip((3, 2, 1), ds.list_versions(), strict=True):
        assert f"v{number:04d}: {version['version_id']}" in readme
        assert version["version_number"] == number
    # editing one part re-uploads that part only
    objects = set(ws.datasets.store.walk_objects())
    (ds.folder / "tabular_manifests" / "data" / "v0002.csv").write_text('"__join_key","x"\n"k1",10\n')
    ds.push_version("fixed day 2")
    assert len(set(ws.datasets.store.walk_objects()) - objects) == 1
    assert ds.read()["x"].to_list() == [0, 10, 2]
    assert sorted(os.listdir(ds.folder / "tabular_manifests" / "data")) == parts
    (ds.folder / "tabular_manifests" / "data" / "v0004.csv").write_text('"__join_key","x"\n"k9",9\n')
    ds.push_version("a new part")
    assert ds.read()["x"].to_list() == [0, 10, 2, 9]
    (ds.folder / "tabular_manifests" / "data" / "v0009.csv").write_text('"__join_key","y"\n"k",1\n')
    ds.push_version("a part of another shape")  # the table's schema becomes the union
    assert ds.read()["y"].to_list() == [None, None, None, None, 1]
    (ds.folder / "tabular_manifests" / "data" / "v0010.csv").write_text('"__join_key","x"\n"k",a\n')
    with pytest.raises(gantry.ValidationError, match="must hold values of the types"):
        ds.push_version("a part whose x is text")


# -- labelled rows, feedback refresh ------------------------------------------------------------

def test_labelled_rows_per_version(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("labels")
    ds.push_dataframe(pl.DataFrame({"x": [1, 2]}))
    ds.append_dataframe(pl.DataFrame({"__join_key": ["a", "b", "c"],
                                      "feedback.y": [1, None, 0]}), filename="curated")
    ds.append_dataframe(pl.DataFrame({"__join_key": ["d"], "feedback.y": [None]},
                                     schema={"__join_key": pl.String, "feedback.y": pl.Int64}),
                        filename="curated")
    versions = ds.list_versions()
    assert [v["labelled_rows"] for v in versions] == [2, 2, None]


def test_refresh_feedback_brings_late_labels_in(ws: gantry.Workspace, tmp_path: Path) -> None:
    app = ws.create_application("model")
    _, keys = app.log_records(inputs=[{"x": i} for i in range(4)], outputs=[0] * 4,
                              join_keys=["a", "b", "c", "d"])
    app.log_records(feedbacks=[{"y": 1}], join_keys=["a"])
    ws.flush()
    ds = ws.create_dataset("curated", app_name="model")
    first = ds.append_dataframe(app.query(all_time=True).to_arrow())
    assert first["labelled_rows"] == 1
    app.log_records(feedbacks=[{"y": 0}, {"y": 1}], join_keys=["b", "c"])
    ws.flush()
    refreshed = ds.refresh_feedback(app)
    assert refreshed["labelled_rows"] == 3
    assert "Refreshed feedback" in refreshed["message"]
    lineage = ds.list_versions()[0]["lineage"]
    assert lineage["refreshed_feedback_of"] == first["version_id"]
    assert (lineage["labelled_rows_before"], lineage["labelled_rows_after"]) == (1, 3)
    frame = ds.read().sort("__join_key")
    assert frame["feedback.y"].to_list() == [1, 0, 1, None]
    assert frame["__join_key"].to_list() == sorted(keys)
    # from a frame of keys and feedback, too
    again = ds.refresh_feedback(pl.DataFrame({"__join_key": ["d"], "feedback.y": [0]}))
    assert again["labelled_rows"] == 4
    with pytest.raises(gantry.ValidationError, match="__join_key"):
        ds.refresh_feedback(pl.DataFrame({"feedback.y": [0]}))


# -- splits ---------------------------------------------------------------------------------------

def _repeated_inputs(n: int) -> pl.DataFrame:
    return pl.DataFrame({"__join_key": [f"k{i}" for i in range(n)],
                         "inputs.a": [i % 17 for i in range(n)],
                         "inputs.b": [str(i % 5) for i in range(n)],
                         "feedback.y": [i % 2 for i in range(n)]})


def test_a_content_split_never_puts_identical_inputs_on_both_sides(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("all")
    vid = ds.push_dataframe(_repeated_inputs(500))["version_id"]
    split = ds.split(eval_fraction=0.3, seed=7)
    train, evaluation = split
    train_ds, eval_ds = ws.get_dataset("all-train"), ws.get_dataset("all-eval")
    assert train_ds.read().height + eval_ds.read().height == 500
    assert 0.1 < eval_ds.read().height / 500 < 0.5
    assert not train_ds.content_keys() & eval_ds.content_keys()
    assert not set(gdataset.content_keys(eval_ds.read())) & train_ds.content_keys()
    lineage = train_ds.list_versions()[0]["lineage"]
    assert lineage["split_of"]["version_id"] == vid and lineage["part"] == "train"
    assert lineage["by"] == "content" and lineage["fields"] == ["inputs.a", "inputs.b"]
    assert eval_ds.list_versions()[0]["lineage"]["part"] == "evaluation"
    # deterministic: the same call gives the same versions' content
    again = ds.split(eval_fraction=0.3, seed=7, train_dataset="t2", eval_dataset="e2")
    assert ws.get_dataset("e2").read().equals(eval_ds.read())
    assert again.evaluation["rows"] == evaluation["rows"] and train["rows"]


def test_a_split_by_field_keeps_each_value_on_one_side(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("users")
    ds.push_dataframe(_repeated_inputs(300))
    ds.split(by="inputs.b", eval_fraction=0.4, seed=1)
    train = set(ws.get_dataset("users-train").read()["inputs.b"].to_list())
    evaluation = set(ws.get_dataset("users-eval").read()["inputs.b"].to_list())
    assert train and evaluation and not train & evaluation


def test_a_split_whose_eval_dataset_is_deleted_stores_nothing(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("d")
    ds.push_dataframe(_repeated_inputs(100))
    ws.create_dataset("d-eval")
    ws.delete_dataset("d-eval")
    with pytest.raises(gantry.ValidationError, match="deleted"):
        ds.split()
    assert ws.get_dataset("d-train").list_versions() == []  # no half of a split


def test_refresh_feedback_with_non_text_join_keys_is_a_clear_error(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("labels")
    ds.push_dataframe(pl.DataFrame({"__join_key": ["a"], "feedback.y": [None]},
                                   schema={"__join_key": pl.String, "feedback.y": pl.Int64}))
    with pytest.raises(gantry.ValidationError, match="join keys are strings"):
        ds.refresh_feedback(pl.DataFrame({"__join_key": [1], "feedback.y": [1]}))
    assert len(ds.list_versions()) == 1


def test_content_keys_treat_equal_inputs_as_one() -> None:
    frame = pl.DataFrame({"inputs.a": [1, 1, None], "inputs.b": ["x", "x", "x"],
                          "outputs.p": [0.1, 0.9, 0.5]})
    keys = gdataset.content_keys(frame)
    assert keys[0] == keys[1] != keys[2]
    assert gdataset.content_keys(frame, fields=["outputs.p"])[0] != \
        gdataset.content_keys(frame, fields=["outputs.p"])[1]


# -- Hugging Face ---------------------------------------------------------------------------------

def test_huggingface_datasets_from_a_version_and_the_working_copy(
        default_ws: gantry.Workspace) -> None:
    datasets = pytest.importorskip("datasets")
    dataset = gdataset.create_dataset("hf-data")
    first = dataset.push_dataframe(pl.DataFrame({"text": ["a", "b"], "label": [0, 1]}))
    dataset.push_dataframe(pl.DataFrame({"text": ["c"], "label": [1]}))
    hf_dataset = dataset.pull_huggingface_dataset_by_version(version_id=first["version_id"])
    assert isinstance(hf_dataset, datasets.Dataset)
    assert hf_dataset["text"] == ["a", "b"] and hf_dataset.info.dataset_name == "hfdata"
    streamed = dataset.pull_huggingface_dataset_by_version(version_id=first["version_id"],
                                                           streaming=True)
    assert [row["label"] for row in streamed] == [0, 1]
    dataset.pull()
    (dataset.folder / "tabular_manifests" / "data.csv").write_text('"text","label"\n"z",5\n')
    local = dataset.get_huggingface_dataset()
    assert local["text"] == ["z"] and local["label"] == [5]
    assert next(iter(dataset.get_huggingface_dataset(streaming=True)))["text"] == "z"
    with pytest.raises(gantry.ValidationError, match="valid Python identifier"):
        dataset.get_huggingface_dataset(hf_dataset_name="not valid")
