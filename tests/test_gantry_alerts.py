"""Triggers, actions and alerts the Gantry way (issue 14) and without traps (issue 15: 6, 7).

Gantry's docstring examples run with only the import lines changed; time is a ManualClock.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any, ClassVar

import pytest

import gantry_local as gantry
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import IntervalTrigger

from .conftest import QuietHandler, http_server

S = datetime.datetime(2024, 1, 1, tzinfo=timezone.utc)
DAY = timedelta(days=1)


class _Slack(QuietHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        self.send_response(200)
        self.end_headers()


@pytest.fixture
def slack() -> Iterator[str]:
    _Slack.received = []
    with http_server(_Slack) as url:
        yield url


@pytest.fixture
def speeds(ws: gantry.Workspace) -> gantry.Application:
    """inputs.speed 1..4 every 10 minutes of day 0; 9 on day 1 from noon."""
    app = ws.create_application("cars")
    app.log_records(inputs=[{"speed": 1 + i % 4} for i in range(144)], outputs=[0] * 144,
                    timestamps=[S + timedelta(minutes=10 * i) for i in range(144)])
    app.log_records(inputs=[{"speed": 9} for _ in range(72)], outputs=[0] * 72,
                    timestamps=[S + DAY + timedelta(hours=12, minutes=10 * i) for i in range(72)])
    return app


def test_gantrys_automation_docstring_example(ws: gantry.Workspace, clock: gantry.ManualClock,
                                              speeds: gantry.Application, slack: str) -> None:
    app = speeds
    SLACK_WEBHOOK_URL = f"{slack}/hook"
    # --- Gantry's Automation docstring, imports changed ---
    from gantry_local.automations.triggers import AggregationTrigger
    from gantry_local.query.time_window import RelativeTimeWindow

    alert_trigger = AggregationTrigger(
        name = "alert-trigger",
        aggregation = "maximum",
        fields = ["inputs.speed"],
        lower_bound = 1,
        upper_bound = 5,
        evaluation_window=RelativeTimeWindow(
            window_length=datetime.timedelta(minutes=10)
        ),
        tags = None
    )
    from gantry_local.automations.actions import SendSlackMessage
    # Set up action to send slack message to the specified webhook.
    slack_action = SendSlackMessage(
        name = "demo-slack",
        webhook_url=SLACK_WEBHOOK_URL
    )
    from gantry_local.automations.automations import Automation
    # Define automation object and put trigger and action together.
    automation_alert = Automation(
        name = "alert-automation",
        trigger=alert_trigger,
        action=slack_action
    )
    app.add_automation(automation_alert)
    # --- end of the example but for stop() ---
    scheduler = gantry.Scheduler(ws)
    clock.set(S + timedelta(hours=6))
    scheduler.run_pending()
    assert _Slack.received == []  # the max of the last 10 minutes is 1..4
    clock.set(S + DAY + timedelta(hours=13))
    scheduler.run_pending()
    [post] = _Slack.received
    assert post["path"] == "/hook" and "maximum of inputs.speed" in post["body"]["text"]
    [row] = app.list_alerts().rows(named=True)
    assert row["automation"] == "alert-automation" and row["value"] == 9 and row["alert_id"]
    [listed] = app.list_automations()
    assert listed["name"] == "alert-automation" and listed["application_name"] == "cars"
    assert listed["trigger"]["type"] == "AggregationTrigger" and listed["kind"] == "alert"
    assert listed["trigger"]["content"]["evaluation_window"] == "PT10M"
    assert listed["action"] == {"type": "SendSlackMessage", "content": {
        **listed["action"]["content"], "name": "demo-slack", "webhook_url": SLACK_WEBHOOK_URL,
        "notify_daily": False}}
    got = app.get_automation(automation_name="alert-automation")
    assert got.trigger == alert_trigger and got.action.alert_id == row["alert_id"]
    automation_alert.stop()  # Gantry's last step: deletes the alert and its notification
    assert gantry_local_alerts().get_alerts("cars", workspace=ws) == []
    assert app.list_automations()[0]["stopped"] is True
    assert app.list_alerts().height == 1  # what it fired stays listed


def gantry_local_alerts() -> Any:
    import gantry_local.alerts as alerts

    return alerts


def test_gantrys_queries_trigger_docstring_example(ws: gantry.Workspace,
                                                   clock: gantry.ManualClock,
                                                   speeds: gantry.Application) -> None:
    from gantry_local.query.time_window import RelativeTimeWindow

    app = speeds
    clock.set(S + DAY + timedelta(hours=18))
    app.save_query("first_query", app.query(RelativeTimeWindow(timedelta(hours=6))))
    app.save_query("second_query", app.query(RelativeTimeWindow(timedelta(hours=6),
                                                                offset=DAY)))
    # --- Gantry's QueriesAggregationTrigger docstring, imports changed ---
    from gantry_local.alerts.client import AlertsAggregation
    from gantry_local.automations.triggers import QueriesAggregationTrigger

    first_query = app.get_query("first_query")
    second_query = app.get_query("second_query")

    query_trigger_alert = QueriesAggregationTrigger(
        name = "queries-trigger",
        compare_aggregation = AlertsAggregation.TOTAL_DIFFERENCE,
        compare_fields = ["inputs.latitude"],
        queries = [first_query, second_query],
        query_aggregation=[AlertsAggregation.MAX, AlertsAggregation.MAX],
        lower_bound = 0.1,
        upper_bound = 1.0,
    trigger_range_type="within",
    )
    # --- end of the example ---
    assert query_trigger_alert.queries[0]["relative_time_window"] == "PT6H"
    seen: list[Any] = []
    speed = QueriesAggregationTrigger(
        name="speed-up", compare_aggregation=AlertsAggregation.TOTAL_DIFFERENCE,
        compare_fields=["inputs.speed"], queries=[first_query, second_query],
        query_aggregation=[AlertsAggregation.MAX, AlertsAggregation.MAX], lower_bound=3,
        trigger_range_type="below")
    app.add_automation(Automation("speed-watch", speed, seen.append))
    scheduler = gantry.Scheduler(ws)
    scheduler.run_pending()  # 9 now against 4 a day before: +5, not below 3
    assert seen == [] and scheduler.failures == []
    clock.set(S + 2 * DAY + timedelta(hours=18))  # 9 against 9: 0 < 3 fires
    app.log_records(inputs=[{"speed": 9}], outputs=[0], timestamps=[clock.now() - timedelta(hours=1)])
    scheduler.run_pending()
    assert [a.value for a in seen] == [0.0]


def test_the_alerts_module_round_trip(ws: gantry.Workspace, clock: gantry.ManualClock,
                                      speeds: gantry.Application, slack: str) -> None:
    import gantry_local.alerts as galerts
    from gantry_local.alerts import AlertsAggregation, AlertsCheck

    # Gantry's create_alert docstring check (it names the fields data_node_names)
    check = AlertsCheck(
        aggregation=AlertsAggregation.MAX,
        data_node_names=[
            "inputs.speed",
        ],
        lower_bound=1,
        upper_bound=5,
    )
    alert_id = galerts.create_alert("cars", "fast", [check], "PT1H", "P0D", workspace=ws)
    assert galerts.create_alert("cars", "fast", [check], "PT1H", "P0D", workspace=ws) == alert_id
    with pytest.raises(gantry.AlreadyExistsError, match=r"update_alert\('cars', '"):
        galerts.create_alert("cars", "fast", [check], "PT2H", "P0D", workspace=ws)
    [listed] = galerts.get_alerts("cars", workspace=ws)
    assert listed["id"] == alert_id and listed["evaluation_window"] == "PT1H"
    assert listed["alert_checks"][0]["content"]["aggregation"] == "maximum"
    channel = galerts.create_slack_notification(alert_id, "oncall", f"{slack}/now", False,
                                                workspace=ws)
    [note] = galerts.get_slack_notifications(workspace=ws)
    assert note["id"] == channel and note["frequency"] == "IMMEDIATELY"
    scheduler = gantry.Scheduler(ws)
    clock.set(S + DAY + timedelta(hours=13))
    scheduler.run_pending()
    assert [r["path"] for r in _Slack.received] == ["/now"]
    [open_alert] = galerts.get_alerts("cars", triggered=True, workspace=ws)
    assert open_alert["alert_id"] == alert_id and open_alert["value"] == 9
    assert galerts.get_alerts("cars", triggered=True, triggered_from="2030-01-01T00:00:00",
                              workspace=ws) == []
    assert galerts.update_alert("cars", alert_id, "fast", [AlertsCheck(
        AlertsAggregation.MAX, ["inputs.speed"], 1, 10)], "PT1H", "P0D", workspace=ws) == alert_id
    clock.advance(timedelta(minutes=5))
    scheduler.run_pending()  # 9 is inside [1, 10] now: resolved, and Slack hears of it
    assert [r["path"] for r in _Slack.received] == ["/now", "/now"]
    assert galerts.get_alerts("cars", triggered=True, workspace=ws) == []
    galerts.delete_slack_notification(alert_id, channel, workspace=ws)
    assert galerts.get_slack_notifications(workspace=ws) == []
    galerts.delete_alert(alert_id, workspace=ws)
    assert galerts.get_alerts("cars", workspace=ws) == []
    with pytest.raises(gantry.NotFoundError, match="no alert"):
        galerts.delete_alert(alert_id, workspace=ws)


def test_notify_daily_posts_one_digest_a_day(ws: gantry.Workspace, clock: gantry.ManualClock,
                                            speeds: gantry.Application, slack: str) -> None:
    from gantry_local.automations.actions import SendSlackMessage
    from gantry_local.automations.triggers import AggregationTrigger
    from gantry_local.query.time_window import RelativeTimeWindow

    trigger = AggregationTrigger("fast", "maximum", ["inputs.speed"], None, 5,
                                 RelativeTimeWindow(timedelta(minutes=30)))
    daily = SendSlackMessage("digest", f"{slack}/daily", notify_daily=True,
                             daily_notification_time="20:00")
    speeds.add_automation(Automation("daily-fast", trigger, daily))
    scheduler = gantry.Scheduler(ws)
    for minutes in range(13 * 60, 19 * 60, 30):  # fires at 13:00, then stays open
        clock.set(S + DAY + timedelta(minutes=minutes))
        scheduler.run_pending()
    assert _Slack.received == [] and speeds.list_alerts().height == 1
    clock.set(S + DAY + timedelta(hours=20))
    scheduler.run_pending()
    [digest] = _Slack.received
    assert digest["path"] == "/daily" and "1 alert(s)" in digest["body"]["text"]
    clock.advance(timedelta(hours=1))
    scheduler.run_pending()
    assert len(_Slack.received) == 1  # one a day


def _start_up(ws: gantry.Workspace, slack: str, interval: timedelta = DAY) -> None:
    """A model server's start-up code: runs on every restart."""
    from gantry_local.automations.actions import SendSlackMessage
    from gantry_local.automations.triggers import AggregationTrigger
    from gantry_local.query.time_window import RelativeTimeWindow

    app = ws.get_application("cars")
    app.add_automation(Automation("nightly", IntervalTrigger(S, interval),
                                  UniformCurator("nightly-sample", "cars", 10)))
    app.add_automation(Automation("fast", AggregationTrigger(
        "fast", "maximum", ["inputs.speed"], None, 5, RelativeTimeWindow(timedelta(hours=1))),
        SendSlackMessage("oncall", f"{slack}/hook")))


