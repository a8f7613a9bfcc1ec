"""Evaluating aggregation triggers on a tick: fire or resolve an alert, run its actions.

Two kinds: automations living in this process (their action is a callable or a curator),
and stored alerts (`gantry_local.alerts`, and automations whose action is a Slack message
or a webhook), which any process's scheduler evaluates.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from .._db import run, storage_errors
from ..errors import ValidationError
from ..monitoring._source import Records, check_workspace, field_kinds
from ..monitoring.alerts import (
    Alert,
    alerts_since,
    measure,
    needs,
    open_alert,
    resolve_alert,
    store_alert,
)
from ._aggregation import AggregationTrigger, QueriesAggregationTrigger
from ._alert_store import AlertDefinition, list_notifications, mark_sent
from .actions import SendWebhook

if TYPE_CHECKING:
    from .._context import Context

__all__ = ["check_action", "check_monitor", "check_trigger", "evaluate_monitor", "evaluate_monitors",
           "evaluate_stored", "send_digests"]

log = logging.getLogger("gantry_local.automations")
_SERIES = {"max": "max", "min": "min", "mean": "mean", "std": "std", "total": "count",
           "percent_null": "percent_null", "percent_true": "percent_true",
           "percent_false": "percent_false", "percent_true_not_null": "percent_true_not_null",
           "percent_false_not_null": "percent_false_not_null", "sum": "sum"}


def check_action(action: object) -> None:
    from .curators import Curator

    if not (isinstance(action, (Curator, SendWebhook)) or callable(action)):
        raise ValidationError(f"an aggregation trigger's action must be SendSlackMessage, "
                              f"SendWebhook, a curator or a callable, got "
                              f"{type(action).__name__}")


def check_monitor(context: Context, application: str, automation: Any) -> None:
    """Check an aggregation automation against its application when it is added: fields of
    the wrong kind fail now; fields not logged yet are accepted (said in the log) and checked
    when data arrives."""
    check_action(automation.action)
    check_trigger(context, application, automation.trigger)


def check_trigger(context: Context, application: str, trigger: Any) -> None:
    """A trigger's fields against its application (see `check_monitor`)."""
    if isinstance(trigger, AggregationTrigger):
        kinds = field_kinds(context, application)
        _check_kinds(trigger, kinds, application)
        missing = [f for f in trigger.fields if f not in kinds]
        if missing:
            log.warning("trigger %r: %s not logged in %r yet; checked when data arrives "
                        "(known fields: %s)", trigger.name, ", ".join(missing), application,
                        ", ".join(kinds) or "none yet")


def _check_kinds(trigger: AggregationTrigger, kinds: dict[str, str], application: str) -> None:
    wanted = needs(trigger.measure_as)[1]
    name = trigger.fields[0]
    if wanted is not None and name in kinds and kinds[name] not in wanted:
        raise ValidationError(f"trigger {trigger.name!r}: {trigger.aggregation} needs "
                              f"{' or '.join(wanted)} fields; {name!r} of {application!r} is a "
                              f"{kinds[name]}")


def value_of(ws: Context, application: str, trigger: Any, now: datetime) -> float | None:
    """The trigger's value at `now` (None: nothing to judge yet).

    Raises:
        ValidationError: a field the trigger names never appeared although records arrived
            in its window, or has the wrong kind.
    """
    if isinstance(trigger, QueriesAggregationTrigger):
        return trigger.combine(*(_query_value(ws, q, a, trigger.fields[0], now)
                                 for q, a in zip(trigger.queries, trigger.query_aggregation,
                                                 strict=True)))
    kinds = field_kinds(ws, application)
    logged_tags = {n[len("tags."):] for n in ws.app_state(application).schema.snapshot("records")
                   if n.startswith("tags.")}
    missing = [f for f in trigger.fields if f not in kinds] + \
        [f"tag {t!r}" for t in trigger.tags or {} if t not in logged_tags]
    start, end = trigger.window(now)
    if missing:
        records = Records.of(ws, application, start, end)
        with ws.database.cursor() as con, storage_errors("counting records"):
            sql = f"SELECT count(*) FROM ({records.sql})"  # noqa: S608 - bound parameters
            rows = run(con, sql, records.params)[0][0]
        if rows:
            raise ValidationError(f"trigger {trigger.name!r}: field(s) {', '.join(missing)} "
                                  f"never appeared in {application!r} although {rows} records "
                                  f"arrived in its window; logged fields: "
                                  f"{', '.join(kinds) or 'none'}")
        return None  # no data yet: checked when it arrives
    _check_kinds(trigger, kinds, application)
    return measure(ws, application, trigger.spec(ws, now))[0]


