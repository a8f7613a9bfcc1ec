"""Aggregation triggers: an aggregate over a trailing window leaves its bounds, an alert fires.

The scheduler evaluates every aggregation automation on each tick, over ``[now -
evaluation_window, now)``. When the value leaves ``[lower_bound, upper_bound]`` an alert
fires (once per breach) and the action runs: a curator curates that window, a Python
callable is called, or a webhook is posted. When the value returns, the alert resolves
(callables and webhooks hear about that too). Alerts live in the DuckDB file; the
automations live in the process that added them (their actions may be Python callables),
in the workspace's registry of automations (listed, got and stopped like any other).
"""

from __future__ import annotations

import json
import math
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import polars as pl

from .._db import run, storage_errors
from .._http import HttpError, post_json
from .._limits import check_int, check_number, check_span, check_text
from .._names import MAX_FIELD_LENGTH, check_name
from ..clock import to_utc
from ..errors import GantryLocalError, ValidationError, WebhookError
from ._in_process import in_process
from ._source import Records, check_workspace, field_kinds
from .quality import PAIRED, QUALITY_METRICS, metrics_over_time

if TYPE_CHECKING:
    from .._context import AppHandle as Application  # what monitoring uses of one
    from .._context import Context as Workspace  # the parts of a Workspace rooms use

__all__ = ["AGGREGATIONS", "AggregationTrigger", "Alert", "SendSlackMessage", "SendWebhook",
           "evaluate_monitor", "evaluate_monitors", "list_alerts"]

_SIMPLE = {"mean": "avg({c})", "min": "min({c})", "max": "max({c})", "sum": "sum({c})",
           "std": "stddev_samp({c})", "count": "count({c})",
           "percent_null": "avg(CAST({c} IS NULL AS DOUBLE))",
           "percent_true": "avg(CAST(CAST({c} AS DOUBLE) >= 0.5 AS DOUBLE))",
           "percent_false": "avg(CAST(CAST({c} AS DOUBLE) < 0.5 AS DOUBLE))"}
_NAN_LEFT_OUT = ("mean", "min", "max", "sum", "std", "percent_true", "percent_false")
_DRIFT = ("psi", "js", "ks", "wasserstein", "l1", "linf", "kl", "chi2")
AGGREGATIONS = tuple(sorted({*_SIMPLE, *QUALITY_METRICS, *_DRIFT}))


