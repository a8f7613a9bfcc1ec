"""Automations: a trigger and an action (Gantry's ``gantry.automations.automations``).

Four kinds, in one registry (names unique across kinds):
- ``"curator"``: an `IntervalTrigger` with a curator; stored in the DuckDB file.
- ``"alert"``: an `AggregationTrigger` / `QueriesAggregationTrigger` with `SendSlackMessage`
  or `SendWebhook`; stored as an alert (`gantry_local.alerts`) with its notification, so any
  process runs it and a restart keeps it.
- ``"monitor"``: an aggregation trigger with a Python callable or a curator; lives in the
  process that added it (its alerts are stored).
- ``"suite"``: a `DatasetVersionTrigger` with a test suite; lives in the process too.

Adding an automation whose definition equals the stored one is a no-op, so start-up code can
run again after a restart; a different definition under the same name is an error saying
how to change it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .._context import narrow
from .._names import check_name
from ..errors import AlreadyExistsError, NotFoundError, ValidationError
from . import _alert_store as store
from ._aggregation import AggregationTrigger, QueriesAggregationTrigger
from .actions import SendSlackMessage, SendWebhook, action_from_dict
from .curators import Curator
from .curators._definitions import curator_to_json
from .curators.curators import CuratorRegistry
from .triggers import DatasetVersionTrigger, IntervalTrigger

if TYPE_CHECKING:
    from .._context import AppHandle as Application  # what automations use of one
    from .._context import Context

__all__ = ["Automation", "add_automation", "get_automation", "list_automations"]

_AGGREGATION = (AggregationTrigger, QueriesAggregationTrigger)


class Automation:
    """Run `action` when `trigger` says (Gantry's arguments; `api_client` is accepted and
    unused, `application` is set when it is added).

    Raises:
        ValidationError: a bad name, or a trigger and action that do not go together, at
            definition time.
    """

    def __init__(self, name: str, trigger: Any, action: Any, api_client: Any = None,
                 application: str | None = None) -> None:
        from ..evaluation.suites import Suite
        from ._monitors import check_action

        self.name = check_name(name, "automation name")
        if isinstance(trigger, _AGGREGATION):
            check_action(action)
        elif isinstance(trigger, DatasetVersionTrigger):
            if not isinstance(action, Suite):
                raise ValidationError(f"a DatasetVersionTrigger runs a test suite, got "
                                      f"{type(action).__name__}")
        elif isinstance(trigger, IntervalTrigger):
            if not isinstance(action, Curator):
                raise ValidationError(f"an IntervalTrigger's action must be a curator, got "
                                      f"{type(action).__name__}")
        else:
            raise ValidationError(f"trigger must be an IntervalTrigger, an AggregationTrigger, a "
                                  f"QueriesAggregationTrigger or a DatasetVersionTrigger, got "
                                  f"{type(trigger).__name__}")
        self.trigger = trigger
        self.action = action
        self.application = application if application is None else \
            check_name(application, "application name")
        self._stopped = False
        self._workspace: Context | None = None

    def __repr__(self) -> str:
        return f"Automation(name={self.name!r}, kind={self.kind!r}, action={self.action!r})"

    @property
    def application_name(self) -> str | None:
        """The application it was added to (Gantry's attribute is `application`)."""
        return self.application

    @application_name.setter
    def application_name(self, value: str | None) -> None:
        self.application = value

    @property
    def kind(self) -> str:
        """``"curator"``, ``"alert"``, ``"monitor"`` or ``"suite"``."""
        if isinstance(self.trigger, IntervalTrigger):
            return "curator"
        if isinstance(self.trigger, DatasetVersionTrigger):
            return "suite"
        return "alert" if isinstance(self.action, SendWebhook) else "monitor"

    @property
    def stopped(self) -> bool:
        """Whether it no longer runs (a curator automation: its curator is disabled)."""
        if self.kind == "curator" and self.action._context is not None:
            return not self.action.enabled
        if self.kind == "alert" and self._workspace is not None:
            row = store.get_automation_row(self._workspace, self.name)
            return row is None or row.stopped
        return self._stopped

    def stop(self) -> None:
        """Stop running it: a curator is disabled (its dataset and runs stay); an alert is
        deleted with its notifications (alerts it fired stay listed); a monitor no longer
        fires or resolves alerts; a suite no longer runs. It stays listed, as stopped."""
        if self.kind == "curator":
            if self.action._context is not None:
                self.action.disable()
            return
        if self.kind == "alert" and self._workspace is not None:
            store.stop_automation(self._workspace, self.name)
        self._stopped = True

    def to_dict(self) -> dict[str, Any]:
        """Gantry's shape: name, application_name, trigger and action as ``{type, content}``;
        plus ours: kind and stopped."""
        return {"name": self.name, "application_name": self.application,
                "trigger": _trigger_dict(self.trigger), "action": _action_dict(self.action),
                "kind": self.kind, "stopped": self.stopped}

    def _definition(self) -> dict[str, Any]:
        """What makes two automations the same (for re-adding after a restart)."""
        body = self.to_dict()
        del body["stopped"], body["application_name"]
        action = body["action"]
        if action["type"] == "SendSlackMessage":  # set when stored, not part of the definition
            action["content"] = {k: v for k, v in action["content"].items()
                                 if k not in ("id", "alert_id")}
        return json.loads(json.dumps(body, sort_keys=True, default=str))  # type: ignore[no-any-return]


def _trigger_dict(trigger: Any) -> dict[str, Any]:
    if isinstance(trigger, IntervalTrigger):
        return {"type": "IntervalTrigger", "content": {
            "start_on": trigger.start_on.isoformat(), "interval": str(trigger.interval),
            "delay": str(trigger.delay)}}
    if isinstance(trigger, DatasetVersionTrigger):
        return {"type": "DatasetVersionTrigger", "content": {"dataset": trigger.dataset}}
    return trigger.to_dict()  # type: ignore[no-any-return]


def _action_dict(action: Any) -> dict[str, Any]:
    if isinstance(action, Curator):
        return {"type": "curator", "content": {"curator_name": action.name,
                                               "curated_dataset": action.curated_dataset_name}}
    if isinstance(action, SendWebhook):
        return action.to_dict()  # type: ignore[no-any-return]
    from ..evaluation.suites import Suite

    if isinstance(action, Suite):
        return {"type": "suite", "content": {"name": action.name, "dataset": action.dataset}}
    qualname = getattr(action, "__qualname__", type(action).__qualname__)
    name = f"{getattr(action, '__module__', '?')}.{qualname}"
    return {"type": "callable", "content": {"name": name}}


def _in_process(workspace: Context) -> dict[str, tuple[str | None, Automation]]:
    """The workspace's in-process automations (monitors and suites): name -> (app, automation)."""
    from ._in_process import in_process

    return in_process(workspace.database)


def _differs(name: str, held: str, hint: str) -> AlreadyExistsError:
    return AlreadyExistsError(
        f"automation {name!r} already exists ({held}) with a different definition; {hint}, or "
        "choose another name. Adding the same definition again is a no-op")


_STOP_HINT = ("to change it, stop it first (application.get_automation(automation_name={n!r})"
              ".stop()) and add the new one")


def _existing(workspace: Context, automation: Automation) -> Automation | None:
    """The automation already added under this name if its definition is the same (None if
    the name is free or held by a stopped monitor, suite or alert).

    Raises:
        AlreadyExistsError: the name is taken by a different definition, saying how to change it.
    """
    name = automation.name
    wanted = automation._definition()
    held = _in_process(workspace).get(name)
    if held is not None and not held[1].stopped:
        if held[1]._definition() == wanted and held[0] == automation.application:
            return held[1]
        raise _differs(name, f"a {held[1].kind}", _STOP_HINT.format(n=name))
    row = store.get_automation_row(workspace, name)
    if row is not None and not row.stopped:
        if _stored_definition(row) == wanted and row.application == automation.application:
            return _from_row(workspace, row)
        raise _differs(name, "an alert", _STOP_HINT.format(n=name))
    registry = CuratorRegistry(workspace)
    if registry.automation_taken(name):
        current = next(c for c in registry.list() if c.automation_name == name)
        if automation.kind == "curator" and _same_curator(current, automation):
            return _curator_automation(current)
        raise _differs(name, f"curator {current.name!r}",
                       f"to change it, use get_curator({current.name!r}).update(...) (interval, "
                       f"selectors, name) or delete it (get_curator({current.name!r}).delete()) "
                       "and add the new one")
    return None


def _same_curator(current: Curator, automation: Automation) -> bool:
    def definition(curator: Curator) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(curator_to_json(curator))
        body["type"] = curator.kind  # a stored curator is rebuilt as a plain Curator
        return body

    return definition(current) == definition(_with_schedule(automation))


def _with_schedule(automation: Automation) -> Curator:
    import copy

    curator = copy.copy(automation.action)
    curator.start_on = automation.trigger.start_on
    curator.curation_interval = automation.trigger.interval
    curator.curation_delay = automation.trigger.delay
    return curator  # type: ignore[no-any-return]


def register(workspace: Context, application: str | None, automation: Automation) -> None:
    """Add a monitor or a suite to the workspace's in-process registry (a stopped one of the
    same name is replaced; the same definition again is a no-op)."""
    automation.application = application
    if _existing(workspace, automation) is not None:
        return
    automation._stopped = False
    _in_process(workspace)[automation.name] = (application, automation)


def add_automation(application: Application, automation: Automation) -> Automation:
    """Add an automation of any kind to `application` (`Application.add_automation` then
    starts the background scheduler loop). Returns the automation now registered: the one
    passed, or the one already there when its definition is the same (a no-op).

    Raises:
        ValidationError: not an Automation, or it does not fit the application.
        AlreadyExistsError: the name is taken by a different definition (saying how to
            change it).
    """
    if not isinstance(automation, Automation):
        raise ValidationError(f"add_automation takes an Automation, got "
                              f"{type(automation).__name__}")
    return _add(application, narrow(application.workspace), automation)


def _add(application: Application, workspace: Context, automation: Automation) -> Automation:
    if automation.kind in ("monitor", "alert"):
        from ._monitors import check_monitor

        check_monitor(workspace, application.name, automation)
    if automation.kind == "suite":
        owner = _dataset_application(workspace, automation.trigger.dataset)
        if owner not in (None, application.name):
            raise ValidationError(f"dataset {automation.trigger.dataset!r} belongs to "
                                  f"application {owner!r}, not {application.name!r}")
    if automation.kind == "curator" and automation.action.application_name != application.name:
        raise ValidationError(f"the curator curates {automation.action.application_name!r}, not "
                              f"{application.name!r}")
    automation.application = application.name
    same = _existing(workspace, automation)
    if same is not None:
        if automation.kind == "curator":
            automation.action._refresh(CuratorRegistry(workspace))
        automation._workspace = workspace
        return same
    if automation.kind == "alert":
        _store_alert(workspace, application.name, automation)
    elif automation.kind == "curator":
        curator = _with_schedule(automation)
        registry = CuratorRegistry(workspace)
        registry.create(curator, True, automation.name)
        automation.action.start_on, automation.action.curation_interval, \
            automation.action.curation_delay = (curator.start_on, curator.curation_interval,
                                                curator.curation_delay)
        automation.action._refresh(registry)
    else:
        register(workspace, application.name, automation)
    automation._workspace = workspace
    return automation


def _store_alert(workspace: Context, application: str, automation: Automation) -> None:
    """Gantry's flow: the trigger becomes a stored alert, the action its notification."""
    action = automation.action
    alert_id = store.new_id()
    store.save_alert(workspace, alert_id, automation.trigger.name, application,
                     [automation.trigger], automation.name)
    notify_daily = bool(getattr(action, "notify_daily", False))
    notification_id = store.new_id()
    store.save_notification(workspace, notification_id, alert_id,
                            getattr(action, "name", automation.name), action, notify_daily,
                            getattr(action, "daily_notification_time", None))
    if isinstance(action, SendSlackMessage):
        action.update_trigger(alert_id)
        action.id = notification_id
    store.save_automation(workspace, automation.name, application, automation._definition(),
                          alert_id)


def _stored_definition(row: store.StoredAutomation) -> dict[str, Any]:
    return row.definition


def _from_row(workspace: Context, row: store.StoredAutomation) -> Automation:
    trigger = store.trigger_from_dict(row.definition["trigger"])
    action = action_from_dict(row.definition["action"])
    if isinstance(action, SendSlackMessage):
        notifications = store.list_notifications(workspace, row.alert_id) if row.alert_id else []
        action.alert_id = row.alert_id
        action.id = notifications[0].id if notifications else None
    automation = Automation(row.name, trigger, action, application=row.application)
    automation._workspace = workspace
    automation._stopped = row.stopped
    return automation


def _curator_automation(curator: Curator) -> Automation:
    start = curator.start_on or curator.first_interval_start
    assert start is not None
    trigger = IntervalTrigger(start, curator.curation_interval, curator.curation_delay)
    assert curator.automation_name is not None
    automation = Automation(curator.automation_name, trigger, curator,
                            application=curator.application_name)
    automation._workspace = curator._context
    return automation


def _dataset_application(workspace: Context, dataset: str) -> str | None:
    try:
        owner = workspace.datasets.get_dataset(dataset).app_name
    except NotFoundError:
        return None
    return owner if isinstance(owner, str) else None


def automations_of(application: Application) -> list[Automation]:
    """The application's automations of every kind (stopped ones too), by name."""
    workspace = narrow(application.workspace)
    out = [_curator_automation(c) for c in CuratorRegistry(workspace).list(application.name)
           if c.automation_name is not None]
    out += [_from_row(workspace, row) for row in store.list_automation_rows(workspace,
                                                                            application.name)]
    held = _in_process(workspace)
    for name, (app, automation) in list(held.items()):
        if app is None and automation.kind == "suite":  # its dataset may exist by now
            app = _dataset_application(workspace, automation.trigger.dataset)
            if app is not None:
                automation.application = app
                held[name] = (app, automation)
        if app == application.name:
            out.append(automation)
    return sorted(out, key=lambda a: a.name)


def list_automations(application: Application) -> list[dict[str, Any]]:
    """The application's automations of every kind (stopped ones too), by name, in Gantry's
    shape: dicts with ``name``, ``application_name``, ``trigger`` and ``action`` (each
    ``{"type", "content"}``), plus ``kind`` and ``stopped``."""
    return [a.to_dict() for a in automations_of(application)]


def get_automation(application: Application, automation_name: str | None = None) -> Automation:
    """One automation of the application, of any kind, as an `Automation`.

    Raises:
        NotFoundError: the application has no automation of that name.
    """
    if not isinstance(automation_name, str):
        raise ValidationError(f"automation_name must be an automation's name, got "
                              f"{automation_name!r}")
    for automation in automations_of(application):
        if automation.name == automation_name:
            return automation
    raise NotFoundError(f"application {application.name!r} has no automation "
                        f"{automation_name!r}; list_automations() lists them")
