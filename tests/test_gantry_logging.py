"""Gantry SDK 0.6's logging, application and saved-query calls, and their docstring examples
run with only the import changed (gantry/logger/client.py, gantry/applications/core.py,
gantry/applications/client.py, gantry/query/client.py)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.query.time_window import RelativeTimeWindow

from .conftest import START, stored_counts


@pytest.fixture
def default(tmp_path: Path) -> Iterator[gantry.ManualClock]:
    clock = gantry.ManualClock(START)
    gantry.init(api_key="foobar", db=tmp_path / "g.duckdb", clock=clock)
    gantry.create_application("foobar")
    yield clock
    gantry.get_workspace().close()


def test_log_record_docstring_example(default: gantry.ManualClock) -> None:
    # Record an application's prediction
    gantry.log_record(
        application='foobar',
        inputs={'A': 100},
        outputs={'prediction': True},
        version=1,
        tags={"env": "environment1"},
        join_key='12345'
    )
    # Record an application's feedback
    # to a previously ingested prediction.
    gantry.log_record(
        application='foobar',
        feedback={'prediction': False},
        join_key='12345'
    )
    row = gantry.get_application("foobar").query(all_time=True).to_polars().row(0, named=True)
    assert (row["inputs.A"], row["outputs.prediction"], row["feedback.prediction"]) == (
        100, True, False)
    assert (row["__version"], row["tags.env"]) == ("1", "environment1")


def test_log_records_docstring_example_returns_batch_and_keys(
        default: gantry.ManualClock) -> None:
    batch_id, join_keys = gantry.log_records(
        application='foobar',
        inputs=[{'A': 100}, {'A': 101}],
        outputs=[{'B': 'foo'}, {'B': 'bar'}],
        version=1,
        feedbacks=[{'B': 'bar'}, {'B': 'foo'}],
        tags={"env": "environment1"},
        join_keys=["12345", "67890"]
    )
    assert (batch_id, join_keys) == (None, ["12345", "67890"])
    batch_id, keys = gantry.log_records("foobar", inputs=[{"A": 1}], outputs=[{"B": "x"}],
                                        as_batch=True)
    assert batch_id is not None and len(keys) == 1
    default.advance(timedelta(minutes=1))
    [batch] = gquery.list_application_batches("foobar")
    assert (batch["id"], batch["num_events"], batch["batch_type"]) == (batch_id, 1, "PREDICTION")
    assert gquery.query("foobar", batch_id=batch_id).fetch()["inputs.A"].tolist() == [1]


def test_app_log_docstring_example(default: gantry.ManualClock) -> None:
    app = gantry.get_application("foobar")
    app.log(
        inputs=[{'A': 100}, {'A': 101}],
        outputs=[{'B': 'foo'}, {'B': 'bar'}],
        version=1,
        feedbacks=[{'B': 'bar'}, {'B': 'foo'}],
        global_tags={"env": "environment1"},
        join_keys=["12345", "67890"]
    )
    frame = app.query(all_time=True).to_polars()
    assert frame["tags.env"].to_list() == ["environment1"] * 2
    assert frame["feedback.B"].to_list() == ["bar", "foo"]


def test_start_run_docstring_example_groups_one_batch(default: gantry.ManualClock) -> None:
    app = gantry.get_application("foobar")
    inputs, outputs = [{"A": 1}, {"A": 2}], [{"B": "x"}, {"B": "y"}]
    feedback, join_keys = [{"B": "x"}, {"B": "x"}], ["k1", "k2"]
    with app.start_run(name="Demo_run", tags={"champion": "messi"}) as run:
        app.log(inputs=inputs, outputs=outputs, feedbacks=feedback, join_keys=join_keys)
        app.log(inputs={"A": 3}, outputs={"B": "z"}, join_keys='12345')
    assert isinstance(run, gantry.Run)
    default.advance(timedelta(minutes=1))
    [job] = app.get_run(name="Demo_run") or []
    assert (job["id"], job["num_events"], job["run_tags"]) == (run.run_id, 3,
                                                               {"champion": "messi"})
    assert app.get_run(tags={"champion": "messi"}) == [job]
    assert app.get_run(tags={"champion": "argentina"}) == []
    rows = gquery.query("foobar", batch_id=run.run_id).fetch()
    assert sorted(rows["join_id"] if "join_id" in rows else rows["__join_key"]) == [
        "12345", "k1", "k2"]
    assert set(rows["tags.champion"]) == {"messi"}
    app.log(inputs={"A": 4}, outputs={"B": "w"})  # after the run: no batch
    assert len(gquery.list_application_batches("foobar")) == 1


def test_create_get_archive_application_docstring_examples(default: gantry.ManualClock) -> None:
    application = gantry.create_application("demo", "Custom")
    assert gantry.get_application("demo") == application
    assert application.get_schema()["func_name"] == "demo"
    assert gantry.list_applications() == ["demo", "foobar"] == gquery.list_applications()
    gantry.archive_application("demo")
    assert gantry.list_applications() == ["foobar"]
    with pytest.raises(gantry.NotFoundError, match="archived"):
        gantry.get_application("demo")
    with pytest.raises(gantry.AlreadyExistsError, match="archived"):
        gantry.create_application("demo")
    gantry.delete_application("demo")
    gantry.create_application(application_name="demo", application_type="Custom")


def test_application_datasets_and_schema(default: gantry.ManualClock) -> None:
    app = gantry.get_application("foobar")
    app.log_record(inputs={"A": 1}, outputs={"B": "x"}, version=2)
    schema = app.get_schema()
    assert (schema["model_type"], schema["inputs"], schema["outputs"]) == (
        "Custom", {"A": "int"}, {"B": "str"})
    dataset = app.create_dataset(name="demo_dataset")
    assert dataset.name == "demo_dataset"
    assert [d["name"] for d in app.list_datasets()] == ["demo_dataset"]


def test_save_query_docstring_examples(default: gantry.ManualClock) -> None:
    app = gantry.get_application("foobar")
    app.log_records(inputs=[{"speed": 1}, {"speed": 5}], outputs=[1, 2],
                    tags={"champion": "messi"})
    time_window = RelativeTimeWindow(window_length=timedelta(days=1),
                                     offset=timedelta(minutes=1))
    default.advance(timedelta(minutes=5))
    query = app.query(time_window, tags={"champion": "messi"},
                      filters=[{"feature_name": "inputs.speed", "lower_bound": 0,
                                "upper_bound": 3}])
    app.save_query("demo_query", query)
    queries = app.list_queries()
    assert [q["name"] for q in queries] == ["demo_query"]
    saved = app.get_query("demo_query")
    assert saved.fetch()["inputs.speed"].tolist() == [1]
    default.advance(timedelta(days=3))  # a relative window moves with the clock
    assert len(app.get_query("demo_query")) == 0
    with pytest.raises(gantry.NotFoundError, match="no saved query 'nope'"):
        app.get_query("nope")


def test_views(default: gantry.ManualClock) -> None:
    gantry.log_records("foobar", inputs=[{"x": 1}, {"x": 9}], outputs=[0, 0],
                       tags=[{"env": "prod"}, {"env": "dev"}])
    default.advance(timedelta(minutes=1))
    gquery.create_view("recent", "foobar", duration=timedelta(days=1),
                       tag_filters={"env": "prod"})
    gquery.create_view(name="fixed", application="foobar", start_time=START - timedelta(days=1),
                       end_time=START + timedelta(hours=1),
                       data_filters=[{"feature_name": "inputs.x", "lower_bound": 5}])
    assert gquery.list_application_views("foobar") == ["fixed", "recent"]
    assert gquery.list_application_views("foobar", environment="dev") == ["fixed"]
    assert gquery.query("foobar", view="recent").fetch()["inputs.x"].tolist() == [1]
    assert gquery.query("foobar", view="fixed").fetch()["inputs.x"].tolist() == [9]
    with pytest.raises(gantry.AlreadyExistsError):
        gquery.create_view("recent", "foobar", duration=timedelta(days=2))


def test_feedback_keys_and_ids_make_gantrys_join_keys(default: gantry.ManualClock) -> None:
    def gantry_id(values: list[object]) -> str:
        return hashlib.md5(json.dumps(values, sort_keys=True).encode()).hexdigest()

    key = gantry.log_record("foobar", inputs={"a": 1, "b": "x"}, outputs=1,
                            feedback_keys=["b", "a"])
    assert key == gantry_id([1, "x"]) == gantry.compute_feedback_id({"a": 1, "b": "x"})
    assert gantry.log_record("foobar", feedback={"y": 1}, feedback_id={"b": "x", "a": 1}) == key
    _, keys = gantry.log_records("foobar", inputs=[{"a": 2}], outputs=[0], feedback_ids=["k9"])
    assert keys == ["k9"]
    frame = gantry.get_application("foobar").query(all_time=True).to_polars()
    row = frame.sort("inputs.a").row(0, named=True)
    assert row["feedback.y"] == 1


def test_ignore_inputs_leaves_fields_out(default: gantry.ManualClock) -> None:
    gantry.log_record("foobar", inputs={"a": 1, "secret": "x"}, outputs=1,
                      ignore_inputs=["secret"])
    gantry.log_records("foobar", inputs=pl.DataFrame({"a": [2], "secret": ["y"]}),
                       outputs=[1], ignore_inputs=["secret"])
    assert "inputs.secret" not in gantry.get_application("foobar").query(all_time=True).to_polars().columns


def test_row_and_global_tags(default: gantry.ManualClock) -> None:
    gantry.log_records("foobar", inputs=[{"a": 1}, {"a": 2}], outputs=[0, 0],
                       row_tags=[{"r": "1"}, {"r": "2"}], global_tags={"g": "all"})
    frame = gantry.get_application("foobar").query(all_time=True).to_polars().sort("inputs.a")
    assert frame["tags.r"].to_list() == ["1", "2"]
    assert frame["tags.g"].to_list() == ["all", "all"]


def test_sort_on_timestamp_stores_in_time_order_and_keeps_key_order(
        default: gantry.ManualClock) -> None:
    times = [START + timedelta(hours=h) for h in (3, 1, 2)]
    _, keys = gantry.log_records("foobar", inputs=[{"h": 3}, {"h": 1}, {"h": 2}],
                                 outputs=[0, 0, 0], timestamps=times)
    gantry.flush()
    with gantry.get_workspace().database.cursor() as con:
        stored = con.execute('SELECT "inputs.h", "__join_key" FROM "records_foobar"').fetchall()
    assert [h for h, _ in stored] == [1, 2, 3]  # inserted in time order
    assert dict((h, k) for h, k in stored) == {3: keys[0], 1: keys[1], 2: keys[2]}


def test_gantry_log_single_and_many(default: gantry.ManualClock) -> None:
    key = gantry.log("foobar", inputs={"a": 1}, outputs={"b": 2}, feedbacks={"c": 3})
    assert isinstance(key, str)
    batch_id, keys = gantry.log("foobar", inputs=[{"a": 1}], outputs=[{"b": 2}], as_batch=True)
    assert batch_id is not None and len(keys) == 1


def test_the_wrong_feedback_name_says_which_to_use(default: gantry.ManualClock) -> None:
    before = stored_counts(gantry.get_workspace(), "foobar")
    with pytest.raises(gantry.ValidationError, match="log_record takes feedback="):
        gantry.log_record("foobar", feedbacks={"y": 1}, join_key="k")  # type: ignore[call-arg]
    with pytest.raises(gantry.ValidationError, match="log_records takes feedbacks="):
        gantry.log_records("foobar", feedback=[{"y": 1}], join_keys=["k"])  # type: ignore[call-arg]
    with pytest.raises(gantry.ValidationError, match="log takes feedbacks="):
        gantry.get_application("foobar").log(feedback={"y": 1})  # type: ignore[call-arg]
    assert stored_counts(gantry.get_workspace(), "foobar") == before


def test_log_file_csv_and_parquet(default: gantry.ManualClock, tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "inputs.speed": [1.0, 2.0], "outputs.label": ["a", "b"], "feedback.truth": ["a", "a"],
        "tags.env": ["prod", "prod"], "join_key": ["j1", "j2"],
        "timestamp": [datetime(2024, 1, 1, tzinfo=timezone.utc),
                      datetime(2024, 1, 2, tzinfo=timezone.utc)],
    })
    frame.to_csv(tmp_path / "records.csv", index=False)
    frame.assign(join_key=["j3", "j4"]).to_parquet(tmp_path / "records.parquet")
    app = gantry.get_application("foobar")
    assert app.log_file(str(tmp_path / "records.csv")) is None
    gantry.log_file("foobar", str(tmp_path / "records.parquet"))
    rows = app.query(all_time=True).to_polars().sort("__join_key")
    assert rows["__join_key"].to_list() == ["j1", "j2", "j3", "j4"]
    assert rows["inputs.speed"].to_list() == [1.0, 2.0, 1.0, 2.0]
    assert rows["feedback.truth"].to_list() == ["a"] * 4
    assert rows["tags.env"].to_list() == ["prod"] * 4
    assert len(gquery.list_application_batches("foobar")) == 2


def test_log_from_data_connector_is_not_supported(default: gantry.ManualClock) -> None:
    with pytest.raises(gantry.NotSupportedError, match=r"log_records.*log_file"):
        gantry.log_from_data_connector(
            application="foobar",
            source_data_connector_name="my_snowflake_connector",
            inputs=["column_A", "column_B"],
            outputs=["column_C"],
            timestamp="column_T",
            global_tags={"env": "dev", "version": "1.0.0"},
            row_tags=["column_D"],
            join_key="column_E",
        )
    assert isinstance(gantry.NotSupportedError("x"), NotImplementedError)


def test_any_arrow_stream_is_a_frame(default: gantry.ManualClock) -> None:
    import duckdb
    import pyarrow as pa

    relation = duckdb.sql("SELECT range AS x FROM range(3)")
    stream = pa.table({"y": [1, 2, 3]}).to_reader()  # exports __arrow_c_stream__
    gantry.log_records("foobar", inputs=relation, outputs=stream)
    frame = gantry.get_application("foobar").query(all_time=True).to_polars().sort("inputs.x")
    assert frame["inputs.x"].to_list() == [0, 1, 2]
    assert frame["outputs.y"].to_list() == [1, 2, 3]