@dataclass(frozen=True)
class AggregationTrigger:
    """Fire when `aggregation` of `fields` over the trailing `evaluation_window` leaves
    ``[lower_bound, upper_bound]`` (either may be None).

    Aggregations: mean, min, max, sum, std, count, percent_null/true/false of one field
    (NaN is left out of all but count and percent_null, as in `summarize`);
    accuracy, precision, recall, f1, roc_auc, mse, mae, r2 of ``[output, feedback]``; and the
    drift distances psi, js, ks, wasserstein, l1, linf, kl, chi2 of one field, the window
    against the window before it.
    """

    name: str
    aggregation: str
    fields: Sequence[str]
    lower_bound: float | None
    upper_bound: float | None
    evaluation_window: timedelta
    tags: dict[str, str] | None = None

    def __post_init__(self) -> None:
        check_name(self.name, "trigger name")
        if not isinstance(self.aggregation, str) or self.aggregation not in AGGREGATIONS:
            raise ValidationError(f"unknown aggregation {self.aggregation!r}; known: "
                                  f"{', '.join(AGGREGATIONS)}")
        if not isinstance(self.fields, (list, tuple)) or not self.fields:
            raise ValidationError("fields must be a non-empty list of field names")
        for name in self.fields:
            if not isinstance(name, str) or not name or len(name) > MAX_FIELD_LENGTH:
                raise ValidationError(f"fields must be field names such as 'inputs.amount', "
                                      f"got {name!r}")
            check_text(name, "field name")
        wanted = 2 if self.aggregation in PAIRED else 1
        if len(self.fields) != wanted:
            shape = "[output, feedback]" if wanted == 2 else "[field]"
            raise ValidationError(f"{self.aggregation} takes fields={shape}, got "
                                  f"{list(self.fields)}")
        for attr in ("lower_bound", "upper_bound"):
            bound = getattr(self, attr)
            if bound is not None:
                object.__setattr__(self, attr, check_number(bound, attr, -_BIG, _BIG))
        if self.lower_bound is None and self.upper_bound is None:
            raise ValidationError("give a lower_bound, an upper_bound, or both")
        if self.lower_bound is not None and self.upper_bound is not None and \
                self.lower_bound > self.upper_bound:
            raise ValidationError(f"lower_bound {self.lower_bound:g} is above upper_bound "
                                  f"{self.upper_bound:g}")
        check_span(self.evaluation_window, "evaluation_window")
        object.__setattr__(self, "fields", list(self.fields))
        object.__setattr__(self, "tags", _check_tags(self.tags))

    def check_fields(self, workspace: Workspace, application: str) -> None:
        """Unknown fields and tags, or fields of the wrong kind, fail when the automation is
        added, not at 3 a.m.; then the trigger is measured once, so the tick cannot fail."""
        kinds = field_kinds(workspace, application)
        for name in self.fields:
            if name not in kinds:
                raise ValidationError(f"trigger {self.name!r}: unknown field {name!r}; known "
                                      f"fields: {', '.join(kinds) or 'none yet'}")
            wanted = _NEEDS.get(self.aggregation)
            if wanted is not None and kinds[name] not in wanted:
                raise ValidationError(f"trigger {self.name!r}: {self.aggregation} needs "
                                      f"{' or '.join(wanted)} fields; {name!r} is a {kinds[name]}")
        logged = workspace._app_state(application).schema.snapshot("records")
        known_tags = sorted(n[len("tags."):] for n in logged if n.startswith("tags."))
        for tag in self.tags or {}:
            if tag not in known_tags:
                raise ValidationError(f"trigger {self.name!r}: unknown tag {tag!r}; known tags: "
                                      f"{', '.join(known_tags) or 'none yet'}")
        try:
            measure(workspace, application, self, workspace.clock.now())
        except GantryLocalError as exc:
            raise ValidationError(f"trigger {self.name!r} cannot be evaluated on "
                                  f"{application!r}: {exc}") from exc

    def outside(self, value: float | None) -> bool:
        if value is None or math.isnan(value):
            return False  # no data in the window: nothing to judge
        return (self.lower_bound is not None and value < self.lower_bound) or (
            self.upper_bound is not None and value > self.upper_bound)


_BIG = 1e300  # bounds are stored as DOUBLE and sent as JSON: finite, with room to spare
_NEEDS = {**dict.fromkeys(("mean", "min", "max", "sum", "std"), ("number",)),
          **dict.fromkeys(("percent_true", "percent_false"), ("number", "bool"))}


def _check_tags(tags: object) -> dict[str, str] | None:
    if tags is None:
        return None
    if not isinstance(tags, Mapping):
        raise ValidationError(f"tags must be a dict of tag name to string value, e.g. "
                              f"{{'env': 'prod'}}, got {type(tags).__name__}")
    for key, value in tags.items():
        check_text(key, "tag name")
        if not isinstance(value, str):
            raise ValidationError(f"tag {key!r} must be matched against a string, got "
                                  f"{value!r}")
        check_text(value, f"tag {key!r} value", empty=True)
    return dict(tags)


@dataclass(frozen=True)
class Alert:
    """One breach: fired when the value left the bounds, resolved when it came back."""

    id: str
    automation: str
    application: str
    aggregation: str
    fields: list[str]
    lower_bound: float | None
    upper_bound: float | None
    value: float | None
    window_start: datetime
    window_end: datetime
    fired_at: datetime
    resolved_at: datetime | None = None
    resolved_value: float | None = None
    status: str = "fired"

    def describe(self) -> str:
        bounds = f"[{_show(self.lower_bound)}, {_show(self.upper_bound)}]"
        if self.status == "resolved":
            return (f"resolved: {self.aggregation} of {', '.join(self.fields)} in "
                    f"{self.application!r} is back in {bounds} ({_show(self.resolved_value)})")
        return (f"alert {self.automation}: {self.aggregation} of {', '.join(self.fields)} in "
                f"{self.application!r} is {_show(self.value)}, outside {bounds}, over "
                f"{self.window_start:%Y-%m-%d %H:%M} to {self.window_end:%Y-%m-%d %H:%M}")


