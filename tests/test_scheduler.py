"""Triggers, automations and the exactly-once scheduler, with a manual clock (no sleeping)."""

from __future__ import annotations

import contextlib
import datetime
import random
import shutil
import textwrap
import time
from datetime import timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import (
    AscendedSortCurator,
    NewestCurator,
    UniformCurator,
    get_all_curators,
    get_curator,
    list_curators,
)
from gantry_local.automations.triggers import IntervalTrigger

from ._sigkill import Zygote, kill

START = datetime.datetime(2022, 12, 31, tzinfo=timezone.utc)


def fill(app: gantry.Application, days: int, per_day: int = 50) -> None:
    for day in range(days):
        start = START + timedelta(days=day)
        app.log_records(inputs=[{"i": i, "day": day} for i in range(per_day)], outputs=[0] * per_day,
                        timestamps=[start + timedelta(minutes=i * 1440 / per_day)
                                    for i in range(per_day)])


def test_the_gantry_seed_example_runs_unchanged(tmp_path: Path) -> None:
    clock = gantry.ManualClock(START)
    workspace = gantry.init(db=tmp_path / "seed.duckdb", clock=clock)
    try:
        GANTRY_APP_NAME = "my-app"
        gantry.create_application(GANTRY_APP_NAME)
        # --- the seed, unchanged but for the import lines ---
        import gantry_local as gantry_  # noqa: F401
        from gantry_local.automations.automations import Automation
        from gantry_local.automations.curators import UniformCurator
        from gantry_local.automations.triggers import IntervalTrigger

        application = gantry.get_application(GANTRY_APP_NAME)
        uniform_curator = UniformCurator(application_name=GANTRY_APP_NAME, name="uniform-100",
                                         limit=100)
        interval_trigger = IntervalTrigger(start_on=datetime.datetime(2022, 12, 31, 0, 0),
                                           interval=datetime.timedelta(days=1))
        curator_automation = Automation(name="curator-automation", trigger=interval_trigger,
                                        action=uniform_curator)
        application.add_automation(curator_automation)
        # --- end of the seed ---
        fill(application, 3, per_day=150)
        clock.advance(timedelta(days=3))
        runs = gantry.Scheduler(workspace).run_pending()
        assert [r.rows_selected for r in runs] == [100, 100, 100]
        assert [a["name"] for a in application.list_automations()] == ["curator-automation"]
        assert len(uniform_curator.get_curated_dataset().list_versions()) == 3
    finally:
        workspace.close()


@pytest.fixture
def daily(ws: gantry.Workspace, clock: gantry.ManualClock) -> gantry.Application:
    clock.set(START)
    app = ws.create_application("m")
    fill(app, 30)
    return app


def test_thirty_days_make_thirty_versions_once(ws: gantry.Workspace, daily: gantry.Application,
                                               clock: gantry.ManualClock) -> None:
    curator = UniformCurator("daily", "m", limit=10, start_on=START).create(workspace=ws)
    clock.set(START + timedelta(days=30))
    scheduler = gantry.Scheduler(ws)
    runs = scheduler.run_pending()
    assert len(runs) == 30 and all(r.status == "succeeded" and r.rows_selected == 10 for r in runs)
    assert [r.interval_start for r in runs] == [START + timedelta(days=d) for d in range(30)]
    assert scheduler.run_pending() == []
    dataset = curator.get_curated_dataset()
    assert len(dataset.list_versions()) == 30
    assert dataset.read().height == 300
    assert dataset.list_versions()[-1]["message"].startswith(
        "10 records added from interval 2022-12-31T00:00 to 2023-01-01T00:00 of 50 records by "
        "curator daily")
    history = curator.get_runs()
    assert history.height == 30 and set(history["status"]) == {"succeeded"}


def test_delay_holds_a_run_back(ws: gantry.Workspace, daily: gantry.Application,
                                clock: gantry.ManualClock) -> None:
    UniformCurator("late", "m", 5, start_on=START, curation_delay=timedelta(hours=6)).create(
        workspace=ws)
    scheduler = gantry.Scheduler(ws)
    clock.set(START + timedelta(days=1, hours=5))
    assert scheduler.run_pending() == []
    clock.set(START + timedelta(days=1, hours=6))
    assert len(scheduler.run_pending()) == 1


