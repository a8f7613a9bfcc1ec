"""Gantry's ``gantry.alerts`` functions (re-exported by the package; see its docstring)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from .._context import narrow_or_default
from .._limits import check_bool, check_span, check_text
from .._names import check_name
from ..automations import _alert_store as store
from ..automations._aggregation import AggregationTrigger, QueriesAggregationTrigger
from ..automations._durations import from_iso_duration
from ..automations.actions import SendSlackMessage, check_daily_time
from ..errors import AlreadyExistsError, ValidationError
from ..monitoring.alerts import list_alerts
from ..query.time_window import RelativeTimeWindow

if TYPE_CHECKING:
    from .._context import Context, WorkspaceLike

__all__ = ["create_alert", "create_slack_notification", "delete_alert",
           "delete_slack_notification", "get_alerts", "get_slack_notifications", "update_alert"]


def _ws(workspace: object) -> Context:
    """The context of `workspace` (the default workspace's when None), narrowed here."""
    try:
        return narrow_or_default(workspace)
    except ValidationError:
        raise ValidationError(f"workspace= must be a gantry_local Workspace (or leave it out for "
                              f"the default one), got {type(workspace).__name__}") from None


def _id(value: object, what: str) -> str:
    if isinstance(value, UUID):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{what} must be an id string (as create_alert returned), got "
                              f"{value!r}")
    return check_text(value, what)


def _checks(name: str, alert_checks: object, window: str, delay: str,
            tags: Mapping[str, str] | None) -> list[Any]:
    """Gantry's checks as triggers: `AlertsCheck` (or its dict), `DiffCheck`."""
    if not isinstance(alert_checks, (list, tuple)) or not alert_checks:
        raise ValidationError("alert_checks must be a non-empty list of AlertsCheck(aggregation, "
                              "column_names, lower_bound, upper_bound)")
    length = check_span(from_iso_duration(window, "evaluation_window"), "evaluation_window")
    offset = from_iso_duration(delay, "evaluation_delay")
    out: list[Any] = []
    for check in alert_checks:
        if dataclasses.is_dataclass(check) and not isinstance(check, type):
            check = dataclasses.asdict(check)
        if not isinstance(check, Mapping):
            raise ValidationError(f"each alert check must be an AlertsCheck, a DiffCheck or a "
                                  f"dict, got {type(check).__name__}")
        if check.get("check_type", "range_check") == "diff_check":
            out.append(QueriesAggregationTrigger.from_dict({
                "name": name, "fields": check.get("field_names"),
                "aggregation": check.get("aggregation"),
                "trigger_range_type": check.get("trigger_range_type"),
                "queries": check.get("subqueries"),
                "query_aggregation": [q.get("aggregation") for q in check.get("subqueries") or []
                                      if isinstance(q, Mapping)],
                "lower_bound": check.get("lower_bound"), "upper_bound": check.get("upper_bound")}))
            continue
        columns = check.get("column_names", check.get("data_node_names"))
        out.append(AggregationTrigger(name, check.get("aggregation"), columns,  # type: ignore[arg-type]
                                      check.get("lower_bound"), check.get("upper_bound"),
                                      RelativeTimeWindow(length, offset),
                                      tags))  # type: ignore[arg-type]  # checked there
    return out


def create_alert(application_name: str, alert_name: str, alert_checks: list[Any],
                 evaluation_window: str, evaluation_delay: str,
                 tags: dict[str, str] | None = None, *, workspace: WorkspaceLike | None = None) -> str:
    """Store an alert of an application and return its id.

    Creating an alert equal to a stored one of the same name (same checks, window, delay,
    tags) returns the stored one's id: start-up code may run again.

    Raises:
        ValidationError: a bad check, duration or tag.
        NotFoundError: no such application.
        AlreadyExistsError: an alert of that name with a different definition (use
            `update_alert` with its id to change it).
    """
    ws = _ws(workspace)
    name = check_name(alert_name, "alert_name")
    application = ws.app_state(check_name(application_name, "application_name")).name
    checks = _checks(name, alert_checks, evaluation_window, evaluation_delay, tags)
    _check_fields(ws, application, checks)
    wanted = [c.to_dict() for c in checks]
    for definition in store.list_definitions(ws, application):
        if definition.name == name and definition.automation is None:
            if [c.to_dict() for c in definition.checks] == wanted:
                return definition.id
            raise AlreadyExistsError(
                f"alert {name!r} of {application!r} already exists ({definition.id}) with other "
                f"checks; change it with update_alert({application!r}, {definition.id!r}, ...), "
                "or delete_alert it first")
    alert_id = store.new_id()
    store.save_alert(ws, alert_id, name, application, checks, None)
    from ..automations.scheduler import ensure_background

    ensure_background(ws)
    return alert_id


def _check_fields(ws: Context, application: str, checks: list[Any]) -> None:
    from ..automations._monitors import check_trigger

    for check in checks:
        check_trigger(ws, application, check)