def _show(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


class SendWebhook:
    """POST the alert as JSON to `url` (on fire and on resolve), with a timeout and retries."""

    def __init__(self, url: str, headers: dict[str, str] | None = None, timeout: float = 5.0,
                 retries: int = 2, backoff: float = 0.5) -> None:
        self.url = _check_url(url)
        self.headers = _check_headers(headers)
        self.timeout = check_number(timeout, "webhook timeout (seconds)", 0.001, 300)
        self.retries = check_int(retries, "webhook retries", 0, 10)
        self.backoff = check_number(backoff, "webhook backoff (seconds)", 0, 60)

    def payload(self, alert: Alert) -> dict[str, Any]:
        body = asdict(alert)
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in body.items()} | {
            "message": alert.describe()}

    def __call__(self, alert: Alert) -> None:
        data = json.dumps(self.payload(alert)).encode()
        for attempt in range(self.retries + 1):
            try:
                post_json(self.url, data, self.headers, self.timeout)
                return
            except HttpError as exc:
                if attempt == self.retries:
                    raise WebhookError(f"webhook {self.url} failed after {attempt + 1} "
                                       f"attempts: {exc}") from exc
                time.sleep(self.backoff * 2 ** attempt)


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
    """Post the alert to a Slack incoming webhook as a readable message."""

    def __init__(self, name: str, webhook_url: str, headers: dict[str, str] | None = None,
                 timeout: float = 5.0, retries: int = 2, backoff: float = 0.5) -> None:
        self.name = check_name(name, "Slack action name")
        super().__init__(webhook_url, headers, timeout, retries, backoff)

    def payload(self, alert: Alert) -> dict[str, Any]:
        icon = ":white_check_mark:" if alert.status == "resolved" else ":rotating_light:"
        return {"text": f"{icon} {alert.describe()}"}


@runtime_checkable
class _CuratorAction(Protocol):
    """A curator as an alert's action (`Curator`): it curates the alert's window."""

    def curate(self, workspace: Workspace, start: datetime, end: datetime) -> object:
        """Curate ``[start, end)`` into the curator's dataset."""


def check_action(action: object) -> None:
    if not (isinstance(action, (_CuratorAction, SendWebhook)) or callable(action)):
        raise ValidationError(f"an aggregation trigger's action must be a curator, a callable "
                              f"or SendWebhook/SendSlackMessage, got {type(action).__name__}")


def measure(ws: Workspace, application: str, trigger: AggregationTrigger, now: datetime
            ) -> float | None:
    """The trigger's aggregate over ``[now - window, now)`` (None when there is no data)."""
    start = now - trigger.evaluation_window
    agg, fields = trigger.aggregation, trigger.fields
    if agg in _SIMPLE:
        records = Records.of(ws, application, start, now, tags=trigger.tags)
        col = records.column(fields[0])
        if agg in _NAN_LEFT_OUT:  # as in summarize: NaN is no value (count it with count)
            col = f"(CASE WHEN isnan(CAST({col} AS DOUBLE)) THEN NULL ELSE {col} END)"
        with ws.database.cursor() as con, storage_errors(f"evaluating trigger {trigger.name!r}"):
            row = con.sql(f"SELECT count(*), {_SIMPLE[agg].format(c=col)} FROM ({records.sql})",
                          params=records.params).fetchall()[0]
        return None if row[0] == 0 or row[1] is None else float(row[1])
    if agg in QUALITY_METRICS:
        output, feedback = fields
        table = metrics_over_time(ws, application, [agg], output, feedback,
                                  trigger.evaluation_window, start, now, tags=trigger.tags)
        value = table[agg][0] if table.height else None
        return None if value is None else float(value)
    from .drift import drift

    try:
        table = drift(ws, application, (start - trigger.evaluation_window, start), (start, now),
                      fields)
    except ValidationError:  # a window without rows
        return None
    value = table[agg][0]
    return None if value is None else float(value)


