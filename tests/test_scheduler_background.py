"""The background loop, interval alignment, retry backoff and a tick's cost (issues 14, 15)."""

from __future__ import annotations

import datetime
import logging
import threading
from datetime import timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import AscendedSortCurator, UniformCurator
from gantry_local.automations.scheduler import (
    BACKGROUND_ENV,
    background_scheduler,
)
from gantry_local.automations.triggers import IntervalTrigger

MONDAY = datetime.datetime(2024, 1, 1, tzinfo=timezone.utc)  # 2024-01-01 was a Monday
DAY = timedelta(days=1)


def _fill(app: gantry.Application, days: int, per_day: int = 24) -> None:
    for day in range(days):
        app.log_records(inputs=[{"i": i} for i in range(per_day)], outputs=[0] * per_day,
                        timestamps=[MONDAY + day * DAY + timedelta(hours=i * 24 / per_day)
                                    for i in range(per_day)])


@pytest.fixture
def bws(tmp_path: Path) -> gantry.Workspace:
    """A workspace whose background loop is on (whatever the environment says)."""
    clock = gantry.ManualClock(MONDAY)
    workspace = gantry.Workspace(db=tmp_path / "bg.duckdb", clock=clock, flush_interval=0.01,
                                 background_scheduler=True)
    yield workspace
    workspace.close()


def test_the_seed_promise_adding_an_automation_curates_with_no_further_call(
        bws: gantry.Workspace) -> None:
    app = bws.create_application("my-app")
    _fill(app, 2)
    curator = UniformCurator(application_name="my-app", name="uniform-5", limit=5)
    app.add_automation(Automation(name="curator-automation",
                                  trigger=IntervalTrigger(start_on=MONDAY, interval=DAY),
                                  action=curator))
    loop = background_scheduler(bws)
    assert loop is not None and loop.background
    assert curator.get_runs().height == 0  # its first tick waits: start-up code is not raced
    bws.clock.advance(2 * DAY)  # type: ignore[attr-defined]
    assert loop.wait_for_tick()
    runs = curator.get_runs()
    assert runs["status"].to_list() == ["succeeded", "succeeded"]
    assert [v["version_id"] for v in curator.get_curated_dataset().list_versions()] == \
        runs["version_id"].reverse().to_list()
    threads = [t for t in threading.enumerate() if t.name == "gantry-local-scheduler"]
    bws.close()  # stops the loop before the connection closes
    assert background_scheduler(bws) is None
    for thread in threads:
        thread.join(5)
    assert not any(t.is_alive() for t in threads)


