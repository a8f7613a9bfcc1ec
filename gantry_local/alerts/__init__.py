"""Alerts (Gantry's ``gantry.alerts``): stored checks over a trailing window, with Slack
notifications; the scheduler (or the background loop) evaluates them on every tick.

Gantry's functions, names and argument order; each also takes ``workspace=`` (ours; the
default workspace of `gantry_local.init` otherwise). Windows and delays are ISO 8601
durations (``"PT1H"``, ``"P1D"``), as in Gantry. An alert fires when any of its checks
leaves its bounds and resolves when all are back; fired alerts are listed by
``get_alerts(app, triggered=True)`` and `Application.list_alerts()`.
"""

from ._functions import (
    create_alert,
    create_slack_notification,
    delete_alert,
    delete_slack_notification,
    get_alerts,
    get_slack_notifications,
    update_alert,
)
from .client import AlertsAggregation, AlertsCheck, DiffCheck

__all__ = ["AlertsAggregation", "AlertsCheck", "DiffCheck", "create_alert",
           "create_slack_notification", "delete_alert", "delete_slack_notification",
           "get_alerts", "get_slack_notifications", "update_alert"]