def evaluate_monitors(ws: Workspace, now: datetime) -> list[Alert]:
    """Every running aggregation automation of the workspace, in turn; alerts fired or
    resolved. (The scheduler calls `evaluate_monitor` for each, so one failure stays its own.)"""
    check_workspace(ws)
    changes = []
    for name, (application, automation) in sorted(in_process(ws.database).items()):
        if isinstance(automation.trigger, AggregationTrigger) and not automation.stopped and \
                application is not None:
            change = evaluate_monitor(ws, name, application, automation, now)
            if change is not None:
                changes.append(change)
    return changes


def evaluate_monitor(ws: Workspace, name: str, application: str, automation: Any,
                     now: datetime) -> Alert | None:
    """One aggregation automation at `now`: the alert it fired or resolved, if any."""
    check_workspace(ws)
    trigger = automation.trigger
    ws._app_state(application)  # a deleted application: NotFoundError, not a missing table
    value = measure(ws, application, trigger, now)
    open_alert = _open_alert(ws, name)
    if trigger.outside(value) and open_alert is None:
        alert = Alert(uuid.uuid4().hex[:12], name, application, trigger.aggregation,
                      list(trigger.fields), trigger.lower_bound, trigger.upper_bound, value,
                      now - trigger.evaluation_window, now, now)
        error = _act(ws, automation.action, alert, fire=True)
        _store(ws, alert, error)
        return alert
    if open_alert is not None and value is not None and not trigger.outside(value):
        resolved = Alert(**{**asdict(open_alert), "resolved_at": now,
                            "resolved_value": value, "status": "resolved"})
        error = _act(ws, automation.action, resolved, fire=False)
        with ws.database.cursor() as con, storage_errors("resolving an alert"):
            run(con, "UPDATE _gl_alerts SET resolved_at = ?, resolved_value = ?, action_error "
                "= coalesce(?, action_error) WHERE id = ?", [now, value, error, open_alert.id])
        return resolved
    return None


def _act(ws: Workspace, action: Any, alert: Alert, fire: bool) -> str | None:
    """Run the action; its failure is recorded on the alert, never raised into the tick."""
    try:
        if isinstance(action, _CuratorAction):
            if fire:
                action.curate(ws, alert.window_start, alert.window_end)
        else:
            action(alert)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: the alert stands; the error is kept beside it
        return f"{type(exc).__name__}: {exc}"
    return None


def _store(ws: Workspace, alert: Alert, error: str | None) -> None:
    with ws.database.cursor() as con, storage_errors("recording an alert"):
        run(con, "INSERT INTO _gl_alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [alert.id, alert.automation, alert.application, alert.aggregation,
             json.dumps(alert.fields), alert.lower_bound, alert.upper_bound, alert.value,
             alert.window_start, alert.window_end, alert.fired_at, None, None, error])


_COLUMNS = ("id, automation, application, aggregation, fields, lower_bound, upper_bound, value, "
            "window_start, window_end, fired_at, resolved_at, resolved_value")


def _open_alert(ws: Workspace, automation: str) -> Alert | None:
    with ws.database.cursor() as con, storage_errors("reading alerts"):
        rows = run(con, f"SELECT {_COLUMNS} FROM _gl_alerts WHERE automation = ? AND "
                   "resolved_at IS NULL ORDER BY fired_at DESC LIMIT 1", [automation])
    return _alert(rows[0]) if rows else None


def _alert(row: Sequence[Any]) -> Alert:
    values = list(row)
    values[4] = json.loads(values[4])
    for i in (8, 9, 10, 11):
        values[i] = None if values[i] is None else to_utc(values[i])
    values.append("resolved" if values[11] is not None else "fired")
    return Alert(*values)


def list_alerts(ws: Workspace, application: str | None = None) -> pl.DataFrame:
    """Every alert (of one application if given), newest first, with any action error."""
    check_workspace(ws)
    with ws.database.cursor() as con, storage_errors("listing alerts"):
        table = con.sql(f"SELECT {_COLUMNS}, action_error, CASE WHEN resolved_at IS NULL THEN "
                        "'fired' ELSE 'resolved' END AS status FROM _gl_alerts WHERE ? IS NULL "
                        "OR application = ? ORDER BY fired_at DESC, id",
                        params=[application, application]).to_arrow_table()
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def check_monitor(application: Application, automation: Any) -> None:
    """Check an aggregation automation against the application it is added to."""
    automation.trigger.check_fields(application.workspace, application.name)
    check_action(automation.action)