def test_the_background_loop_can_be_turned_off(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    clock = gantry.ManualClock(MONDAY)
    with gantry.Workspace(db=tmp_path / "off.duckdb", clock=clock,
                          background_scheduler=False) as off:
        app = off.create_application("m")
        app.add_automation(Automation("a", IntervalTrigger(MONDAY, DAY), UniformCurator("u", "m", 5)))
        assert background_scheduler(off) is None
    monkeypatch.setenv(BACKGROUND_ENV, "off")
    with gantry.Workspace(db=tmp_path / "env.duckdb", clock=clock) as env:
        app = env.create_application("m")
        app.add_automation(Automation("a", IntervalTrigger(MONDAY, DAY), UniformCurator("u", "m", 5)))
        assert background_scheduler(env) is None
    monkeypatch.setenv(BACKGROUND_ENV, "1")
    with gantry.Workspace(db=tmp_path / "on.duckdb", clock=clock) as on:
        app = on.create_application("m")
        app.add_automation(Automation("a", IntervalTrigger(MONDAY, DAY), UniformCurator("u", "m", 5)))
        assert background_scheduler(on) is not None
    with pytest.raises(gantry.ValidationError, match="background_scheduler must be True, False"):
        gantry.Workspace(db=tmp_path / "bad.duckdb", background_scheduler="yes")  # type: ignore[arg-type]


def test_a_users_scheduler_takes_over_from_the_background_loop(bws: gantry.Workspace) -> None:
    app = bws.create_application("m")
    _fill(app, 1)
    app.add_automation(Automation("a", IntervalTrigger(MONDAY, DAY), UniformCurator("u", "m", 5)))
    assert background_scheduler(bws) is not None
    scheduler = gantry.Scheduler(bws)  # the user drives this workspace now
    assert background_scheduler(bws) is None
    app.add_automation(Automation("b", IntervalTrigger(MONDAY, DAY), UniformCurator("v", "m", 5)))
    assert background_scheduler(bws) is None  # and none starts again
    bws.clock.advance(DAY)  # type: ignore[attr-defined]
    assert sorted(r.curator for r in scheduler.run_pending()) == ["u", "v"]


def test_a_weekly_curator_started_on_a_monday_runs_monday_to_monday(ws: gantry.Workspace,
                                                                    clock: gantry.ManualClock) -> None:
    ws.create_application("m")
    clock.set(MONDAY + timedelta(days=15))
    weekly = UniformCurator("weekly", "m", 5, start_on=MONDAY,
                            curation_interval=timedelta(weeks=1)).create(workspace=ws)
    gantry.Scheduler(ws).run_pending()
    starts = weekly.get_runs()["interval_start"].to_list()
    assert [s.strftime("%A %Y-%m-%d") for s in starts] == ["Monday 2024-01-01",
                                                            "Monday 2024-01-08"]


def test_without_start_on_a_curator_starts_now_looking_back_one_interval(
        ws: gantry.Workspace, clock: gantry.ManualClock) -> None:
    ws.create_application("m")
    clock.set(MONDAY + timedelta(days=3, hours=10, minutes=30, microseconds=7))  # a Thursday
    weekly = UniformCurator("weekly", "m", 5, curation_interval=timedelta(weeks=1)).create(
        workspace=ws)
    assert weekly.first_interval_start == MONDAY + timedelta(days=3, hours=10, minutes=30) - \
        timedelta(weeks=1)
    [run] = gantry.Scheduler(ws).run_pending()  # due at once, as in Gantry
    assert run.interval_end == MONDAY + timedelta(days=3, hours=10, minutes=30)


def test_a_failing_curator_backs_off_and_says_so(ws: gantry.Workspace, clock: gantry.ManualClock,
                                                 caplog: pytest.LogCaptureFixture,
                                                 tmp_path: Path) -> None:
    ws.create_application("m")
    AscendedSortCurator("broken", "m", 5, sort_field="inputs.never", start_on=MONDAY).create(
        workspace=ws)
    clock.set(MONDAY + 3 * DAY)
    scheduler = gantry.Scheduler(ws)
    with caplog.at_level(logging.WARNING, logger="gantry_local"):
        tries = []
        for _ in range(40):  # 40 ticks a minute apart
            tries.append(len(scheduler.run_pending()))
            clock.advance(timedelta(minutes=1))
    # tried at minutes 0, 1, 3, 7, 15, 31: backoff doubles from a minute (not every tick)
    assert [i for i, n in enumerate(tries) if n] == [0, 1, 3, 7, 15, 31]
    assert all(n == 3 for n in tries if n)  # each try retries its 3 failed intervals
    said = [r for r in caplog.records if "'broken' failed" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.WARNING
    assert "retried in 0:01:00" in said[0].getMessage()
    runs = gantry.automations.curators.get_curator("broken", workspace=ws).get_runs()
    assert runs["status"].to_list() == ["failed"] * 3 and "inputs.never" in runs["error"][0]
    assert scheduler.failed_automations()["failures"].to_list() == [6]
    assert scheduler.retry_delay(30) == scheduler.max_retry_after == timedelta(hours=1)
    _fill(ws.get_application("m"), 1)  # the report needs a field to draw
    report = ws.get_application("m").report(tmp_path / "r.html", interval=DAY,
                                            start_time=MONDAY, end_time=MONDAY + 3 * DAY)
    page = Path(report).read_text()
    assert "Failing automations" in page and "inputs.never" in page  # the report says so too


def test_a_tick_reads_no_history_and_is_bounded(ws: gantry.Workspace,
                                                clock: gantry.ManualClock) -> None:
    app = ws.create_application("m")
    _fill(app, 1)
    hourly = UniformCurator("hourly", "m", 1, start_on=MONDAY,
                            curation_interval=timedelta(hours=1)).create(workspace=ws)
    other = UniformCurator("other", "m", 1, start_on=MONDAY,
                           curation_interval=timedelta(hours=1)).create(workspace=ws)
    clock.set(MONDAY + timedelta(hours=10))
    scheduler = gantry.Scheduler(ws, max_runs_per_tick=4)
    first = scheduler.run_pending()
    # fair: two of each curator, oldest first
    assert sorted((r.curator, r.interval_start.hour) for r in first) == [
        ("hourly", 0), ("hourly", 1), ("other", 0), ("other", 1)]
    while scheduler.run_pending():
        pass
    assert hourly.get_runs().height == other.get_runs().height == 10
    registry = scheduler._registry
    registry.succeeded = None  # type: ignore[method-assign]  # a tick never loads the history
    clock.advance(timedelta(hours=1))
    assert [r.interval_start.hour for r in scheduler.run_pending()] == [10, 10]


def test_run_listings_spell_the_time_zone_utc(ws: gantry.Workspace, clock: gantry.ManualClock
                                              ) -> None:
    app = ws.create_application("m")
    _fill(app, 1)
    curator = UniformCurator("u", "m", 5, start_on=MONDAY).create(workspace=ws)
    clock.set(MONDAY + DAY)
    scheduler = gantry.Scheduler(ws)
    scheduler.run_pending()
    runs = curator.get_runs()
    for frame in (runs, scheduler.failed_automations(), scheduler.suite_runs()):
        for name, dtype in frame.schema.items():
            if isinstance(dtype, pl.Datetime):
                assert dtype.time_zone == "UTC", name
    records = app.query(all_time=True).to_polars()
    joined = records.join(runs, left_on="__time", right_on="interval_start", how="left")
    assert joined.height == records.height  # the join works: one time zone spelling


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_runs_per_tick": 0}, "max_runs_per_tick"),
    ({"max_runs_per_tick": 1.5}, "max_runs_per_tick"),
    ({"retry_after": 5}, "retry_after"),
    ({"retry_after": timedelta(-1)}, "retry_after"),
    ({"retry_after": timedelta(hours=2)}, "max_retry_after .* is shorter"),
])
def test_bad_scheduler_settings_are_refused(ws: gantry.Workspace, kwargs: dict[str, object],
                                            message: str) -> None:
    with pytest.raises(gantry.ValidationError, match=message):
        gantry.Scheduler(ws, **kwargs)  # type: ignore[arg-type]
