"""Stored alert definitions, their notifications, and the automations made of data (an
aggregation trigger with a Slack or webhook action): in the DuckDB file, so any process
runs them and a restart keeps them."""

from __future__ import annotations

import contextlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .._db import run, storage_errors, transaction
from ..clock import to_utc
from ..errors import IntegrityError, NotFoundError
from ._aggregation import AggregationTrigger, QueriesAggregationTrigger
from ._durations import to_iso_duration
from .actions import SendWebhook, action_from_dict

if TYPE_CHECKING:
    from .._context import Context

__all__ = ["AlertDefinition", "Notification", "StoredAutomation"]

Check = AggregationTrigger | QueriesAggregationTrigger


def trigger_from_dict(data: dict[str, Any]) -> Check:
    """A stored trigger (Gantry's ``{"type", "content"}`` form)."""
    if data["type"] == "AggregationTrigger":
        return AggregationTrigger.from_dict(data["content"])
    if data["type"] == "QueriesAggregationTrigger":
        return QueriesAggregationTrigger.from_dict(data["content"])
    raise IntegrityError(f"unknown trigger type {data['type']!r} in a stored alert")


@dataclass(frozen=True)
class AlertDefinition:
    """One stored alert: checks over an evaluation window, of one application."""

    id: str
    name: str
    application: str
    checks: list[Check]
    evaluation_window: str
    evaluation_delay: str
    tags: dict[str, str]
    automation: str | None
    created_at: datetime

    def as_gantry(self) -> dict[str, Any]:
        """Gantry's shape of an alert (`get_alerts`)."""
        return {"id": self.id, "alert_name": self.name, "application_name": self.application,
                "alert_checks": [c.to_dict() for c in self.checks],
                "evaluation_window": self.evaluation_window,
                "evaluation_delay": self.evaluation_delay, "tags": self.tags,
                "automation": self.automation, "created_at": self.created_at}


@dataclass(frozen=True)
class Notification:
    """A stored notification: an action run for one alert (now, or in a daily digest)."""

    id: str
    alert_id: str
    name: str
    action: SendWebhook
    notify_daily: bool
    daily_notification_time: str | None
    last_sent_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class StoredAutomation:
    """An automation stored as data: its definition (Gantry's `to_dict`) and its alert."""

    name: str
    application: str
    definition: dict[str, Any]
    alert_id: str | None
    stopped: bool


def _utc(value: Any) -> datetime | None:
    return None if value is None else to_utc(value)


def new_id() -> str:
    return str(uuid.uuid4())


def save_alert(ws: Context, alert_id: str, name: str, application: str, checks: list[Check],
               automation: str | None, replace: bool = False) -> None:
    """Store (or with `replace`, overwrite) an alert definition; window and delay come from
    its first check (Gantry's create_alert takes them as ISO durations)."""
    first = checks[0]
    window = getattr(first, "evaluation_window", None)
    delay = getattr(first, "delay", None)
    tags = getattr(first, "tags", None) or {}
    values = [alert_id, name, application, json.dumps([c.to_dict() for c in checks]),
              to_iso_duration(window) if window is not None else "P0D",
              to_iso_duration(delay) if delay is not None else "P0D", json.dumps(tags),
              automation, ws.clock.now()]
    with ws.database.cursor() as con, storage_errors(f"saving alert {name!r}"), transaction(con):
        if replace:
            found = run(con, "SELECT automation, created_at FROM _gl_alert_definitions WHERE "
                        "id = ?", [alert_id])
            if not found:
                raise NotFoundError(f"no alert {alert_id!r}; get_alerts(application_name) lists "
                                    "them")
            values[7], values[8] = found[0][0], found[0][1]
            run(con, "DELETE FROM _gl_alert_definitions WHERE id = ?", [alert_id])
        run(con, "INSERT INTO _gl_alert_definitions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)


def list_definitions(ws: Context, application: str | None = None) -> list[AlertDefinition]:
    """Stored alerts (of one application when given), oldest first."""
    with ws.database.cursor() as con, storage_errors("reading alerts"):
        rows = run(con, "SELECT id, name, application, checks, evaluation_window, "
                   "evaluation_delay, tags, automation, created_at FROM _gl_alert_definitions "
                   "WHERE ? IS NULL OR application = ? ORDER BY created_at, id",
                   [application, application])
    out = []
    for row in rows:
        try:
            checks = [trigger_from_dict(c) for c in json.loads(row[3])]
        except Exception as exc:  # written by hand or another version: said, never hidden
            raise IntegrityError(f"the stored alert {row[1]!r} ({row[0]}) cannot be read "
                                 f"({type(exc).__name__}: {exc}); delete_alert({row[0]!r}) and "
                                 "create it again") from exc
        out.append(AlertDefinition(row[0], row[1], row[2], checks, row[4], row[5],
                                   json.loads(row[6]), row[7], to_utc(row[8])))
    return out


def get_definition(ws: Context, alert_id: str) -> AlertDefinition:
    for definition in list_definitions(ws):
        if definition.id == alert_id:
            return definition
    raise NotFoundError(f"no alert {alert_id!r}; get_alerts(application_name) lists them")


def delete_alert(ws: Context, alert_id: str) -> None:
    """Forget an alert definition and its notifications (alerts it fired stay listed)."""
    get_definition(ws, alert_id)
    with ws.database.cursor() as con, storage_errors("deleting an alert"), transaction(con):
        run(con, "DELETE FROM _gl_alert_notifications WHERE alert_id = ?", [alert_id])
        run(con, "DELETE FROM _gl_alert_definitions WHERE id = ?", [alert_id])


def save_notification(ws: Context, notification_id: str, alert_id: str, name: str,
                      action: SendWebhook, notify_daily: bool, daily_time: str | None) -> None:
    get_definition(ws, alert_id)
    with ws.database.cursor() as con, storage_errors(f"saving notification {name!r}"):
        run(con, "INSERT INTO _gl_alert_notifications VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [notification_id, alert_id, name, json.dumps(action.to_dict()), notify_daily,
             daily_time, None, ws.clock.now()])


