"""A table's columns may change between appends: the union schema, widening, refusals.

The improvement cycle's normal case: a curator runs before any feedback exists, then
feedback (``feedback.*``, ``__feedback_time``) and new input fields arrive. Every later run
must keep appending, and every version must still read, diff, pull, verify and roll back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

import gantry_local as gantry
from gantry_local.automations.curators import UniformCurator

from .conftest import START


def _stored(ds: Any) -> tuple[int, int, list[str]]:
    """Objects, versions and stored files: the 'nothing was stored' check."""
    store = ds.store
    store.fs.invalidate_cache()
    files = sorted(store.fs.find(store.root)) if store.fs.exists(store.root) else []
    return len(store.walk_objects()), len(ds.list_versions()), files


def test_feedback_and_a_new_field_after_the_first_run_keep_the_curator_running(
        dws: gantry.Workspace, clock: gantry.ManualClock) -> None:
    app = dws.create_application("m")
    app.log_record(inputs={"x": 1.0}, outputs={"y": 1}, join_key="a",
                   timestamp=START + timedelta(hours=1))
    curator = UniformCurator("c", "m", 10, start_on=START).create(workspace=dws)
    scheduler = gantry.Scheduler(dws)
    clock.set(START + timedelta(days=1, hours=1))
    assert [r.status for r in scheduler.run_pending()] == ["succeeded"]  # day 1: unlabelled
    ds = curator.get_curated_dataset()
    day1 = ds.read()
    assert "feedback.label" not in day1.columns and "inputs.z" not in day1.columns

    app.log_record(inputs={"x": 2.0, "z": "new"}, outputs={"y": 2}, join_key="b",
                   timestamp=START + timedelta(days=1, hours=2))
    dws.log_record("m", feedback={"label": True}, join_key="b")
    app.log_record(inputs={"x": 3.0, "z": "newer"}, outputs={"y": 3}, join_key="c",
                   timestamp=START + timedelta(days=2, hours=2))
    clock.set(START + timedelta(days=3, hours=1))
    runs = scheduler.run_pending()
    assert [(r.status, r.rows_selected) for r in runs] == [("succeeded", 1)] * 2
    assert scheduler.failed_automations().height == 0

    frame = ds.read()
    assert frame.columns[:len(day1.columns)] == day1.columns  # old columns first, stable
    assert {"inputs.z", "feedback.label", "__feedback_time"} <= set(frame.columns)
    assert frame["__join_key"].to_list() == ["a", "b", "c"]
    assert frame["inputs.z"].to_list() == [None, "new", "newer"]
    assert frame["feedback.label"].to_list() == [None, True, None]
    assert frame["__feedback_time"].null_count() == 2
    assert frame["inputs.x"].to_list() == [1.0, 2.0, 3.0]
    versions = ds.list_versions()
    assert [v["rows"]["data"] for v in versions] == [3, 2, 1]
    assert versions[0]["labelled_rows"] == 1
    assert ds.read(versions[-1]["version_id"]).equals(day1)  # day 1's version is untouched
    assert ds.verify() == {"versions": 3, "objects": 4, "bytes": ds.verify()["bytes"]}

    dws.log_record("m", feedback={"label": False}, join_key="a")  # late feedback for day 1
    ds.refresh_feedback(app)
    assert ds.read()["feedback.label"].to_list() == [False, True, None]


def test_a_run_committed_across_the_change_is_found_not_doubled(
        ws: gantry.Workspace, clock: gantry.ManualClock) -> None:
    app = ws.create_application("m")
    app.log_record(inputs={"x": 1}, outputs={"y": 1}, join_key="a",
                   timestamp=START + timedelta(hours=1))
    curator = UniformCurator("c", "m", 10, start_on=START).create(workspace=ws)
    clock.set(START + timedelta(days=1))
    gantry.Scheduler(ws).run_pending()
    app.log_record(inputs={"x": 2, "z": True}, outputs={"y": 2}, join_key="b",
                   timestamp=START + timedelta(days=1, hours=1))
    ws.log_record("m", feedback={"label": 1}, join_key="b")
    day2 = (START + timedelta(days=1), START + timedelta(days=2))
    curator.curate(ws, *day2)  # committed, then the process died before recording the run
    clock.set(day2[1])
    [run] = gantry.Scheduler(ws).run_pending()
    assert run.status == "succeeded" and run.rows_selected == 1
    assert len(curator.get_curated_dataset().list_versions()) == 2
    assert curator.get_curated_dataset().read()["inputs.z"].to_list() == [None, True]


def test_read_diff_pull_export_verify_split_and_rollback_across_a_new_column(
        dws: gantry.Workspace, tmp_path: Path) -> None:
    ds = dws.create_dataset("d")
    v1 = ds.append_dataframe(pl.DataFrame({"__join_key": ["a", "b"], "x": [1, 2]}))["version_id"]
    v2 = ds.append_dataframe(pl.DataFrame({"__join_key": ["c"], "x": [3], "z": ["new"]})
                             )["version_id"]
    assert ds.read().rows() == [("a", 1, None), ("b", 2, None), ("c", 3, "new")]
    assert ds.read(v1).columns == ["__join_key", "x"]

    forward = ds.diff(v1, v2)  # old rows gain a null column: not changed, only the schema
    assert forward.columns_added == ["z"] and forward.counts == {"added": 1, "removed": 0,
                                                                 "changed": 0}
    assert forward.added["__join_key"].to_list() == ["c"]
    backward = ds.diff(v2, v1)
    assert backward.columns_removed == ["z"] and backward.counts["removed"] == 1

    v3 = ds.append_dataframe(pl.DataFrame({"__join_key": ["d"], "x": [4], "z": ["late"]}),
                             filename="data")["version_id"]
    assert ds.verify() == {"versions": 3, "objects": ds.verify()["objects"],
                           "bytes": ds.verify()["bytes"]}
    ds.pull()
    pulled = sorted(ds.folder.rglob("*.csv"))
    assert len(pulled) == 3
    assert all(pl.read_csv(p).columns == ["__join_key", "x", "z"] for p in pulled)
    exported = ds.export(v2, tmp_path, format="parquet")
    assert pl.read_parquet(exported)["z"].to_list() == [None, None, "new"]

    split = ds.split(v3, eval_fraction=0.5, by="__join_key")
    parts = [dws.get_dataset(n).read() for n in ("d-train", "d-eval")]
    assert sum(p.height for p in parts) == 4 and all(p.columns[-1] == "z" for p in parts)
    assert split.train["version_id"]

    back = ds.rollback(v1, forced=True)["version_id"]
    assert ds.read(back).columns == ["__join_key", "x"]
    ds.append_dataframe(pl.DataFrame({"__join_key": ["e"], "w": [0.5]}))  # a different column
    assert ds.read().rows() == [("a", 1, None), ("b", 2, None), ("e", None, 0.5)]
    assert ds.diff(v3, back).counts == {"added": 0, "removed": 2, "changed": 0}
    assert ds.diff(v3).columns_added == ["w"] and ds.diff(v3).columns_removed == ["z"]


def test_types_widen_where_values_convert_losslessly(dws: gantry.Workspace) -> None:
    ds = dws.create_dataset("w")
    ds.append_dataframe(pl.DataFrame({"k": ["a"], "n": [1], "note": [None],
                                      "t": [datetime(2024, 1, 1, 0, 0, 0, 1)]},
                                     schema_overrides={"t": pl.Datetime("us")}))
    ds.append_dataframe(pl.DataFrame({"k": ["b"], "n": [2.5], "note": ["hi"],
                                      "t": [datetime(2024, 1, 2)]},
                                     schema_overrides={"t": pl.Datetime("ns")}))
    frame = ds.read()
    assert frame.schema == {"k": pl.String, "n": pl.Float64, "note": pl.String,
                            "t": pl.Datetime("ns")}
    assert frame["n"].to_list() == [1.0, 2.5] and frame["note"].to_list() == [None, "hi"]
    assert frame["t"].to_list() == [datetime(2024, 1, 1, 0, 0, 0, 1), datetime(2024, 1, 2)]
    widened = ds.manifest().files["data"].parts
    ds.append_dataframe(pl.DataFrame({"n": [7]}))  # narrower and fewer columns: no rewrite
    after = ds.manifest()
    assert after.files["data"].parts[:2] == widened
    assert ds.read().row(2) == (None, 7.0, None, None)
    assert [p.added_in for p in after.files["data"].parts] == [1, 2, 3]


def test_a_race_with_another_writers_new_column_unions_both(tmp_path: Path,
                                                             clock: gantry.ManualClock) -> None:
    one = gantry.Workspace(db=":memory:", storage=str(tmp_path / "s"), clock=clock)
    two = gantry.Workspace(db=":memory:", storage=str(tmp_path / "s"), clock=clock)
    first = one.create_dataset("r")
    first.append_dataframe(pl.DataFrame({"x": [1]}))
    two.get_dataset("r").append_dataframe(pl.DataFrame({"x": [2], "z": ["two"]}))
    first.append_dataframe(pl.DataFrame({"x": [3], "w": [True]}))  # planned on a stale head
    assert first.read().rows() == [(1, None, None), (2, "two", None), (3, None, True)]
    assert first.verify()["versions"] == 3
    one.close()
    two.close()


@pytest.mark.parametrize(("old", "new", "match"), [
    ({"x": [1]}, {"x": ["one"]}, "column 'x' is int64 in the table and large_string in the new rows"),
    ({"x": [True]}, {"x": [1]}, "column 'x' is bool in the table and int64"),
    ({"x": [2**53 + 1]}, {"x": [0.5]}, "column 'x' must widen from int64 to double"),
    ({"x": [0.5]}, {"x": [2**53 + 1]}, "column 'x' must widen from int64 to double"),
    ({"x": [{"a": 1}]}, {"x": ["text"]}, "column 'x' is struct"),
])
def test_a_type_change_without_a_lossless_conversion_is_refused_and_stores_nothing(
        dws: gantry.Workspace, old: dict[str, Any], new: dict[str, Any], match: str) -> None:
    ds = dws.create_dataset("r")
    ds.append_dataframe(pl.DataFrame(old))
    ds.append_dataframe(pl.DataFrame({"other": ["kept"]}))  # a second part, with a new column
    before = _stored(ds)
    with pytest.raises(gantry.ValidationError, match=match) as raised:
        ds.append_dataframe(pl.DataFrame(new))
    assert "push_dataframe" in str(raised.value)  # says what to do
    assert _stored(ds) == before
    assert ds.read().height == 2


def test_an_appended_arrow_table_with_a_tz_timestamp_widens(ws: gantry.Workspace) -> None:
    ds = ws.create_dataset("tz")
    utc = timezone.utc
    ds.append_dataframe(pa.table({"t": pa.array([datetime(2024, 1, 1, tzinfo=utc)],
                                                pa.timestamp("ms", tz="UTC"))}))
    ds.append_dataframe(pa.table({"t": pa.array([datetime(2024, 1, 2, tzinfo=utc)],
                                                pa.timestamp("us", tz="UTC")),
                                  "label": pa.array([None], pa.null())}))
    table = ds.read_arrow()
    assert table.schema.field("t").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("label").type == pa.null()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_working_copy_part_with_a_new_column_widens_its_table(ws: gantry.Workspace,
                                                                 tmp_path: Path, fmt: str) -> None:
    ws.set_working_directory(tmp_path / "work")
    ds = ws.create_dataset("wc")
    ds.append_dataframe(pl.DataFrame({"__join_key": ["a"], "x": [1]}))
    ds.append_dataframe(pl.DataFrame({"__join_key": ["b"], "x": [2]}))
    ds.pull(format=fmt)
    folder = ds.folder / "tabular_manifests" / "data"
    added = pl.DataFrame({"__join_key": ["c"], "x": [3], "feedback.label": [True]})
    added.write_csv(folder / "v0003.csv") if fmt == "csv" else \
        added.write_parquet(folder / "v0003.parquet")
    assert ds.get_diff()["new_files"] == [f"tabular_manifests/data/v0003.{fmt}"]
    ds.push_version("a new part with a label column")
    assert ds.read().rows() == [("a", 1, None), ("b", 2, None), ("c", 3, True)]
    assert [p.added_in for p in ds.manifest().files["data"].parts] == [1, 2, 3]
    assert ds.verify()["versions"] == 3
    bad = pl.DataFrame({"__join_key": ["d"], "x": ["not a number"]})
    bad.write_csv(folder / "v0004.csv") if fmt == "csv" else \
        bad.write_parquet(folder / "v0004.parquet")
    before = _stored(ds)
    with pytest.raises(gantry.ValidationError, match="must hold values of the types"):
        ds.push_version("a part whose x is text")
    assert _stored(ds) == before