def test_start_up_code_can_run_again_after_a_restart(tmp_path: Path, slack: str) -> None:
    clock = gantry.ManualClock(S)
    db = tmp_path / "restart.duckdb"
    with gantry.Workspace(db=db, clock=clock, background_scheduler=False) as ws:
        ws.create_application("cars")
        _start_up(ws, slack)
        before = ws.get_application("cars").list_automations()
    with gantry.Workspace(db=db, clock=clock, background_scheduler=False) as ws:
        _start_up(ws, slack)  # the same definitions: no-ops
        app = ws.get_application("cars")
        assert app.list_automations() == before
        with pytest.raises(gantry.AlreadyExistsError,
                           match=r"'nightly' already exists .* get_curator\('nightly-sample'\)"
                                 r"\.update\(\.\.\.\)"):
            _start_up(ws, slack, interval=timedelta(hours=12))
        # the stored alert survived the restart and runs in this process, with no re-adding
        app.log_records(inputs=[{"speed": 9}], outputs=[0], timestamps=[S + timedelta(hours=2)])
        clock.set(S + timedelta(hours=2, minutes=30))
        gantry.Scheduler(ws).run_pending()
        assert [r["path"] for r in _Slack.received] == ["/hook"]


def test_a_trigger_may_name_a_field_before_it_is_logged(ws: gantry.Workspace,
                                                        clock: gantry.ManualClock,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    from gantry_local.automations.triggers import AggregationTrigger

    app = ws.create_application("fresh")  # deploy time: no records at all
    seen: list[Any] = []
    with caplog.at_level(logging.WARNING, logger="gantry_local"):
        app.add_automation(Automation("late", AggregationTrigger(
            "late", "mean", ["inputs.later"], None, 5, timedelta(hours=1)), seen.append))
        app.add_automation(Automation("typo", AggregationTrigger(
            "typo", "mean", ["inputs.latr"], None, 5, timedelta(hours=1)), seen.append))
        app.add_automation(Automation("tagged", AggregationTrigger(
            "tagged", "mean", ["inputs.later"], None, 5, timedelta(hours=1),
            tags={"region": "eu"}), seen.append))
    assert any("inputs.later not logged in 'fresh' yet" in r.getMessage() for r in caplog.records)
    scheduler = gantry.Scheduler(ws)
    clock.set(S + timedelta(hours=1))
    scheduler.run_pending()
    assert seen == [] and scheduler.failures == []  # no data yet: nothing to judge
    app.log_records(inputs=[{"later": 9.0}], outputs=[0], timestamps=[S + timedelta(hours=1)])
    clock.set(S + timedelta(hours=1, minutes=30))
    scheduler.run_pending()
    assert [a.automation for a in seen] == ["late"]  # checked when the data arrived
    tagged, typo = scheduler.failures  # records arrived, but never with inputs.latr / the tag
    assert typo.automation == "typo" and "inputs.latr never appeared" in typo.error
    assert tagged.automation == "tagged" and "tag 'region' never appeared" in tagged.error
    assert scheduler.failed_automations()["automation"].to_list() == ["tagged", "typo"]


def test_drift_against_a_reference_window_with_a_minimum_row_count(
        ws: gantry.Workspace, clock: gantry.ManualClock) -> None:
    from gantry_local.automations.triggers import AggregationTrigger

    app = ws.create_application("ref")
    week = [S + timedelta(hours=h) for h in range(7 * 24)]  # a stable reference week
    app.log_records(inputs=[{"x": float(i % 10)} for i in range(len(week))],
                    outputs=[0] * len(week), timestamps=week)
    quiet = S + 8 * DAY  # one noisy day with 5 rows, then a shifted day with 48
    app.log_records(inputs=[{"x": 50.0}] * 5, outputs=[0] * 5,
                    timestamps=[quiet + timedelta(hours=h) for h in range(5)])
    shifted = S + 10 * DAY
    app.log_records(inputs=[{"x": 50.0 + i % 3} for i in range(48)], outputs=[0] * 48,
                    timestamps=[shifted + timedelta(minutes=30 * i) for i in range(48)])
    seen: list[Any] = []
    trigger = AggregationTrigger("shift", "ks", ["inputs.x"], None, 0.5, DAY,
                                 reference=(S, S + 7 * DAY), min_rows=20)
    app.add_automation(Automation("shift-watch", trigger, seen.append))
    scheduler = gantry.Scheduler(ws)
    clock.set(quiet + DAY)
    scheduler.run_pending()
    assert seen == [] and scheduler.failures == []  # 5 rows < min_rows: not judged
    clock.set(shifted + DAY)
    scheduler.run_pending()
    assert [a.status for a in seen] == ["fired"] and seen[0].value == pytest.approx(1.0)


def test_list_automations_has_every_kind_in_gantrys_shape(ws: gantry.Workspace,
                                                          speeds: gantry.Application,
                                                          slack: str) -> None:
    from gantry_local.automations.actions import SendWebhook
    from gantry_local.automations.triggers import AggregationTrigger, DatasetVersionTrigger
    from gantry_local.evaluation.suites import Suite

    high = AggregationTrigger("high", "mean", ["inputs.speed"], None, 5, timedelta(hours=1))
    speeds.add_automation(Automation("a", IntervalTrigger(S, DAY), UniformCurator("u", "cars", 5)))
    speeds.add_automation(Automation("b", high, SendWebhook(f"{slack}/x")))
    speeds.add_automation(Automation("c", high, print))
    speeds.add_automation(Automation("d", DatasetVersionTrigger("u"),
                                     Suite("s", "u", {"v1": lambda row: 0}, ["accuracy"])))
    listed = speeds.list_automations()
    assert [(a["name"], a["kind"], a["trigger"]["type"], a["action"]["type"]) for a in listed] == [
        ("a", "curator", "IntervalTrigger", "curator"),
        ("b", "alert", "AggregationTrigger", "SendWebhook"),
        ("c", "monitor", "AggregationTrigger", "callable"),
        ("d", "suite", "DatasetVersionTrigger", "suite")]
    assert all(set(a) >= {"name", "application_name", "trigger", "action"} for a in listed)
    assert {a["application_name"] for a in listed} == {"cars"}
    assert speeds.get_automation(automation_name="c").action is print
    with pytest.raises(gantry.NotFoundError, match="no automation 'zz'"):
        speeds.get_automation(automation_name="zz")
