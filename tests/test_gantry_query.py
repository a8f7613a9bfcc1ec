"""Gantry SDK 0.6's start-up and query examples, run with only the import changed.

The first tests are Gantry's own docstring examples (gantry/__init__.py ``init``,
gantry/applications/core.py ``Application.query``, gantry/query/core/dataframe.py
``GantrySeries``); the rest pin what each call returns on known data.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.query.time_window import RelativeTimeWindow, TimeWindow

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone.utc)


@pytest.fixture
def default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[gantry.ManualClock]:
    """A default workspace in a temporary folder (Gantry's ``init`` takes no path)."""
    monkeypatch.chdir(tmp_path)
    clock = gantry.ManualClock(NOW)
    gantry.init(api_key="foobar", environment="prod", db=tmp_path / "g.duckdb", clock=clock)
    yield clock
    gantry.get_workspace().close()


@pytest.fixture
def speeds(default: gantry.ManualClock) -> gantry.Application:
    """Ten predictions over the last ten hours (speed 0..9), then one old and one dev one."""
    app = gantry.create_application("cars")
    for i in range(10):
        gantry.log_record("cars", version="1",
                          inputs={"speed": i, "color": "red" if i % 2 else "blue",
                                  "fast": i > 6},
                          outputs={"ok": i % 3 == 0},
                          timestamp=NOW - datetime.timedelta(hours=i, minutes=2),
                          tags={"champion": "messi" if i < 5 else "maradona"})
    gantry.log_record("cars", version="1", inputs={"speed": 50}, outputs={"ok": True},
                      timestamp=NOW - datetime.timedelta(days=3))
    gantry.log_record("cars", version="2", inputs={"speed": 100, "color": "apples and pears"},
                      outputs={"ok": False}, timestamp=NOW - datetime.timedelta(hours=1),
                      tags={"env": "dev"})
    return app


# -- Gantry's docstring examples, only the import changed ---------------------------------------

def test_init_docstring_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)
    import gantry_local as gantry
    with caplog.at_level(logging.INFO, logger="gantry_local"):
        gantry.init(api_key="foobar")
    try:
        assert (tmp_path / "gantry.duckdb").exists()
        assert gantry.ping() is True and gantry.ready() is True
    finally:
        gantry.get_workspace().close()


def test_app_query_docstring_example(speeds: gantry.Application) -> None:
    app = speeds
    time_window = RelativeTimeWindow(window_length = datetime.timedelta(days=1),
        offset = datetime.timedelta(minutes=1))
    query = app.query(
        time_window,
        tags = {"champion": "messi"},
        filters=[
            {
                "feature_name": "inputs.speed",
                "lower_bound": 0,
                "upper_bound": 3
            }
        ]
    )
    assert isinstance(query, gquery.GantryDataFrame)
    assert sorted(query.fetch()["inputs.speed"]) == [1, 2]  # Gantry's bounds are strict


def test_gantry_series_docstring_example(speeds: gantry.Application) -> None:
    some_series = gquery.query("cars", environment="dev")["inputs.color"]
    # Operations on series return masks
    mask = some_series.contains("apples")
    apples_series = some_series[mask]

    fetched = apples_series.fetch()
    assert list(fetched["inputs.color"]) == ["apples and pears"]


# -- start-up ------------------------------------------------------------------------------------

def test_init_takes_gantrys_arguments_in_gantrys_order(tmp_path: Path) -> None:
    gantry.init("key", "WARNING", "staging", True, db=tmp_path / "a.duckdb")
    try:
        assert logging.getLogger("gantry_local").level == logging.WARNING
        gantry.create_application("m")
        gantry.log_record("m", inputs={"x": 1}, outputs={"y": 2})
        gantry.log_record("m", inputs={"x": 2}, outputs={"y": 2}, tags={"env": "prod"})
        envs = gantry.query("m").to_polars()["tags.env"].to_list()
        assert envs == ["staging", "prod"]  # the environment only fills a missing env tag
    finally:
        gantry.get_workspace().close()
        logging.getLogger("gantry_local").setLevel(logging.NOTSET)


