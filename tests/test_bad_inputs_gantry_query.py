"""Bad input to the Gantry-style start-up and query entry points: a clear error, nothing stored."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.errors import (
    AlreadyExistsError,
    GantryLocalError,
    NotFoundError,
    ValidationError,
)
from gantry_local.llm_utils import fill_prompt
from gantry_local.query.time_window import RelativeTimeWindow, TimeWindow
from tests.conftest import stored_counts

NOW = datetime.datetime(2024, 3, 1, 12, tzinfo=datetime.timezone.utc)


@pytest.fixture
def cars(tmp_path: Path) -> Iterator[gantry.Workspace]:
    ws = gantry.init(db=tmp_path / "g.duckdb", clock=gantry.ManualClock(NOW))
    gantry.create_application("cars")
    for i in range(4):
        gantry.log_record("cars", version="1", inputs={"speed": i, "color": "red"},
                          outputs={"ok": i % 2 == 0},
                          timestamp=NOW - datetime.timedelta(hours=i + 1))
    yield ws
    ws.close()


def _df() -> gquery.GantryDataFrame:
    return gquery.query("cars")


def _chat() -> Any:
    try:
        return gantry.get_application("talk")
    except NotFoundError:
        return gantry.create_application("talk", "Chat")


Case = tuple[str, Callable[[], Any], type[Exception], str]
CASES: list[Case] = [
    ("unknown-application", lambda: gquery.query("trucks"), NotFoundError,
     "no application 'trucks'.*create_application"),
    ("application-not-a-name", lambda: gquery.query(42),  # type: ignore[arg-type]
     ValidationError, "application must be"),
    ("start-time-garbage", lambda: gquery.query("cars", start_time="yesterday"),
     ValidationError, "'yesterday' is not a time.*'-24H'"),
    ("start-time-number", lambda: gquery.query("cars", start_time=5),  # type: ignore[arg-type]
     ValidationError, "start_time must be a datetime or a string"),
    ("start-after-end", lambda: gquery.query("cars", start_time="now", end_time="-2H"),
     ValidationError, "is after end_time"),
    ("relative-overflow", lambda: gquery.query("cars", start_time="-99999999999D"),
     ValidationError, "outside the datetime range"),
    ("view-unknown", lambda: gquery.query("cars", view="weekly"), NotFoundError,
     "View 'weekly' not found. Available views"),
    ("view-with-window", lambda: gquery.query("cars", start_time="-1D", view="weekly"),
     ValidationError, "view cannot be combined with start_time"),
    ("view-not-a-name", lambda: gquery.query("cars", view=3),  # type: ignore[arg-type]
     ValidationError, "view name must be"),
    ("batch-unknown", lambda: gquery.query("cars", batch_id="b1"), NotFoundError,
     "Batch 'b1' not found"),
    ("batch-not-text", lambda: gquery.query("cars", batch_id=7),  # type: ignore[arg-type]
     ValidationError, "batch_id must be a string"),
    ("create-view-window-and-duration", lambda: gquery.create_view(
        "v", "cars", start_time=datetime.datetime(2024, 1, 1), end_time=datetime.datetime(2024, 1, 2),
        duration=datetime.timedelta(days=1)), ValidationError, "Cannot provide duration and"),
    ("create-view-no-window", lambda: gquery.create_view("v", "cars"), ValidationError,
     "Need to provide duration or start_time/end_time"),
    ("create-view-half-window", lambda: gquery.create_view(
        "v", "cars", start_time=datetime.datetime(2024, 1, 1)), ValidationError,
     "Need to provide both start_time and end_time"),
    ("create-view-negative-duration", lambda: gquery.create_view(
        "v", "cars", duration=datetime.timedelta(days=-1)), ValidationError, "positive timedelta"),
    ("create-view-bad-name", lambda: gquery.create_view("", "cars", duration=datetime.timedelta(1)),
     ValidationError, "view name must be"),
    ("create-view-bad-filter", lambda: gquery.create_view(
        "v", "cars", duration=datetime.timedelta(1), data_filters=[{"feature_name": "inputs.nope",
                                                           "lower_bound": 1}]),
     ValidationError, "unknown field 'inputs.nope'"),
    ("create-view-bad-tags", lambda: gquery.create_view(
        "v", "cars", duration=datetime.timedelta(1), tag_filters={"env": 3}),  # type: ignore[dict-item]
     ValidationError, "tag_filters must be a dict of strings"),
    ("create-view-unknown-app", lambda: gquery.create_view("v", "trucks", duration=datetime.timedelta(1)),
     NotFoundError, "no application 'trucks'"),
    ("views-bad-environment", lambda: gquery.list_application_views("cars", environment=3),  # type: ignore[arg-type]
     ValidationError, "environment must be a string"),
    ("environment-not-text", lambda: gquery.query("cars", environment=3),  # type: ignore[arg-type]
     ValidationError, "environment must be a string"),
    ("filters-a-dict", lambda: gquery.query("cars", filters={"feature_name": "inputs.speed"}),  # type: ignore[arg-type]
     ValidationError, "filters must be a list"),
    ("filter-without-name", lambda: gquery.query("cars", filters=[{"equals": 3}]),
     ValidationError, "'feature_name'"),
    ("filter-unknown-field", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.sped", "equals": 3}]), ValidationError,
     "unknown field 'inputs.sped'.*inputs.speed"),
    ("filter-equals-a-list", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "equals": [3]}]), ValidationError,
     "equals .* must be a bool, number, string or datetime"),
    ("filter-equals-wrong-type", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "equals": "fast"}]), ValidationError,
     "holds int values"),
    ("filter-both-bounds-kinds", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "lower_bound": 1, "inclusive_lower_bound": 2}]),
     ValidationError, "both inclusive_lower_bound and lower_bound"),
    ("filter-both-upper-kinds", lambda: gantry.get_application("cars").query(all_time=True, filters=[
        {"feature_name": "inputs.speed", "upper_bound": 1, "inclusive_upper_bound": 2}]),
     ValidationError, "both inclusive_upper_bound and upper_bound"),
    ("filter-inclusive-bounds-inverted", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "inclusive_lower_bound": 3, "upper_bound": 1}]),
     ValidationError, "inclusive_lower_bound is above upper_bound"),
    ("filter-not-number-query-text", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "not_number_query": "3"}]),
     ValidationError, "not_number_query must be a number"),
    ("filter-not-number-query-on-text", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.color", "not_number_query": 3}]),
     ValidationError, "holds str values"),
    ("filter-equals-nan", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "equals": float("nan")}]),
     ValidationError, "NaN .* matches nothing"),
    ("filter-equals-none", lambda: gantry.get_application("cars").query(all_time=True, filters=[
        {"feature_name": "inputs.speed", "equals": None}]),
     ValidationError, "must be a bool, number, string or datetime"),
    ("filter-feature-name-number", lambda: gquery.query("cars", filters=[
        {"feature_name": 3, "equals": 1}]), ValidationError, "feature_name must be a string"),
    ("mask-isin-on-number", lambda: _df()["inputs.speed"].isin([1]), ValidationError,
     "isin works on str"),
    ("mask-bool-equals-number", lambda: _df()["outputs.ok"] == 1, ValidationError,
     "cannot compare 'outputs.ok'"),
    ("frame-view-bad-name", lambda: _df().create_view(""), ValidationError,
     "view name must be"),
    ("frame-view-taken", lambda: [_df().create_view("v"), _df().create_view("v")],
     AlreadyExistsError, "view 'v' already exists"),
    ("frame-mean-of-text", lambda: _df().mean(), ValidationError, "mean works on int, float"),
    ("metric-not-series", lambda: gquery.metric.accuracy_score(
        _df()["outputs.ok"], "feedback"), ValidationError, "feedback must be a GantrySeries"),
    ("percent-true-of-text", lambda: gquery.metric.percent_true(_df()["inputs.color"]),
     ValidationError, "percent_true works on bool series"),
    ("percent-null-not-series", lambda: gquery.metric.percent_null("inputs.color"),
     ValidationError, "data_node must be a GantrySeries"),
    ("percent-false-dropna-text", lambda: gquery.metric.percent_false(
        _df()["outputs.ok"], dropna="yes"), ValidationError,  # type: ignore[arg-type]
     "dropna must be True or False"),
    ("distance-number-and-text", lambda: gquery.distance.d1(_df()["inputs.speed"],
                                                             _df()["inputs.color"]),
     ValidationError, "cannot compare 'inputs.speed' \\(int values\\) with 'inputs.color'"),
    ("pdf-of-a-time", lambda: gquery.GantrySeries("__time", "datetime", _df()).pdf(),
     ValidationError, "pdf works on int, float, bool, str and tag series"),
    ("join-key-from-a-list", lambda: gantry.JoinKey.from_dict([1]),  # type: ignore[arg-type]
     TypeError, "JoinKey.from_dict takes a dict"),
    ("join-key-from-unencodable", lambda: gantry.JoinKey.from_dict({"a": object()}),
     ValidationError, "cannot encode"),
    ("join-key-empty", lambda: gantry.log_record("cars", inputs={"speed": 1}, outputs={"ok": 1},
                                                 join_key=gantry.JoinKey("")),
     ValidationError, "join keys must be 1 to"),
    ("fill-prompt-not-text", lambda: fill_prompt(3, {}),  # type: ignore[arg-type]
     ValidationError, "prompt must be a string"),
    ("fill-prompt-number-value", lambda: fill_prompt("{{a}}", {"a": 1}),  # type: ignore[dict-item]
     ValidationError, "values must map variable names to strings"),
    ("fill-prompt-values-list", lambda: fill_prompt("{{a}}", ["a"]),  # type: ignore[arg-type]
     ValidationError, "values must be a dict"),
    ("fill-prompt-strict-unfilled", lambda: fill_prompt("{{a}} {{b}}", {"a": "x"}, strict=True),
     ValidationError, r"Prompt 'x \{\{b\}\}' was not fully filled.*Unfilled keys: \['b'\]"),
    ("fill-prompt-strict-not-bool", lambda: fill_prompt("a", {}, strict="yes"),  # type: ignore[arg-type]
     ValidationError, "strict must be True or False"),
    ("setup-logger-unknown-level", lambda: gantry.setup_logger("LOUD"), ValidationError,
     "logging_level must be one of"),
    ("application-type-unknown", lambda: gantry.create_application("talk", "Chatty"),
     ValidationError, "application_type must be one of .*'Chat'"),
    ("chat-log-no-choices", lambda: _chat().log_llm_data({"model": "gpt-4"}, {"id": "x"}),
     ValidationError, "api_response has no 'choices' list"),
    ("chat-version-on-custom-app", lambda: gantry.get_application("cars").create_version(
        "p", "d", "gpt-4"), ValidationError, "versions need application_type='Completion'"),
    ("tag-filter-two-kinds", lambda: gquery.query("cars", filters=[
        {"feature_name": "env", "dtype": "tag", "equals": "a", "category_query": ["b"]}]),
     ValidationError, "a tag filter takes one of"),
    ("tag-filter-not-text", lambda: gquery.query("cars", filters=[
        {"feature_name": "env", "dtype": "tag", "equals": 1}]), ValidationError,
     "can only equal a string"),
    ("relative-5000-digits", lambda: gquery.query("cars", start_time="-" + "9" * 5000 + "D"),
     ValidationError, "is not a time"),
    ("relative-not-ascii-digit", lambda: gquery.query("cars", start_time="-\u0663D"),
     ValidationError, "is not a time"),
    ("window-length-max", lambda: gantry.get_application("cars").query(
        RelativeTimeWindow(datetime.timedelta.max)), ValidationError, "reaches before year 1"),
    ("window-offset-huge", lambda: gantry.get_application("cars").query(RelativeTimeWindow(
        datetime.timedelta(days=1), offset=datetime.timedelta(days=999999))),
     ValidationError, "reaches before year 1"),
    ("mask-surrogate", lambda: (lambda df: df[df["inputs.color"] != "\ud800"])(_df()),
     ValidationError,
     "not valid Unicode"),
    ("strict-bound-nan", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "lower_bound": float("nan"), "inclusive": False}]),
     ValidationError, "NaN"),
    ("inclusive-not-bool", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "lower_bound": 0, "inclusive": "no"}]),
     ValidationError, "'inclusive' must be True or False"),
    ("dtype-not-text", lambda: gquery.query("cars", filters=[
        {"feature_name": "inputs.speed", "equals": 1, "dtype": 5}]),
     ValidationError, "'dtype' must be a string"),
    ("unknown-column", lambda: _df()["inputs.sped"], KeyError,
     "'inputs.sped' is not a valid column.*inputs.speed"),
    ("index-by-number", lambda: _df()[3], ValidationError, "indexed by a column name or a mask"),
    ("order-on-strings", lambda: _df()["inputs.color"] > 3, ValidationError,
     "> works on int, float, datetime, date series; 'inputs.color' holds str"),
    ("compare-two-series", lambda: _df()["inputs.speed"] == _df()["inputs.speed"],
     ValidationError, "series cannot be compared with each other"),
    ("compare-with-none", lambda: _df()["inputs.speed"] == None,  # noqa: E711
     ValidationError, "use isnull\\(\\)/notnull\\(\\) for None"),
    ("mask-from-another-frame", lambda: _df()[_df()["inputs.speed"] > 1], ValidationError,
     "another GantryDataFrame"),
    ("masks-joined-with-and", lambda: _df()[(_df()["inputs.speed"] > 1) and True],
     ValidationError, "combine masks with &"),
    ("head-negative", lambda: _df().head(-1), ValidationError, "n must be a whole number"),
    ("mean-of-strings", lambda: _df()["inputs.color"].mean(), ValidationError,
     "mean works on int, float series"),
    ("num-points-zero", lambda: _df()["inputs.speed"].mean(num_points=0), ValidationError,
     "num_points must be an int > 0"),
    ("num-points-with-group-by", lambda: _df()["inputs.speed"].max(
        num_points=3, group_by="inputs.color"), ValidationError,
     "grouped by a column cannot also be split into num_points"),
    ("num-points-without-window", lambda: gquery.GantryDataFrame(gantry.get_workspace(), "cars")[
        "inputs.speed"].mean(num_points=2), ValidationError,
     "num_points > 1 needs a query with both start_time and end_time"),
    ("group-by-unknown", lambda: _df()["inputs.speed"].mean(group_by="inputs.size"),
     ValidationError, "cannot find column 'inputs.size'"),
    ("quantile-out-of-range", lambda: _df()["inputs.speed"].quantile([1.5]), ValidationError,
     "quantile_vals must be a list of numbers in \\[0, 1\\]"),
    ("count-limit-zero", lambda: _df()["inputs.speed"].count(limit=0), ValidationError,
     "limit must be an int > 0"),
    ("isin-a-string", lambda: _df()["inputs.color"].isin("red"),  # type: ignore[arg-type]
     ValidationError, "isin takes a list"),
    ("time-window-bad-start", lambda: TimeWindow(3, NOW),  # type: ignore[arg-type]
     ValidationError, "TimeWindow start_time must be a datetime or an ISO string"),
    ("relative-window-negative", lambda: RelativeTimeWindow(datetime.timedelta(hours=-1)),
     ValidationError, "window_length must be a positive timedelta"),
    ("relative-window-bad-offset", lambda: RelativeTimeWindow(
        datetime.timedelta(hours=1), offset=5),  # type: ignore[arg-type]
     ValidationError, "offset must be a timedelta"),
    ("app-query-window-not-a-window", lambda: gantry.get_application("cars").query(
        "-24H"),  # type: ignore[arg-type]
     ValidationError, "time_window must be a TimeWindow or RelativeTimeWindow"),
    ("app-query-window-and-bounds", lambda: gantry.get_application("cars").query(
        TimeWindow(NOW, NOW), start_time=NOW), ValidationError,
     "either time_window or start_time/end_time"),
    ("versions-unknown-app", lambda: gquery.list_application_versions("trucks"),
     NotFoundError, "no application 'trucks'"),
    ("environments-app-not-a-name", lambda: gquery.list_application_environments(
        None),  # type: ignore[arg-type]
     ValidationError, "application must be an application name"),
    ("batches-unknown-version", lambda: gquery.list_application_batches("cars", version="9"),
     NotFoundError, "no version '9'.*versions are: \\['1'\\]"),
    ("info-unknown-app", lambda: gquery.print_application_info("trucks"), NotFoundError,
     "no application 'trucks'"),
]


@pytest.mark.parametrize(("name", "call", "error", "message"), CASES, ids=[c[0] for c in CASES])
def test_refused_and_nothing_stored(cars: gantry.Workspace, name: str, call: Callable[[], Any],
                                    error: type[Exception], message: str) -> None:
    before = stored_counts(cars, "cars")
    with pytest.raises(error, match=message) as caught:
        call()
    assert isinstance(caught.value, GantryLocalError), type(caught.value)
    assert stored_counts(cars, "cars") == before


INIT_CASES = [
    ({"logging_level": "LOUD"}, "logging_level must be one of DEBUG, INFO"),
    ({"logging_level": 99}, "logging_level numbers run from 0 to 50"),
    ({"environment": ""}, "environment must be a non-empty string"),
    ({"environment": 7}, "environment must be str or None"),
    ({"api_key": 1234}, "api_key must be str or None"),
    ({"send_in_background": "yes"}, "send_in_background must be bool or None"),
]


@pytest.mark.parametrize(("kwargs", "message"), INIT_CASES, ids=[str(c[0]) for c in INIT_CASES])
def test_bad_init_keeps_the_previous_workspace(cars: gantry.Workspace, kwargs: dict[str, Any],
                                               message: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=message):
        gantry.init(db=tmp_path / "other.duckdb", **kwargs)
    assert gantry.get_workspace() is cars and not (tmp_path / "other.duckdb").exists()
    assert stored_counts(cars, "cars")[0] == 4


def test_a_numpy_strict_bound_is_a_number(cars: gantry.Workspace) -> None:
    import numpy as np

    frame = gquery.query("cars", start_time="-1D", filters=[
        {"feature_name": "inputs.speed", "lower_bound": np.int64(1), "inclusive": False}])
    assert frame.count() == 2  # speeds 2 and 3