def list_notifications(ws: Context, alert_id: str | None = None) -> list[Notification]:
    with ws.database.cursor() as con, storage_errors("reading notifications"):
        rows = run(con, "SELECT id, alert_id, name, action, notify_daily, "
                   "daily_notification_time, last_sent_at, created_at FROM "
                   "_gl_alert_notifications WHERE ? IS NULL OR alert_id = ? ORDER BY created_at, "
                   "id", [alert_id, alert_id])
    return [Notification(r[0], r[1], r[2], action_from_dict(json.loads(r[3])), bool(r[4]), r[5],
                         _utc(r[6]), to_utc(r[7])) for r in rows]


def delete_notification(ws: Context, alert_id: str, notification_id: str) -> None:
    with ws.database.cursor() as con, storage_errors("deleting a notification"):
        found = run(con, "SELECT 1 FROM _gl_alert_notifications WHERE id = ? AND alert_id = ?",
                    [notification_id, alert_id])
        if not found:
            raise NotFoundError(f"alert {alert_id!r} has no Slack notification "
                                f"{notification_id!r}; get_slack_notifications() lists them")
        run(con, "DELETE FROM _gl_alert_notifications WHERE id = ?", [notification_id])


def mark_sent(ws: Context, notification_id: str, when: datetime) -> None:
    with ws.database.cursor() as con, storage_errors("recording a digest"):
        run(con, "UPDATE _gl_alert_notifications SET last_sent_at = ? WHERE id = ?",
            [when, notification_id])


# -- automations stored as data --------------------------------------------------------------

def get_automation_row(ws: Context, name: str) -> StoredAutomation | None:
    with ws.database.cursor() as con, storage_errors("reading automations"):
        rows = run(con, "SELECT name, application, definition, alert_id, stopped FROM "
                   "_gl_automations WHERE name = ?", [name])
    return None if not rows else StoredAutomation(rows[0][0], rows[0][1], json.loads(rows[0][2]),
                                                  rows[0][3], bool(rows[0][4]))


def list_automation_rows(ws: Context, application: str | None = None
                         ) -> list[StoredAutomation]:
    with ws.database.cursor() as con, storage_errors("reading automations"):
        rows = run(con, "SELECT name, application, definition, alert_id, stopped FROM "
                   "_gl_automations WHERE ? IS NULL OR application = ? ORDER BY name",
                   [application, application])
    return [StoredAutomation(r[0], r[1], json.loads(r[2]), r[3], bool(r[4])) for r in rows]


def save_automation(ws: Context, name: str, application: str, definition: dict[str, Any],
                    alert_id: str) -> None:
    with ws.database.cursor() as con, storage_errors(f"saving automation {name!r}"):
        run(con, "INSERT OR REPLACE INTO _gl_automations VALUES (?, ?, ?, ?, false, ?)",
            [name, application, json.dumps(definition, sort_keys=True), alert_id,
             ws.clock.now()])


def stop_automation(ws: Context, name: str) -> None:
    """Mark a stored automation stopped and delete its alert (as Gantry's stop does)."""
    row = get_automation_row(ws, name)
    if row is None or row.stopped:
        return
    if row.alert_id is not None:
        with contextlib.suppress(NotFoundError):
            delete_alert(ws, row.alert_id)
    with ws.database.cursor() as con, storage_errors(f"stopping automation {name!r}"):
        run(con, "UPDATE _gl_automations SET stopped = true WHERE name = ?", [name])