def test_disable_for_a_week_then_enable_backfills_that_week(
        ws: gantry.Workspace, daily: gantry.Application, clock: gantry.ManualClock) -> None:
    curator = UniformCurator("pause", "m", 5, start_on=START).create(workspace=ws)
    scheduler = gantry.Scheduler(ws)
    clock.set(START + timedelta(days=10))
    assert len(scheduler.run_pending()) == 10
    curator.disable()
    clock.set(START + timedelta(days=17))
    assert scheduler.run_pending() == []
    curator.enable()
    backfill = scheduler.run_pending()
    assert [r.interval_start for r in backfill] == [START + timedelta(days=d) for d in range(10, 17)]


def test_curate_past_intervals_false_starts_at_the_current_interval(
        ws: gantry.Workspace, daily: gantry.Application, clock: gantry.ManualClock) -> None:
    clock.set(START + timedelta(days=20, hours=3))
    UniformCurator("fresh", "m", 5, start_on=START, curate_past_intervals=False).create(
        workspace=ws)
    clock.set(START + timedelta(days=23))
    runs = gantry.Scheduler(ws).run_pending()
    assert [r.interval_start for r in runs] == [START + timedelta(days=d) for d in (20, 21, 22)]


def test_a_failing_curator_is_recorded_retried_and_does_not_stop_others(
        ws: gantry.Workspace, daily: gantry.Application, clock: gantry.ManualClock) -> None:
    AscendedSortCurator("broken", "m", 5, sort_field="inputs.later", start_on=START).create(
        workspace=ws)
    NewestCurator("fine", "m", 5, start_on=START).create(workspace=ws)
    clock.set(START + timedelta(days=2))
    scheduler = gantry.Scheduler(ws)
    runs = scheduler.run_pending()
    assert sorted((r.curator, r.status) for r in runs) == [
        ("broken", "failed"), ("broken", "failed"), ("fine", "succeeded"), ("fine", "succeeded")]
    assert "inputs.later" in (runs[0].error or runs[1].error or "")
    daily.log_record(inputs={"i": 1, "day": 0, "later": 3}, outputs=0,
                     timestamp=START + timedelta(hours=1))
    assert scheduler.run_pending() == []  # in its retry backoff (1 minute after 1 failure)
    clock.advance(scheduler.retry_delay(1))
    retried = scheduler.run_pending()
    assert [(r.curator, r.status) for r in retried] == [("broken", "succeeded")] * 2


def test_a_committed_but_unrecorded_run_is_found_not_doubled(
        ws: gantry.Workspace, daily: gantry.Application, clock: gantry.ManualClock) -> None:
    curator = UniformCurator("crashy", "m", 5, start_on=START).create(workspace=ws)
    curator.curate(ws, START, START + timedelta(days=1))  # as if the process died right after
    clock.set(START + timedelta(days=1))
    [run] = gantry.Scheduler(ws).run_pending()
    assert run.status == "succeeded" and run.rows_selected == 5
    assert len(curator.get_curated_dataset().list_versions()) == 1


def test_definitions_persist_and_list(tmp_path: Path, clock: gantry.ManualClock) -> None:
    db = tmp_path / "p.duckdb"
    with gantry.Workspace(db=db, clock=clock) as ws:
        app = ws.create_application("m")
        app.add_automation(Automation("nightly", IntervalTrigger(START, timedelta(days=1)),
                                      UniformCurator("u", "m", 7)))
        with pytest.raises(gantry.AlreadyExistsError):
            app.add_automation(Automation("nightly", IntervalTrigger(START, timedelta(days=1)),
                                          UniformCurator("u2", "m", 7)))
    with gantry.Workspace(db=db, clock=clock) as ws:
        assert list_curators("m", workspace=ws) == ["u"]  # names, as Gantry returns
        [curator] = get_all_curators("m", workspace=ws)
        assert curator.name == "u" and curator.limit == 7 and curator.enabled
        assert get_curator("u", workspace=ws).curation_interval == timedelta(days=1)
        automation = ws.get_application("m").get_automation("nightly")
        automation.stop()
        assert not get_curator("u", workspace=ws).enabled
        with pytest.raises(gantry.NotFoundError):
            get_curator("nope", workspace=ws)


