"""One registry for every kind of automation, and each automation isolated in a tick."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import gantry_local as gantry
from gantry_local.automations._in_process import in_process
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import NewestCurator, UniformCurator, get_curator
from gantry_local.automations.triggers import AggregationTrigger, DatasetVersionTrigger, IntervalTrigger
from gantry_local.cli import main
from gantry_local.evaluation.suites import Suite
from gantry_local.monitoring.alerts import Alert

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def _fill(app: gantry.Application, days: int = 3, per_day: int = 24) -> None:
    for day in range(days):
        app.log_records(inputs=[{"x": float(i)} for i in range(per_day)], outputs=[0] * per_day,
                        feedbacks=[{"y": i % 2} for i in range(per_day)],
                        timestamps=[S + timedelta(days=day, hours=i * 24 / per_day)
                                    for i in range(per_day)])


@pytest.fixture
def busy(ws: gantry.Workspace) -> gantry.Application:
    app = ws.create_application("m")
    _fill(app)
    return app


def _corrupt(ws: gantry.Workspace, name: str, change: Any) -> None:
    with ws.database.cursor() as con:
        [(text,)] = con.execute("SELECT definition FROM _gl_curators WHERE name = ?",
                                [name]).fetchall()
        con.execute("UPDATE _gl_curators SET definition = ? WHERE name = ?", [change(text), name])


def _high(name: str = "x-high") -> AggregationTrigger:
    return AggregationTrigger(name, "mean", ["inputs.x"], None, 5, DAY)


class Exploding(Suite):
    """A suite whose run raises (a bug in user code, say)."""

    def run(self, workspace: Any = None, version_id: str | None = None) -> Any:
        raise RuntimeError("the suite blew up")


@pytest.mark.parametrize("change", [
    lambda text: text[:-5],                                           # cut short: not JSON
    lambda text: json.dumps({**json.loads(text), "selectors": [          # a limit past the cap
        {**json.loads(text)["selectors"][0], "limit": 2**64}]}),
    lambda text: json.dumps({k: v for k, v in json.loads(text).items() if k != "selectors"}),
    lambda text: json.dumps({**json.loads(text), "curation_interval": {"$seconds": 1e18}}),
])
def test_a_corrupted_stored_curator_fails_alone(ws: gantry.Workspace, busy: gantry.Application,
                                                clock: gantry.ManualClock, change: Any) -> None:
    busy.add_automation(Automation("broken", IntervalTrigger(S, DAY), UniformCurator("b", "m", 5)))
    busy.add_automation(Automation("fine", IntervalTrigger(S, DAY), NewestCurator("f", "m", 5)))
    _corrupt(ws, "b", change)
    clock.set(S + 2 * DAY)
    scheduler = gantry.Scheduler(ws)
    runs = scheduler.run_pending()  # does not raise
    assert [(r.curator, r.status) for r in runs] == [("f", "succeeded")] * 2
    [failure] = scheduler.failures
    assert failure.automation == "broken" and failure.kind == "curator"
    assert "stored definition of curator 'b' cannot be read" in failure.error
    assert "delete the curator and create it again" in failure.error
    scheduler.run_pending()  # retried, still failing: counted, not doubled
    stored = scheduler.failed_automations()
    assert stored["automation"].to_list() == ["broken"] and stored["failures"].to_list() == [2]
    assert [a["name"] for a in busy.list_automations()] == ["fine"]  # listing goes on
    with pytest.raises(gantry.IntegrityError, match="cannot be read"):
        get_curator("b", workspace=ws)
    gantry.automations.curators.Curator._registry(NewestCurator("b", "m", 1), ws).delete("b")
    assert scheduler.failed_automations().height == 0


def test_a_monitor_of_a_deleted_application_fails_alone(ws: gantry.Workspace,
                                                        busy: gantry.Application,
                                                        clock: gantry.ManualClock) -> None:
    other = ws.create_application("other")
    _fill(other)
    other.add_automation(Automation("watch-other", _high(), lambda alert: None))
    other.add_automation(Automation("curate-other", IntervalTrigger(S, DAY),
                                    UniformCurator("o", "other", 3)))
    busy.add_automation(Automation("watch-m", _high(), lambda alert: None))
    busy.add_automation(Automation("nightly", IntervalTrigger(S, DAY), UniformCurator("u", "m", 3)))
    ws.delete_application("other")
    clock.set(S + DAY)
    scheduler = gantry.Scheduler(ws)
    runs = scheduler.run_pending()
    assert sorted((r.curator, r.status) for r in runs) == [("o", "failed"), ("u", "succeeded")]
    assert [a.automation for a in scheduler.alerts] == ["watch-m"]  # mean 11.5 > 5
    failures = {f.automation: f for f in scheduler.failures}
    assert set(failures) == {"watch-other", "curate-other"}
    failure = failures["watch-other"]
    assert (failure.kind, failure.application) == ("monitor", "other")
    assert "NotFoundError" in failure.error and "other" in failure.error
    assert "no application 'other'" in failures["curate-other"].error


def test_a_suite_that_raises_fails_alone(ws: gantry.Workspace, busy: gantry.Application,
                                         clock: gantry.ManualClock) -> None:
    busy.add_automation(Automation("nightly", IntervalTrigger(S, DAY), UniformCurator("u", "m", 5)))
    suite = Exploding("boom", "u", {"v1": lambda row: 0}, ["accuracy"])
    busy.add_automation(Automation("check", DatasetVersionTrigger("u"), suite))
    busy.add_automation(Automation("watch", _high(), lambda alert: None))
    clock.set(S + DAY)
    scheduler = gantry.Scheduler(ws)
    assert [r.status for r in scheduler.run_pending()] == ["succeeded"]
    assert [a.automation for a in scheduler.alerts] == ["watch"]
    [failure] = scheduler.failures
    assert failure.kind == "suite" and "the suite blew up" in failure.error
    runs = scheduler.suite_runs()
    assert runs["passed"].to_list() == [False] and "blew up" in runs["error"][0]
    scheduler.run_pending()  # not before its retry backoff ends
    assert scheduler.failures == []
    clock.advance(scheduler.retry_delay(1))
    scheduler.run_pending()  # then retried (no evaluation was stored)
    assert [f.automation for f in scheduler.failures] == ["check"]


def test_the_background_thread_survives_broken_automations(
        ws: gantry.Workspace, busy: gantry.Application, clock: gantry.ManualClock) -> None:
    busy.add_automation(Automation("broken", IntervalTrigger(S, DAY), UniformCurator("b", "m", 5)))
    busy.add_automation(Automation("fine", IntervalTrigger(S, DAY), UniformCurator("f", "m", 5)))
    busy.add_automation(Automation("check", DatasetVersionTrigger("f"),
                                   Exploding("boom", "f", {"v1": lambda row: 0}, ["accuracy"])))
    _corrupt(ws, "b", lambda text: "{")
    clock.set(S + 3 * DAY)
    scheduler = gantry.Scheduler(ws, tick=0.02)
    scheduler.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and get_curator("f", workspace=ws).get_runs().height < 3:
            time.sleep(0.02)
        clock.advance(DAY)  # more ticks, with the broken ones still failing
        while time.monotonic() < deadline and get_curator("f", workspace=ws).get_runs().height < 4:
            time.sleep(0.02)
        assert scheduler._thread is not None and scheduler._thread.is_alive()
    finally:
        scheduler.stop()
    assert get_curator("f", workspace=ws).get_runs().height == 4


def test_cli_scheduler_once_reports_failures_without_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "g.duckdb"
    clock = gantry.ManualClock(S)
    # The CLI's workspace reads the system clock: pin it, so three intervals are due whatever
    # the date (on the wall clock the run grew by one interval a day since S).
    monkeypatch.setattr(gantry.SystemClock, "now", lambda self: S + 3 * DAY)
    with gantry.Workspace(db=db, clock=clock) as ws:
        app = ws.create_application("m")
        _fill(app)
        app.add_automation(Automation("broken", IntervalTrigger(S, DAY),
                                      UniformCurator("b", "m", 5)))
        app.add_automation(Automation("fine", IntervalTrigger(S, DAY), UniformCurator("f", "m", 5)))
        _corrupt(ws, "b", lambda text: text.replace('"limit": 5', '"limit": 18446744073709551616'))
    assert main(["scheduler", "run", "--once", "--db", str(db)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    assert "broken" in captured.out and "cannot be read" in captured.out
    assert "succeeded" in captured.out


def test_every_kind_is_listed_got_and_stopped(ws: gantry.Workspace, busy: gantry.Application,
                                              clock: gantry.ManualClock) -> None:
    seen: list[Alert] = []
    busy.add_automation(Automation("a-curator", IntervalTrigger(S, DAY),
                                   UniformCurator("u", "m", 5)))
    busy.add_automation(Automation("b-monitor", _high(), seen.append))
    busy.add_automation(Automation("c-suite", DatasetVersionTrigger("u"),
                                   Suite("s", "u", {"v1": lambda row: 0}, ["accuracy"])))
    listed = busy.list_automations()
    assert [(a["name"], a["kind"], a["stopped"]) for a in listed] == [
        ("a-curator", "curator", False), ("b-monitor", "monitor", False),
        ("c-suite", "suite", False)]
    assert busy.get_automation("b-monitor").trigger.name == "x-high"
    assert busy.get_automation("c-suite").action.name == "s"
    for name in ("a-curator", "b-monitor", "c-suite"):
        with pytest.raises(gantry.AlreadyExistsError, match="with a different definition"):
            busy.add_automation(Automation(name, IntervalTrigger(S, DAY),
                                           UniformCurator("u2", "m", 5)))
    with pytest.raises(gantry.NotFoundError, match="no automation 'nope'"):
        busy.get_automation("nope")
    for listed_one in busy.list_automations():
        busy.get_automation(automation_name=listed_one["name"]).stop()
    assert [a["stopped"] for a in busy.list_automations()] == [True, True, True]
    clock.set(S + 3 * DAY)
    scheduler = gantry.Scheduler(ws)
    assert scheduler.run_pending() == [] and scheduler.alerts == [] and seen == []
    assert busy.list_alerts().height == 0 and scheduler.suite_runs().height == 0
    # a stopped monitor can be added again under its name; it fires again
    busy.add_automation(Automation("b-monitor", _high(), seen.append))
    scheduler.run_pending()
    assert [a.status for a in seen] == ["fired"]


def test_stopping_a_firing_monitor_stops_its_alerts(ws: gantry.Workspace, busy: gantry.Application,
                                                   clock: gantry.ManualClock) -> None:
    seen: list[Alert] = []
    busy.add_automation(Automation("watch", _high(), seen.append))
    scheduler = gantry.Scheduler(ws)
    clock.set(S + DAY)
    scheduler.run_pending()
    assert [a.status for a in seen] == ["fired"]
    busy.get_automation("watch").stop()
    _fill(busy, days=3, per_day=2)  # traffic comes back into bounds: nothing resolves now
    for day in range(2, 4):
        clock.set(S + day * DAY)
        scheduler.run_pending()
    assert [a.status for a in seen] == ["fired"]


def test_names_are_unique_across_kinds_and_the_scheduler_shares_the_registry(
        ws: gantry.Workspace, busy: gantry.Application) -> None:
    busy.add_automation(Automation("same", _high(), lambda alert: None))
    scheduler = gantry.Scheduler(ws)
    with pytest.raises(gantry.AlreadyExistsError):
        scheduler.add_automation(Automation("same", DatasetVersionTrigger("u"),
                                            Suite("s", "u", {"v1": lambda row: 0}, ["accuracy"])))
    scheduler.add_automation(Automation("other", DatasetVersionTrigger("u"),
                                        Suite("s", "u", {"v1": lambda row: 0}, ["accuracy"])))
    assert set(scheduler._suites) == {"other"}
    assert "other" in in_process(ws.database)


def test_a_failure_is_logged_once_not_on_every_tick(
        ws: gantry.Workspace, busy: gantry.Application, clock: gantry.ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    busy.add_automation(Automation("broken", IntervalTrigger(S, DAY), UniformCurator("b", "m", 5)))
    _corrupt(ws, "b", lambda text: "{")
    scheduler = gantry.Scheduler(ws)
    with caplog.at_level("WARNING", logger="gantry_local.scheduler"):
        for _ in range(5):
            scheduler.run_pending()
    said = [r for r in caplog.records if "'broken' failed" in r.getMessage()]
    assert len(said) == 1 and len(scheduler.failures) == 1
    assert scheduler.failed_automations()["failures"].to_list() == [5]


def test_a_curator_stored_meanwhile_is_already_exists_not_a_storage_error(
        ws: gantry.Workspace) -> None:
    from gantry_local.automations.curators.curators import registry_of

    ws.create_application("m")
    NewestCurator("n", "m", 1, start_on=S).create(workspace=ws)
    row = registry_of(ws).row("n")  # another thread's insert racing this one's, replayed
    with pytest.raises(gantry.AlreadyExistsError, match="curator 'n' already exists"):
        registry_of(ws).insert("n", "m", row.definition, True, S, None, S)
    assert len(registry_of(ws).rows()) == 1