def _query_value(ws: Context, query: dict[str, Any], aggregation: str, field: str,
                 now: datetime) -> float | None:
    from ..monitoring.alerts import canonical_aggregation
    from ..query import GantryDataFrame
    from ._durations import from_iso_duration

    end = now - from_iso_duration(query["relative_time_delay"], "query delay")
    start = end - from_iso_duration(query["relative_time_window"], "query window")
    frame = GantryDataFrame(ws, query["application"], start, end, query.get("version"), None,
                            query["filters"] or None, query["tags"] or None)
    if frame.count() == 0 or field not in frame.series:
        return None
    value = getattr(frame[field], _SERIES[canonical_aggregation(aggregation)])()
    return None if value is None else float(value)


def evaluate_monitors(ws: Context, now: datetime) -> list[Alert]:
    """Every running in-process aggregation automation of the workspace, in turn."""
    ws = check_workspace(ws)
    changes = []
    from ._in_process import in_process

    for name, (application, automation) in sorted(in_process(ws.database).items()):
        if isinstance(automation.trigger, (AggregationTrigger, QueriesAggregationTrigger)) and \
                not automation.stopped and application is not None:
            change = evaluate_monitor(ws, name, application, automation, now)
            if change is not None:
                changes.append(change)
    return changes


def evaluate_monitor(ws: Context, name: str, application: str, automation: Any,
                     now: datetime) -> Alert | None:
    """One in-process aggregation automation at `now`: the alert it fired or resolved."""
    ws = check_workspace(ws)
    ws.app_state(application)  # a deleted application: NotFoundError, not a missing table
    trigger = automation.trigger
    value = value_of(ws, application, trigger, now)
    return _judge(ws, name, application, trigger, value, now, [automation.action], None)


def evaluate_stored(ws: Context, definition: AlertDefinition, now: datetime) -> Alert | None:
    """One stored alert at `now`: fires when any check breaches, resolves when all are back."""
    ws.app_state(definition.application)
    values = [(c, value_of(ws, definition.application, c, now)) for c in definition.checks]
    breach = next(((c, v) for c, v in values if c.outside(v)), None)
    actions = [n.action for n in list_notifications(ws, definition.id) if not n.notify_daily]
    name = definition.automation or definition.name
    if breach is not None:
        return _judge(ws, name, definition.application, breach[0], breach[1], now, actions,
                      definition.id)
    known = [(c, v) for c, v in values if v is not None]
    if known and len(known) == len(values):
        return _judge(ws, name, definition.application, known[0][0], known[0][1], now, actions,
                      definition.id)
    return None


def _judge(ws: Context, name: str, application: str, trigger: Any, value: float | None,
           now: datetime, actions: list[Any], alert_id: str | None) -> Alert | None:
    current = open_alert(ws, name, alert_id)
    if trigger.outside(value) and current is None:
        start, end = trigger.window(now) if hasattr(trigger, "window") else (now, now)
        alert = Alert(uuid.uuid4().hex[:12], name, application, trigger.aggregation,
                      list(trigger.fields), trigger.lower_bound, trigger.upper_bound, value,
                      start, end, now, alert_id=alert_id)
        errors = [e for e in (_act(ws, a, alert, fire=True) for a in actions) if e]
        store_alert(ws, alert, "; ".join(errors) or None)
        return alert
    if current is not None and value is not None and not trigger.outside(value):
        resolved = replace(current, resolved_at=now, resolved_value=value, status="resolved")
        errors = [e for e in (_act(ws, a, resolved, fire=False) for a in actions) if e]
        resolve_alert(ws, resolved, "; ".join(errors) or None)
        return resolved
    return None


def _act(ws: Context, action: Any, alert: Alert, fire: bool) -> str | None:
    """Run the action; its failure is recorded on the alert, never raised into the tick."""
    from .curators import Curator

    try:
        if isinstance(action, Curator):
            if fire:
                action.curate(ws, alert.window_start, alert.window_end)
        else:
            action(alert)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: the alert stands; the error is kept beside it
        return f"{type(exc).__name__}: {exc}"
    return None


def send_digests(ws: Context, now: datetime) -> list[str]:
    """Post each daily notification whose time of day has come since its last digest; the
    names of those whose post failed (they are tried again on the next tick)."""
    failed = []
    for notification in list_notifications(ws):
        if not notification.notify_daily:
            continue
        at = time.fromisoformat(notification.daily_notification_time or "00:00:00")
        due = datetime.combine(now.astimezone(timezone.utc).date(), at, tzinfo=timezone.utc)
        if due > now:
            due -= timedelta(days=1)
        since = notification.last_sent_at or notification.created_at
        if since >= due:
            continue
        alerts = alerts_since(ws, notification.alert_id, since, due)  # the day up to `due`
        try:
            if alerts:
                notification.action.post(notification.action.digest(alerts))
        except Exception as exc:  # said, and tried again on the next tick
            log.warning("daily notification %r failed: %s", notification.name, exc)
            failed.append(notification.name)
            continue
        mark_sent(ws, notification.id, due)
    return failed