@pytest.mark.parametrize(("build", "match"), [
    (lambda: IntervalTrigger(START, timedelta(0)), "interval"),
    (lambda: IntervalTrigger(START, timedelta(days=1), timedelta(-1)), "delay"),
    (lambda: IntervalTrigger("2022-12-31", timedelta(days=1)), "start_on"),
    (lambda: Automation("a", IntervalTrigger(START, timedelta(days=1)), "curator"), "curator"),
    (lambda: Automation("a", "daily", UniformCurator("u", "m", 1)), "IntervalTrigger"),
    (lambda: Automation("bad name", IntervalTrigger(START, timedelta(days=1)),
                        UniformCurator("u", "m", 1)), "automation name"),
    (lambda: gantry.Scheduler(None, tick=0), "tick"),  # type: ignore[arg-type]
])
def test_bad_definitions(build: object, match: str) -> None:
    with pytest.raises(gantry.ValidationError, match=match):
        build()  # type: ignore[operator]


def test_scheduler_thread_starts_and_stops(ws: gantry.Workspace, daily: gantry.Application,
                                           clock: gantry.ManualClock) -> None:
    UniformCurator("bg", "m", 3, start_on=START).create(workspace=ws)
    clock.set(START + timedelta(days=2))
    scheduler = gantry.Scheduler(ws, tick=0.05)
    scheduler.start()
    try:
        import time

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and \
                len(get_curator("bg", workspace=ws).get_runs()) < 2:
            time.sleep(0.05)
    finally:
        scheduler.stop()
    assert get_curator("bg", workspace=ws).get_runs().height == 2


RUN_PENDING = textwrap.dedent("""
    def run_pending(folder, days):
        import datetime
        now = datetime.datetime(2022, 12, 31) + datetime.timedelta(days=int(days))
        ws = gantry.Workspace(db=folder + "/g.duckdb", clock=gantry.ManualClock(now))
        print("ready", os.getpid(), flush=True)
        gantry.Scheduler(ws).run_pending()
        ws.close()
        print("done", os.getpid(), flush=True)
""")


@pytest.mark.slow
def test_sigkill_during_runs_never_doubles_or_loses_an_interval(tmp_path: Path) -> None:
    days = 12
    template = tmp_path / "template"
    template.mkdir()
    with gantry.Workspace(db=template / "g.duckdb", clock=gantry.ManualClock(START)) as ws:
        app = ws.create_application("m")
        fill(app, days, per_day=60)
        curator = UniformCurator("u", "m", 15, start_on=START)
        curator.create(workspace=ws)
        expected = [sorted(curator.select(ws, START + timedelta(days=day),  # an uninterrupted run
                                          START + timedelta(days=day + 1))[0]
                           .column("__join_key").to_pylist()) for day in range(days)]
    rng, kinds = random.Random(4), set()
    with contextlib.closing(Zygote(RUN_PENDING)) as zygote:  # forks: no Python start-up each
        shutil.copytree(template, tmp_path / "calibrate")
        zygote.start("run_pending", tmp_path / "calibrate", days)
        started = time.monotonic()
        assert zygote.readline().startswith("done")
        duration = time.monotonic() - started  # kill inside a run, whatever the load
        for trial in range(20):
            folder = tmp_path / f"trial{trial}"
            shutil.copytree(template, folder)
            pid = zygote.start("run_pending", folder, days)
            time.sleep(rng.uniform(0, duration))
            kill(pid)
            clock = gantry.ManualClock(START + timedelta(days=days))
            with gantry.Workspace(db=folder / "g.duckdb", clock=clock) as ws:
                done = get_curator("u", workspace=ws).get_runs().filter(
                    pl.col("status") == "succeeded").height
                kinds.add("none" if done == 0 else "all" if done == days else "part")
                gantry.Scheduler(ws).run_pending()  # finish what the killed process left
                runs = get_curator("u", workspace=ws).get_runs()
                assert runs.height == days and set(runs["status"]) == {"succeeded"}, trial
                dataset = get_curator("u", workspace=ws).get_curated_dataset()
                versions = dataset.list_versions()
                starts = sorted(v["lineage"]["interval_start"] for v in versions)
                assert starts == [(START + timedelta(days=d)).isoformat()
                                  for d in range(days)], trial
                rows = dataset.read()
            for day in range(days):  # the rows equal those of an uninterrupted run
                got = rows.filter(rows["inputs.day"] == day)["__join_key"].to_list()
                assert sorted(got) == expected[day], trial
    assert "part" in kinds, kinds  # some kills landed mid-run
