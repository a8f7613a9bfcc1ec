"""Bad input to the triggers, actions, alerts and scheduler entry points of issues 14 and 15:
each refused with a `GantryLocalError` saying what was wrong, and nothing stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import gantry_local as gantry
import gantry_local.alerts as galerts
from gantry_local.alerts import AlertsAggregation, AlertsCheck
from gantry_local.automations.actions import SendSlackMessage
from gantry_local.automations.automations import Automation
from gantry_local.automations.triggers import AggregationTrigger, QueriesAggregationTrigger
from gantry_local.errors import AlreadyExistsError, NotFoundError, ValidationError
from gantry_local.query.time_window import RelativeTimeWindow

S = datetime(2024, 1, 1, tzinfo=timezone.utc)
V = ValidationError
URL = "https://hooks.example.com/x"
HOUR = RelativeTimeWindow(timedelta(hours=1))
_TABLES = ("_gl_alert_definitions", "_gl_alert_notifications", "_gl_automations",
           "_gl_curators", "_gl_alerts")


@pytest.fixture
def seeded(ws: gantry.Workspace) -> gantry.Application:
    app = ws.create_application("m")
    app.log_records(inputs=[{"x": 1.0, "s": "a"}], outputs=[0], timestamps=[S])
    ws.flush()
    galerts.create_alert("m", "existing", [AlertsCheck(AlertsAggregation.MAX, ["inputs.x"], 0, 5)],
                         "PT1H", "P0D", workspace=ws)
    return app


def _counts(ws: gantry.Workspace) -> dict[str, int]:
    with ws.database.cursor() as con:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in _TABLES}


def _alert(app: gantry.Application, **changes: Any) -> str:
    args: dict[str, Any] = {
        "application_name": "m", "alert_name": "new",
        "alert_checks": [AlertsCheck(AlertsAggregation.MAX, ["inputs.x"], 0, 5)],
        "evaluation_window": "PT1H", "evaluation_delay": "P0D", **changes}
    return galerts.create_alert(**args, workspace=app.workspace)


def _existing_id(app: gantry.Application) -> str:
    return str(galerts.get_alerts("m", workspace=app.workspace)[0]["id"])


def _queries(app: gantry.Application, **changes: Any) -> QueriesAggregationTrigger:
    query = app.query(HOUR)
    args: dict[str, Any] = {
        "name": "q", "compare_fields": ["inputs.x"], "compare_aggregation": "total_difference",
        "trigger_range_type": "above", "queries": [query, query],
        "query_aggregation": ["maximum", "maximum"], "upper_bound": 1.0, **changes}
    return QueriesAggregationTrigger(**args)


CASES: list[tuple[str, Callable[[gantry.Application], Any], type[Exception], str]] = [
    # -- gantry_local.alerts -------------------------------------------------------------------
    ("create_alert unknown application", lambda a: _alert(a, application_name="nope"),
     NotFoundError, r"nope"),
    ("create_alert window in words", lambda a: _alert(a, evaluation_window="1 hour"), V,
     r"evaluation_window must be an ISO 8601 duration such as 'PT1H5M26S'"),
    ("create_alert window of months", lambda a: _alert(a, evaluation_window="P1M"), V,
     r"ISO 8601 duration"),
    ("create_alert window zero", lambda a: _alert(a, evaluation_window="P0D"), V,
     r"evaluation_window must be a timedelta from 1 second"),
    ("create_alert delay negative", lambda a: _alert(a, evaluation_delay="-PT1H"), V,
     r"evaluation_delay must be an ISO 8601 duration"),
    ("create_alert window a number", lambda a: _alert(a, evaluation_window=3600), V,
     r"evaluation_window must be an ISO 8601 duration"),
    ("create_alert no checks", lambda a: _alert(a, alert_checks=[]), V,
     r"alert_checks must be a non-empty list"),
    ("create_alert check a string", lambda a: _alert(a, alert_checks=["max"]), V,
     r"each alert check must be an AlertsCheck, a DiffCheck or a dict, got str"),
    ("create_alert pdf check", lambda a: _alert(a, alert_checks=[AlertsCheck(
        AlertsAggregation.PDF, ["inputs.x"], 0, 1)]), V,
     r"'pdf' cannot be checked against bounds: it is not a single number"),
    ("create_alert check without fields", lambda a: _alert(a, alert_checks=[AlertsCheck(
        AlertsAggregation.MAX, lower_bound=0, upper_bound=1)]), V,
     r"fields must be a non-empty list"),
    ("create_alert check without bounds", lambda a: _alert(a, alert_checks=[AlertsCheck(
        AlertsAggregation.MAX, ["inputs.x"])]), V, r"give a lower_bound, an upper_bound"),
    ("create_alert mean of text", lambda a: _alert(a, alert_checks=[AlertsCheck(
        AlertsAggregation.MEAN, ["inputs.s"], 0, 1)]), V,
     r"mean needs number fields; 'inputs.s' of 'm' is a category"),
    ("create_alert name with a slash", lambda a: _alert(a, alert_name="a/b"), V, r"alert_name"),
    ("create_alert tags a list", lambda a: _alert(a, tags=["env"]), V,
     r"tags must be a dict of tag name to string value"),
    ("create_alert same name other checks", lambda a: _alert(a, alert_name="existing",
                                                             evaluation_window="PT2H"),
     AlreadyExistsError, r"update_alert\('m', '"),
    ("update_alert unknown id", lambda a: galerts.update_alert(
        "m", "nope", "x", [AlertsCheck(AlertsAggregation.MAX, ["inputs.x"], 0, 5)], "PT1H",
        "P0D", workspace=a.workspace), NotFoundError, r"no alert 'nope'"),
    ("update_alert id a number", lambda a: galerts.update_alert(
        "m", 7, "x", [], "PT1H", "P0D", workspace=a.workspace), V,  # type: ignore[arg-type]
     r"alert_id must be an id string"),
    ("get_alerts window without triggered", lambda a: galerts.get_alerts(
        "m", triggered_from="2024-01-01", workspace=a.workspace), V,
     r"only valid when requesting triggered alerts"),
    ("get_alerts triggered a string", lambda a: galerts.get_alerts(
        "m", triggered="yes", workspace=a.workspace), V, r"triggered"),  # type: ignore[arg-type]
    ("get_alerts bad time", lambda a: galerts.get_alerts(
        "m", triggered=True, triggered_from="yesterday", workspace=a.workspace), V,
     r"triggered_from must be an ISO time"),
    ("slack notification unknown alert", lambda a: galerts.create_slack_notification(
        "nope", "n", URL, False, workspace=a.workspace), NotFoundError, r"no alert 'nope'"),
    ("slack notification ftp url", lambda a: galerts.create_slack_notification(
        _existing_id(a), "n", "ftp://x", False, workspace=a.workspace), V, r"http"),
    ("slack notification daily time 25:00", lambda a: galerts.create_slack_notification(
        _existing_id(a), "n", URL, True, "25:00", workspace=a.workspace), V,
     r"daily_notification_time must be a time of day such as '12:00:00'"),
    ("slack notification notify_daily 1", lambda a: galerts.create_slack_notification(
        _existing_id(a), "n", URL, 1, workspace=a.workspace), V,  # type: ignore[arg-type]
     r"notify_daily"),
    ("delete unknown alert", lambda a: galerts.delete_alert("nope", workspace=a.workspace),
     NotFoundError, r"no alert 'nope'"),
    ("delete unknown notification", lambda a: galerts.delete_slack_notification(
        _existing_id(a), "nope", workspace=a.workspace), NotFoundError,
     r"has no Slack notification 'nope'"),
    ("alerts workspace a string", lambda a: galerts.get_alerts("m", workspace="ws"),  # type: ignore[arg-type]
     V, r"workspace"),
    # -- triggers and actions ------------------------------------------------------------------
    ("aggregation offset negative", lambda a: AggregationTrigger(
        "t", "maximum", ["inputs.x"], 0, 1, RelativeTimeWindow(timedelta(hours=1),
                                                              timedelta(-1))), V, r"offset"),
    ("aggregation total_difference", lambda a: AggregationTrigger(
        "t", "total_difference", ["inputs.x"], 0, 1, HOUR), V,
     r"use QueriesAggregationTrigger\(compare_aggregation=...\)"),
    ("aggregation f1 of one field", lambda a: AggregationTrigger(
        "t", "f1_score", ["outputs.value"], 0, 1, HOUR), V,
     r"f1_score takes fields=\[output, feedback\]"),
    ("aggregation reference reversed", lambda a: AggregationTrigger(
        "t", "ks", ["inputs.x"], 0, 1, HOUR, reference=(S + timedelta(days=1), S)), V,
     r"the reference window ends .* before it starts"),
    ("aggregation reference a number", lambda a: AggregationTrigger(
        "t", "d1", ["inputs.x"], 0, 1, HOUR, reference=5), V,
     r"reference must be a \(start, end\) pair of datetimes, a dataset name"),
    ("queries three", lambda a: _queries(a, queries=[a.query(HOUR)] * 3,
                                         query_aggregation=["maximum"] * 3), V,
     r"queries must be a list of two queries"),
    ("queries aggregations mismatched", lambda a: _queries(a, query_aggregation=["maximum"]),
     V, r"The number of queries and the number of query aggregations must be the same"),
    ("queries two fields", lambda a: _queries(a, compare_fields=["inputs.x", "inputs.s"]), V,
     r"we only support 1 field for compare_fields"),
    ("queries range type sideways", lambda a: _queries(a, trigger_range_type="sideways"), V,
     r"trigger_range_type must be one of within, outside, above, below"),
    ("queries above without upper", lambda a: _queries(a, upper_bound=None, lower_bound=1.0), V,
     r"upper_bound must be specified for this trigger range type \(above\)"),
    ("queries compare mean", lambda a: _queries(a, compare_aggregation="mean"), V,
     r"compare_aggregation must be 'total_difference' or 'percent_difference'"),
    ("queries not frames", lambda a: _queries(a, queries=["q1", "q2"]), V,
     r"queries must be GantryDataFrames"),
    ("queries drift aggregation", lambda a: _queries(a, query_aggregation=["ks", "ks"]), V,
     r"query_aggregation 'ks' must aggregate one field"),
    ("slack notify_daily a string", lambda a: SendSlackMessage("s", URL, notify_daily="yes"),  # type: ignore[arg-type]
     V, r"notify_daily"),
    ("slack daily time words", lambda a: SendSlackMessage(
        "s", URL, notify_daily=True, daily_notification_time="noon"), V,
     r"daily_notification_time must be a time of day"),
    ("get_automation name None", lambda a: a.get_automation(), V,
     r"automation_name must be an automation's name"),
    ("add alert automation under an alert's name with other bounds", lambda a: (
        a.add_automation(Automation("dup", AggregationTrigger("t", "maximum", ["inputs.x"], 0, 1,
                                                              HOUR), SendSlackMessage("s", URL))),
        a.add_automation(Automation("dup", AggregationTrigger("t", "maximum", ["inputs.x"], 0, 2,
                                                              HOUR), SendSlackMessage("s", URL)))),
     AlreadyExistsError, r"automation 'dup' already exists \(an alert\) with a different"),
]


@pytest.mark.parametrize(("build", "error", "match"),
                         [pytest.param(b, e, m, id=i) for i, b, e, m in CASES])
def test_bad_input_is_refused_and_nothing_is_stored(
        ws: gantry.Workspace, seeded: gantry.Application,
        build: Callable[[gantry.Application], Any], error: type[Exception], match: str) -> None:
    before = _counts(ws)
    with pytest.raises(error, match=match) as caught:
        build(seeded)
    assert isinstance(caught.value, gantry.GantryLocalError)
    after = _counts(ws)
    if "dup" in match:  # the first add of the pair is legal: only it is stored
        before = {**before, "_gl_alert_definitions": before["_gl_alert_definitions"] + 1,
                  "_gl_alert_notifications": before["_gl_alert_notifications"] + 1,
                  "_gl_automations": before["_gl_automations"] + 1}
    assert after == before


def test_legal_edges_round_trip(ws: gantry.Workspace, seeded: gantry.Application) -> None:
    """The edges that are legal: a zero delay, an AlertsAggregation or its value, a dict
    check, a UUID-like id string, the same alert twice."""
    check = {"aggregation": "maximum", "column_names": ["inputs.x"], "lower_bound": None,
             "upper_bound": 5}
    first = _alert(seeded, alert_name="edge", alert_checks=[check], evaluation_delay="PT0S")
    assert _alert(seeded, alert_name="edge", alert_checks=[check], evaluation_delay="P0D") == first
    [stored] = [a for a in galerts.get_alerts("m", workspace=ws) if a["alert_name"] == "edge"]
    assert stored["alert_checks"][0]["content"]["upper_bound"] == 5.0
    trigger = AggregationTrigger("t", AlertsAggregation.X2, ["inputs.s"], None, 1, HOUR)
    assert trigger.aggregation == "x2" and trigger.measure_as == "chi2"
    assert AggregationTrigger.from_dict(trigger.to_dict()["content"]) == trigger