def test_api_key_is_said_unused_once(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import gantry_local._default as default

    monkeypatch.setattr(default, "_api_key_said", False)
    with caplog.at_level(logging.INFO, logger="gantry_local"):
        gantry.init(api_key="k", db=tmp_path / "a.duckdb")
        gantry.init(api_key="k", db=tmp_path / "a.duckdb")
    gantry.get_workspace().close()
    said = [r for r in caplog.records if "api_key is not used" in r.getMessage()]
    assert len(said) == 1 and said[0].name == "gantry_local"


def test_environment_tags_batches_but_not_feedback(default: gantry.ManualClock) -> None:
    gantry.create_application("m")
    _, keys = gantry.log_records("m", inputs=[{"x": 1}, {"x": 2}], outputs=[{"y": 1}, {"y": 2}],
                              tags=[{}, {"env": "dev"}])
    gantry.log_records("m", feedbacks=[{"label": 1}], join_keys=keys[:1])
    frame = gantry.query("m").to_polars()
    assert frame["tags.env"].to_list() == ["prod", "dev"]
    assert frame["feedback.label"].to_list() == [1, None]


# -- gquery.query and GantryDataFrame ------------------------------------------------------------

def test_query_defaults_to_the_last_24_hours_by_the_workspace_clock(
        speeds: gantry.Application) -> None:
    df = gquery.query("cars")
    assert len(df) == 11  # ten recent prod records and the dev one; not the 3-day-old one
    assert df.start_time == NOW - datetime.timedelta(hours=24) and df.end_time == NOW
    assert len(gquery.query("cars", start_time="-4D", end_time="now")) == 12
    assert len(gquery.query("cars", start_time="2024-02-01T00:00:00Z",
                            end_time=NOW.isoformat())) == 12


def test_environment_version_and_tags(speeds: gantry.Application) -> None:
    assert len(gquery.query("cars", environment="prod")) == 10
    assert len(gquery.query("cars", environment="dev")) == 1
    assert len(gquery.query("cars", version="2")) == 1
    assert len(gquery.query("cars", tags={"champion": "messi"})) == 5
    # environment wins over tags["env"], as in Gantry
    assert len(gquery.query("cars", environment="dev", tags={"env": "prod"})) == 1


def test_gantry_filter_dicts(speeds: gantry.Application) -> None:
    def n(*filters: dict[str, object]) -> int:
        return len(gquery.query("cars", filters=list(filters)))

    assert n({"feature_name": "inputs.speed", "equals": 4}) == 1
    assert n({"feature_name": "inputs.color", "equals": "red"}) == 5
    assert n({"feature_name": "outputs.ok", "equals": True}) == 4
    assert n({"feature_name": "inputs.speed", "lower_bound": 2, "upper_bound": 4}) == 1
    assert n({"feature_name": "inputs.speed", "inclusive_lower_bound": 2,
              "inclusive_upper_bound": 4}) == 3
    assert n({"feature_name": "inputs.speed", "lower_bound": 8}) == 2  # 9 twice, not 8
    assert n({"feature_name": "inputs.speed", "inclusive_lower_bound": 8}) == 3
    assert n({"feature_name": "env", "dtype": "tag", "category_query": ["dev"]}) == 1
    assert n({"feature_name": "champion", "dtype": "tag", "equals": "maradona"}) == 5
    assert n({"feature_name": "inputs.color", "category_query": ["red", "blue"]}) == 10


def test_masks_become_filters(speeds: gantry.Application) -> None:
    df = gquery.query("cars", environment="prod")
    speed = df["inputs.speed"]
    assert len(df[speed > 3]) == 6 and len(df[speed >= 3]) == 7
    assert len(df[speed < 3]) == 3 and len(df[speed <= 3]) == 4
    assert len(df[speed == 3]) == 1 and len(df[speed != 3]) == 9
    assert len(df[(speed > 3) & (df["inputs.color"] == "red")]) == 3
    assert len(df[df["inputs.color"].isin(["blue"])]) == 5
    assert len(df[~df["inputs.fast"]]) == 7 and len(df[df["inputs.fast"] == True]) == 3  # noqa: E712
    narrowed = df[speed > 3]
    assert len(narrowed[narrowed["inputs.speed"] < 6]) == 2  # masks accumulate
    assert len(df) == 10  # the original frame is unchanged
    assert list(speed[speed > 7].fetch()["inputs.speed"]) == [9, 8]
    assert narrowed.filters == [{"feature_name": "inputs.speed", "lower_bound": 3}]


def test_series_statistics(speeds: gantry.Application) -> None:
    df = gquery.query("cars", environment="prod")
    speed = df["inputs.speed"]
    assert speed.mean() == 4.5 and speed.min() == 0 and speed.max() == 9
    assert speed.sum() == 45 and speed.count() == 10 and len(speed) == 10
    assert speed.median() == 4.5
    assert speed.std() == pytest.approx(pd.Series(range(10)).std())
    assert speed.quantile([0.25, 0.75]) == {0.25: 2.25, 0.75: 6.75}
    assert df["inputs.color"].unique() == {"red", "blue"}
    assert df["inputs.color"].histogram() == {"blue": 0.5, "red": 0.5}
    assert df["outputs.ok"].percent_true() == 0.4
    assert df["outputs.ok"].percent_false() == 0.6
    assert df["outputs.ok"].percent_null() == 0
    by_color = speed.mean(group_by="inputs.color")
    assert by_color.to_dict("records") == [{"inputs.color": "blue", "mean": 4.0},
                                           {"inputs.color": "red", "mean": 5.0}]


def test_fetch_head_tail_describe_dtypes(speeds: gantry.Application) -> None:
    df = gquery.query("cars", environment="prod")
    fetched = df.fetch()
    assert isinstance(fetched, pd.DataFrame) and len(fetched) == 10
    assert list(fetched["join_id"]) == list(fetched["__join_key"])
    assert list(df.head(3)["inputs.speed"]) == [9, 8, 7]  # oldest first
    assert list(df.tail(2)["inputs.speed"]) == [1, 0]
    assert df.dtypes.to_dict() == {"inputs.color": "str", "inputs.fast": "bool",
                                   "inputs.speed": "int", "outputs.ok": "bool",
                                   "tags.champion": "tag", "tags.env": "tag"}
    described = df.describe()
    assert described.loc["mean", "inputs.speed"] == 4.5
    assert described.loc["count", "inputs.color"] == 10
    assert described.loc["application", "inputs.speed"] == "cars"
    assert df["inputs.speed"].describe().loc["max", "inputs.speed"] == 9


def test_app_query_time_windows(speeds: gantry.Application, default: gantry.ManualClock) -> None:
    app = speeds
    assert len(app.query(RelativeTimeWindow(datetime.timedelta(hours=3)))) == 4  # 3 + dev
    assert len(app.query(RelativeTimeWindow(datetime.timedelta(hours=3)), env="prod")) == 3
    window = TimeWindow(NOW - datetime.timedelta(days=4), NOW)
    assert len(app.query(window, version="1")) == 11
    default.advance(datetime.timedelta(hours=2))  # a relative window follows the clock
    assert len(app.query(RelativeTimeWindow(datetime.timedelta(hours=3)), env="prod")) == 1
    # our extras: all_time=True is every record, start_time/end_time bound explicitly
    assert app.query(all_time=True).count() == 12
    assert app.query(all_time=True, version="1", tags={"champion": "messi"}).count() == 5
    assert isinstance(app.query(all_time=True), gantry.Query)


def test_application_listings(speeds: gantry.Application,
                              capsys: pytest.CaptureFixture[str]) -> None:
    assert gquery.list_application_versions("cars") == ["1", "2"]
    assert gquery.list_application_environments("cars") == ["dev", "prod"]
    assert gquery.list_application_batches("cars") == []
    gquery.print_application_info("cars")
    printed = capsys.readouterr().out
    assert "Available versions:" in printed and "['1', '2']" in printed
    assert "['dev', 'prod']" in printed


def test_module_stays_callable_as_before(speeds: gantry.Application) -> None:
    assert gantry.query("cars").count() == 12
    assert gantry.query is gquery


def test_num_points_splits_the_window(speeds: gantry.Application) -> None:
    df = gquery.query("cars", environment="prod")  # the last 24 hours, speeds 0..9 hourly
    means = df["inputs.speed"].mean(num_points=4)
    assert list(means["time"]) == [NOW - datetime.timedelta(hours=24 - 6 * k) for k in range(4)]
    assert means["mean"].tolist()[3] == 2.5  # the last six hours: speeds 0..5
    assert means["mean"].isna().tolist() == [True, True, False, False]
    counts = df["inputs.speed"].count(num_points=2)
    assert counts["total"].tolist() == [0, 10]
