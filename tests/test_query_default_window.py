"""`app.query()` with no window is Gantry's last 24 hours; `all_time=True` is every record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

import gantry_local as gantry
import gantry_local.query as gquery
from gantry_local.query.time_window import RelativeTimeWindow, TimeWindow

from .conftest import START, stored_counts

# hours before the clock's now at which each record is logged (its inputs.age)
AGES = [48, 25, 24, 23, 1, 0.5]


@pytest.fixture
def aged(ws: gantry.Workspace, clock: gantry.ManualClock) -> gantry.Application:
    """Records 48 h .. 30 min old by the clock, then the clock moves on two days."""
    app = ws.create_application("model")
    clock.advance(timedelta(days=2))
    now = clock.now()
    for age in AGES:
        app.log_record(inputs={"age": float(age)}, outputs=1, tags={"env": "prod"},
                       timestamp=now - timedelta(hours=age))
    ws.flush()
    return app


def _ages(query: gantry.Query) -> list[float]:
    return sorted(query.to_polars()["inputs.age"].to_list())


def test_no_window_is_the_last_24_hours(aged: gantry.Application) -> None:
    df = aged.query()
    assert isinstance(df, gquery.GantryDataFrame)
    assert _ages(df) == [0.5, 1.0, 23.0, 24.0]  # [now - 24h, now): 24 h old is in, 25 h out
    assert len(df) == 4 and df.end_time == aged.workspace.clock.now()


def test_default_window_follows_the_clock(aged: gantry.Application,
                                          clock: gantry.ManualClock) -> None:
    clock.advance(timedelta(hours=2))
    assert _ages(aged.query()) == [0.5, 1.0]
    clock.advance(timedelta(days=1))
    assert aged.query().count() == 0


def test_gantry_arguments_without_a_window_keep_the_default(aged: gantry.Application) -> None:
    assert _ages(aged.query(env="prod")) == [0.5, 1.0, 23.0, 24.0]
    assert aged.query(env="dev").count() == 0
    kept = aged.query(filters=[{"feature_name": "inputs.age", "lower_bound": 1}])
    assert isinstance(kept, gquery.GantryDataFrame) and _ages(kept) == [23.0, 24.0]
    assert aged.query(version="1").count() == 0
    assert _ages(aged.query(tags={"env": "prod"})) == [0.5, 1.0, 23.0, 24.0]


def test_default_matches_a_one_day_window(aged: gantry.Application) -> None:
    day = RelativeTimeWindow(window_length=timedelta(days=1))
    assert _ages(aged.query(day)) == _ages(aged.query()) == [0.5, 1.0, 23.0, 24.0]


def test_all_time_is_every_record(aged: gantry.Application, ws: gantry.Workspace) -> None:
    everything = aged.query(all_time=True)
    assert isinstance(everything, gantry.Query)
    assert not isinstance(everything, gquery.GantryDataFrame)
    assert _ages(everything) == sorted(AGES)
    assert _ages(ws.query("model")) == sorted(AGES)  # the workspace's form, the same
    assert _ages(aged.query(all_time=True, filters=[
        {"feature_name": "inputs.age", "lower_bound": 24}])) == [25.0, 48.0]
    assert aged.query(all_time=True, tags={"env": "prod"}).count() == len(AGES)
    with_env = aged.query(all_time=True, env="prod")
    assert isinstance(with_env, gquery.GantryDataFrame) and len(with_env) == len(AGES)


def test_start_and_end_bound_explicitly(aged: gantry.Application,
                                        clock: gantry.ManualClock) -> None:
    now = clock.now()
    assert _ages(aged.query(start_time=now - timedelta(hours=30))) == [0.5, 1.0, 23.0, 24.0, 25.0]
    assert _ages(aged.query(end_time=now - timedelta(hours=24))) == [25.0, 48.0]
    both = aged.query(start_time=START, end_time=now - timedelta(hours=1))
    assert _ages(both) == [23.0, 24.0, 25.0, 48.0]


Call = Callable[[gantry.Application], Any]
REFUSALS: list[tuple[str, Call, str]] = [
    ("all-time-with-window", lambda a: a.query(
        RelativeTimeWindow(timedelta(hours=1)), all_time=True), r"all_time=True.*no time_window"),
    ("all-time-with-start", lambda a: a.query(start_time=START, all_time=True),
     r"all_time=True.*start_time"),
    ("all-time-with-end", lambda a: a.query(end_time=START, all_time=True),
     r"all_time=True.*end_time"),
    ("all-time-not-bool", lambda a: a.query(all_time="yes"),  # type: ignore[arg-type]
     r"all_time must be True or False"),
    ("window-and-start", lambda a: a.query(TimeWindow(START, START + timedelta(days=1)),
                                           start_time=START), r"either time_window"),
    ("default-window-bad-filter", lambda a: a.query(
        filters=[{"feature_name": "inputs.nope", "lower_bound": 1}]), r"unknown field"),
]


@pytest.mark.parametrize(("case", "call", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_bad_query_arguments_are_refused(aged: gantry.Application, ws: gantry.Workspace,
                                         case: str, call: Call, message: str) -> None:
    before = stored_counts(ws)
    with pytest.raises(gantry.ValidationError, match=message):
        call(aged)
    assert stored_counts(ws) == before
