"""Aggregation triggers: fire once per breach, resolve once, and act (webhook, curator, callable)."""

from __future__ import annotations

import json
import math
import random
import statistics
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

import gantry_local as gantry
from gantry_local._context import narrow
from gantry_local.automations.actions import SendSlackMessage, SendWebhook
from gantry_local.automations.automations import Automation
from gantry_local.automations.curators import UniformCurator
from gantry_local.automations.triggers import AggregationTrigger
from gantry_local.errors import ValidationError
from gantry_local.monitoring.alerts import Alert, measure

from .conftest import QuietHandler, http_server

S = datetime(2024, 1, 1, tzinfo=timezone.utc)


class _Hook(QuietHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({"path": self.path, "body": body})
        self.send_response(204)
        self.end_headers()


@pytest.fixture
def hook() -> Iterator[str]:
    _Hook.received = []
    with http_server(_Hook) as url:
        yield url


@pytest.fixture
def shifting(ws: gantry.Workspace) -> gantry.Application:
    """20 days; inputs.amount averages 100, but 150 on days 10 to 14."""
    app = ws.create_application("payments")
    rng = random.Random(1)
    for day in range(20):
        level = 150 if 10 <= day < 15 else 100
        app.log_records(inputs=[{"amount": rng.gauss(level, 5)} for _ in range(100)],
                        outputs=[0] * 100,
                        timestamps=[S + timedelta(days=day, minutes=10 * i) for i in range(100)])
    return app


def test_fires_once_resolves_once_and_acts(ws: gantry.Workspace, clock: gantry.ManualClock,
                                           shifting: gantry.Application, hook: str) -> None:
    seen: list[Alert] = []
    window = timedelta(days=1)
    high = AggregationTrigger("amount-high", "mean", ["inputs.amount"], None, 120, window)
    shifting.add_automation(Automation("webhook-on-high", high, SendWebhook(f"{hook}/alerts")))
    shifting.add_automation(Automation("slack-on-high", high, SendSlackMessage(
        "oncall", f"{hook}/slack")))
    shifting.add_automation(Automation("call-on-high", high, seen.append))
    shifting.add_automation(Automation("curate-on-high", high, UniformCurator(
        "more-data", "payments", 20)))
    scheduler = gantry.Scheduler(ws)
    fired_days, resolved_days = [], []
    for day in range(1, 21):
        clock.set(S + timedelta(days=day))
        scheduler.run_pending()
        for alert in scheduler.alerts:
            if alert.automation == "webhook-on-high":
                (fired_days if alert.status == "fired" else resolved_days).append(day)
    assert fired_days == [11] and resolved_days == [16]  # once per breach, not every tick
    alerts = shifting.list_alerts()
    assert alerts.height == 4 and set(alerts["status"]) == {"resolved"}
    row = alerts.filter(alerts["automation"] == "webhook-on-high").row(0, named=True)
    assert row["value"] > 140 and row["upper_bound"] == 120 and row["action_error"] is None
    assert row["fired_at"] == S + timedelta(days=11) and row["resolved_at"] == S + timedelta(days=16)
    bodies = [r["body"] for r in _Hook.received if r["path"] == "/alerts"]
    assert [b["status"] for b in bodies] == ["fired", "resolved"]
    assert bodies[0]["aggregation"] == "mean" and bodies[0]["fields"] == ["inputs.amount"]
    slack = [r["body"] for r in _Hook.received if r["path"] == "/slack"]
    assert len(slack) == 2 and "amount" in slack[0]["text"]
    assert [a.status for a in seen] == ["fired", "resolved"]
    curated = ws.get_dataset("more-data")
    [version] = curated.list_versions()
    assert curated.read(version["version_id"]).height == 20  # one curation, of the breach window


def test_a_failing_action_is_recorded_not_raised(ws: gantry.Workspace,
                                                 clock: gantry.ManualClock,
                                                 shifting: gantry.Application) -> None:
    trigger = AggregationTrigger("low", "count", ["inputs.amount"], 1000, None,
                                 timedelta(days=1))
    shifting.add_automation(Automation("unreachable", trigger, SendWebhook(
        "http://127.0.0.1:9/hook", timeout=0.5, retries=1, backoff=0.01)))
    clock.set(S + timedelta(days=2))
    gantry.Scheduler(ws).run_pending()
    [row] = shifting.list_alerts().rows(named=True)
    assert row["status"] == "fired" and "webhook" in row["action_error"]


def test_an_action_raising_system_exit_is_recorded_and_the_scheduler_goes_on(
        ws: gantry.Workspace, clock: gantry.ManualClock, shifting: gantry.Application) -> None:
    def leave(alert: Alert) -> None:
        raise SystemExit("bye")

    trigger = AggregationTrigger("low", "count", ["inputs.amount"], 1000, None,
                                 timedelta(days=1))
    shifting.add_automation(Automation("exits", trigger, leave))
    clock.set(S + timedelta(days=2))
    scheduler = gantry.Scheduler(ws)
    scheduler.run_pending()
    [row] = shifting.list_alerts().rows(named=True)
    assert row["status"] == "fired" and row["action_error"] == "SystemExit: bye"
    clock.set(S + timedelta(days=3))
    scheduler.run_pending()  # still ticking


@pytest.mark.parametrize("kwargs, match", [
    ({"aggregation": "median"}, "unknown aggregation 'median'; Gantry's: total, maximum"),
    ({"aggregation": "pdf"}, "'pdf' cannot be checked against bounds: it is not a single"),
    ({"lower_bound": 5, "upper_bound": 1}, "lower_bound 5 is above upper_bound 1"),
    ({"evaluation_window": timedelta(0)}, "evaluation_window must be a timedelta from 1 second"),
    ({"evaluation_window": 3600}, "evaluation_window must be a RelativeTimeWindow"),
    ({"aggregation": "accuracy"}, r"accuracy takes fields=\[output, feedback\]"),
    ({"lower_bound": None, "upper_bound": None}, "give a lower_bound"),
])
def test_bad_definitions_fail_at_definition(kwargs: dict[str, Any], match: str) -> None:
    spec = {"name": "t", "aggregation": "mean", "fields": ["inputs.amount"], "lower_bound": 0,
            "upper_bound": 1, "evaluation_window": timedelta(hours=1), **kwargs}
    with pytest.raises(ValidationError, match=match):
        AggregationTrigger(**spec)


def test_bad_actions_fail_when_made(shifting: gantry.Application) -> None:
    trigger = AggregationTrigger("t", "mean", ["inputs.amount"], 0, 1, timedelta(hours=1))
    with pytest.raises(ValidationError, match="must be SendSlackMessage, SendWebhook, a curator"):
        Automation("b", trigger, 42)
    with pytest.raises(ValidationError, match="http"):
        SendWebhook("ftp://nope")


def test_window_statistics_leave_nan_out_as_summarize_does(ws: gantry.Workspace,
                                                          clock: gantry.ManualClock) -> None:
    """mean/std/min/max/sum and percent_true ignore NaN (a NaN max made the alert silent);
    count counts it and percent_null does not, as summarize's count and null_rate."""
    app = ws.create_application("nans")
    now = clock.now()
    values = [1.0, 2.0, math.nan, 4.0]
    app.log_records(inputs=[{"x": v} for v in values], outputs=[0] * 4,
                    timestamps=[now - timedelta(hours=4 - i) for i in range(4)])
    ws.flush()
    context = narrow(ws)  # what the automations room is handed of the workspace
    measured = {agg: measure(context, "nans", AggregationTrigger(
        "t", agg, ["inputs.x"], None, 1e9, timedelta(days=1)).spec(context, now))[0]
                for agg in ("mean", "std", "min", "max", "sum", "count", "total", "percent_true",
                            "percent_false", "percent_true_not_null", "percent_false_not_null",
                            "percent_null")}
    # Gantry's percent_true/false are shares of all rows (NaN is no value); *_not_null of values
    assert measured == pytest.approx({"mean": 7 / 3, "std": statistics.stdev([1, 2, 4]),
                                      "min": 1.0, "max": 4.0, "sum": 7.0, "count": 4.0,
                                      "total": 4.0, "percent_true": 0.75, "percent_false": 0.0,
                                      "percent_true_not_null": 1.0,
                                      "percent_false_not_null": 0.0, "percent_null": 0.0})
    summary = app.summarize(interval=timedelta(days=1), start_time=now - timedelta(days=1),
                            end_time=now, fields=["inputs.x"]).row(0, named=True)
    assert summary["nan_count"] == 1
    for stat in ("mean", "std", "min", "max"):
        assert measured[stat] == pytest.approx(summary[stat])