def update_alert(application_name: str, alert_id: str | UUID, alert_name: str,
                 alert_checks: list[Any], evaluation_window: str, evaluation_delay: str,
                 tags: dict[str, str] | None = None, *, workspace: WorkspaceLike | None = None
                 ) -> str:
    """Replace a stored alert's definition (its notifications and past alerts stay).

    Raises:
        NotFoundError: no such alert or application.
        ValidationError: a bad check, duration or tag.
    """
    ws = _ws(workspace)
    key = _id(alert_id, "alert_id")
    name = check_name(alert_name, "alert_name")
    application = ws.app_state(check_name(application_name, "application_name")).name
    current = store.get_definition(ws, key)
    if current.application != application:
        raise ValidationError(f"alert {key!r} belongs to {current.application!r}, not "
                              f"{application!r}")
    checks = _checks(name, alert_checks, evaluation_window, evaluation_delay, tags)
    _check_fields(ws, application, checks)
    store.save_alert(ws, key, name, application, checks, None, replace=True)
    return key


def get_alerts(application_name: str, triggered: bool = False,
               triggered_from: str | datetime | None = None,
               triggered_to: str | datetime | None = None, *,
               workspace: WorkspaceLike | None = None) -> list[dict[str, Any]]:
    """The application's stored alerts (Gantry's shape), or with ``triggered=True`` its
    alerts still open, fired from `triggered_from` to `triggered_to` (ISO strings or
    datetimes; naive means UTC).

    Raises:
        ValidationError: a time window without ``triggered=True``, or a bad time.
        NotFoundError: no such application.
    """
    ws = _ws(workspace)
    check_bool(triggered, "triggered")
    application = ws.app_state(check_name(application_name, "application_name")).name
    if not triggered:
        if triggered_from is not None or triggered_to is not None:
            raise ValidationError("Triggered time window is only valid when requesting "
                                  "triggered alerts (triggered=True).")
        return [d.as_gantry() for d in store.list_definitions(ws, application)]
    start, end = _time(triggered_from, "triggered_from"), _time(triggered_to, "triggered_to")
    frame = list_alerts(ws, application)
    rows = [r for r in frame.rows(named=True) if r["status"] == "fired" and
            (start is None or r["fired_at"] >= start) and (end is None or r["fired_at"] < end)]
    return rows


def _time(value: object, what: str) -> datetime | None:
    from ..clock import to_utc

    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValidationError(f"{what} must be an ISO time such as '2024-01-01T00:00:00', "
                                  f"got {value!r}") from None
    if not isinstance(value, datetime):
        raise ValidationError(f"{what} must be an ISO string or a datetime, got {value!r}")
    return to_utc(value, what)


def create_slack_notification(alert_id: str, notification_name: str, slack_webhook_url: str,
                              notify_daily: bool, daily_notification_time: str | None = None,
                              *, workspace: WorkspaceLike | None = None) -> str:
    """Post the alert to Slack when it fires and resolves (or, with `notify_daily`, one
    digest a day at `daily_notification_time`, UTC, midnight by default); its id.

    Raises:
        NotFoundError: no such alert.
        ValidationError: a bad name, url or time.
    """
    ws = _ws(workspace)
    key = _id(alert_id, "alert_id")
    check_bool(notify_daily, "notify_daily")
    daily = check_daily_time(daily_notification_time)
    action = SendSlackMessage(notification_name, slack_webhook_url, notify_daily=notify_daily,
                              alert_id=key, daily_notification_time=daily)
    notification_id = store.new_id()
    store.save_notification(ws, notification_id, key, action.name, action, notify_daily,
                            daily)
    return notification_id


def get_slack_notifications(*, workspace: WorkspaceLike | None = None) -> list[dict[str, Any]]:
    """Every stored notification: id, alert_id, name, webhook_url, frequency, time."""
    ws = _ws(workspace)
    return [{"id": n.id, "alert_id": n.alert_id, "name": n.name, "webhook_url": n.action.url,
             "frequency": "DAILY" if n.notify_daily else "IMMEDIATELY",
             "daily_notification_time": n.daily_notification_time, "last_sent_at": n.last_sent_at,
             "created_at": n.created_at} for n in store.list_notifications(ws)]


def delete_alert(alert_id: str | UUID, *, workspace: WorkspaceLike | None = None) -> None:
    """Delete a stored alert and its notifications (the alerts it fired stay listed).

    Raises:
        NotFoundError: no such alert.
    """
    store.delete_alert(_ws(workspace), _id(alert_id, "alert_id"))


def delete_slack_notification(alert_id: str | UUID, slack_notification_id: str | UUID, *,
                              workspace: WorkspaceLike | None = None) -> None:
    """Delete one Slack notification of an alert.

    Raises:
        NotFoundError: the alert has no such notification.
    """
    store.delete_notification(_ws(workspace), _id(alert_id, "alert_id"),
                              _id(slack_notification_id, "slack_notification_id"))
