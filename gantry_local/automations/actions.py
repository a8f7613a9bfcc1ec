"""Actions: what an automation does when its trigger fires (Gantry's
``gantry.automations.actions``): post to Slack or a webhook.

An alert's notification runs on fire and on resolve, with a timeout, retries and backoff;
with ``notify_daily=True`` a Slack action posts one digest a day instead (at
`daily_notification_time`, UTC, midnight by default) of the alerts fired since the last.
A curator or any Python callable may also be an aggregation trigger's action (ours).
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from .._http import HttpError, post_json
from .._limits import check_bool, check_int, check_number, check_text
from .._names import check_name
from ..errors import ValidationError, WebhookError
from ..monitoring.alerts import Alert

__all__ = ["Action", "SendSlackMessage", "SendWebhook"]


class Action:
    """Parent class of every action (Gantry's ``Action``)."""


class SendWebhook(Action):
    """POST the alert as JSON to `url` (on fire and on resolve), with a timeout and retries."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.5) -> None:
        self.url = _check_url(url)
        self.headers = _check_headers(headers)
        self.timeout = check_number(timeout, "webhook timeout (seconds)", 0.001, 300)
        self.retries = check_int(retries, "webhook retries", 0, 10)
        self.backoff = check_number(backoff, "webhook backoff (seconds)", 0, 60)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """The action as data (stored with its alert, so any process can run it)."""
        return {"type": "SendWebhook", "content": {
            "url": self.url, "headers": self.headers, "timeout": self.timeout,
            "retries": self.retries, "backoff": self.backoff}}

    def post(self, payload: Mapping[str, Any]) -> None:
        """POST `payload` as JSON, retrying with backoff.

        Raises:
            WebhookError: every attempt failed.
        """
        data = json.dumps(payload).encode()
        for attempt in range(self.retries + 1):
            try:
                post_json(self.url, data, self.headers, self.timeout)
                return
            except HttpError as exc:
                if attempt == self.retries:
                    raise WebhookError(f"webhook {self.url} failed after {attempt + 1} "
                                       f"attempts: {exc}") from exc
                time.sleep(self.backoff * 2 ** attempt)

    def digest(self, alerts: list[Alert]) -> dict[str, Any]:
        """The payload of a daily digest of `alerts`."""
        return {"alerts": [self.payload(a) for a in alerts],
                "message": "\n".join(a.describe() for a in alerts)}

    def payload(self, alert: Alert) -> dict[str, Any]:
        body = asdict(alert)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()} | {
            "message": alert.describe()}

    def __call__(self, alert: Alert) -> None:
        self.post(self.payload(alert))


def _check_url(url: object) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValidationError(f"webhook url must be http(s), got {url!r}")
    check_text(url, "webhook url")
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port  # .port raises on a port out of 0..65535
        if port == 0:
            raise ValueError("port 0 cannot be connected to")
    except ValueError as exc:
        raise ValidationError(f"webhook url {url!r} is not a valid URL ({exc}), e.g. "
                              "https://hooks.example.com/path") from None
    if not host or any(c.isspace() for c in url):
        raise ValidationError(f"webhook url {url!r} needs a host and no spaces, e.g. "
                              "https://hooks.example.com/path")
    return url


def _check_headers(headers: object) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise ValidationError(f"headers must be a dict of strings, got {type(headers).__name__}")
    for key, value in headers.items():
        for text, what in ((key, "header name"), (value, f"header {key!r}")):
            check_text(text, what, empty=what != "header name")
            if any(c in text for c in "\r\n") or not text.isascii():
                raise ValidationError(f"{what} must be one line of ASCII, got {text!r}")
    return dict(headers)


class SendSlackMessage(SendWebhook):
    """Post alerts to a Slack incoming webhook as readable messages (Gantry's arguments;
    `id` and `alert_id` are set when it is stored). With `notify_daily`, one digest a day at
    `daily_notification_time` ("HH:MM" or "HH:MM:SS", UTC) instead of one post per alert."""

    def __init__(self, name: str, webhook_url: str, id: str | None = None,
                 notify_daily: bool = False, alert_id: str | None = None, *,
                 daily_notification_time: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 5.0, retries: int = 2,
                 backoff: float = 0.5) -> None:
        self.name = check_name(name, "Slack action name")
        super().__init__(webhook_url, headers, timeout, retries, backoff)
        self.webhook_url = self.url
        self.id = None if id is None else check_text(id, "Slack notification id")
        self.notify_daily = check_bool(notify_daily, "notify_daily")
        self.alert_id = None if alert_id is None else check_text(alert_id, "alert_id")
        self.daily_notification_time = check_daily_time(daily_notification_time)

    def update_trigger(self, alert_id: str) -> None:
        """Point the action at the stored alert it notifies about (Gantry's hook)."""
        self.alert_id = alert_id

    def payload(self, alert: Alert) -> dict[str, Any]:
        icon = ":white_check_mark:" if alert.status == "resolved" else ":rotating_light:"
        return {"text": f"{icon} {alert.describe()}"}

    def digest(self, alerts: list[Alert]) -> dict[str, Any]:
        lines = "\n".join(f"- {a.describe()}" for a in alerts)
        return {"text": f":calendar: {self.name}: {len(alerts)} alert(s) since the last "
                        f"digest\n{lines}"}

    def to_dict(self) -> dict[str, Any]:
        """Gantry's serialized form, plus our delivery settings."""
        return {"type": "SendSlackMessage", "content": {
            "id": self.id, "name": self.name, "webhook_url": self.webhook_url,
            "alert_id": self.alert_id, "notify_daily": self.notify_daily,
            "daily_notification_time": self.daily_notification_time, "headers": self.headers,
            "timeout": self.timeout, "retries": self.retries, "backoff": self.backoff}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SendSlackMessage:
        """Rebuild from `to_dict()`'s ``content`` (Gantry's keys; ours optional)."""
        return cls(d["name"], d["webhook_url"], id=d.get("id"),
                   notify_daily=d.get("notify_daily", False), alert_id=d.get("alert_id"),
                   daily_notification_time=d.get("daily_notification_time"),
                   headers=d.get("headers"), timeout=d.get("timeout", 5.0),
                   retries=d.get("retries", 2), backoff=d.get("backoff", 0.5))


_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?")


def check_daily_time(value: object) -> str | None:
    """A daily notification time, "HH:MM" or "HH:MM:SS" (UTC), or None (midnight)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TIME.fullmatch(value):
        raise ValidationError(f"daily_notification_time must be a time of day such as "
                              f"'12:00:00' (UTC), got {value!r}")
    return value if value.count(":") == 2 else value + ":00"


def action_from_dict(data: Mapping[str, Any]) -> SendWebhook:
    """A stored action (`SendSlackMessage` or `SendWebhook`)."""
    content = data["content"]
    if data["type"] == "SendSlackMessage":
        return SendSlackMessage.from_dict(content)
    if data["type"] == "SendWebhook":
        return SendWebhook(content["url"], content.get("headers"), content.get("timeout", 5.0),
                           content.get("retries", 2), content.get("backoff", 0.5))
    raise ValidationError(f"unknown action type {data['type']!r} in a stored definition")
